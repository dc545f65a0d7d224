"""The MySQL lock's keepalive: it pings the lock's connection while the lock is held, stops when
asked, and ends on a ping that fails (the connection, and the lock with it, are gone)."""

from __future__ import annotations

import threading

import pymysql

from stackdrill.core.waiting import poll_until
from stackdrill.engine.tooz_lock import SessionKeepalive


class FakeConnection:
    def __init__(self, fail_after: int | None = None) -> None:
        self.pings = 0
        self.fail_after = fail_after

    def ping(self, reconnect: bool = True) -> None:
        assert reconnect is False  # a reconnected session would not hold the lock
        if self.fail_after is not None and self.pings >= self.fail_after:
            raise pymysql.err.OperationalError(2013, "Lost connection to MySQL server")
        self.pings += 1


def test_the_connection_is_pinged_until_the_keepalive_stops() -> None:
    connection = FakeConnection()
    keepalive = SessionKeepalive(connection, 0.05, threading.Lock()).start()
    poll_until(lambda: connection.pings >= 3, timeout=10, interval=0.05,
               description="three pings")
    keepalive.stop()
    stopped_at = connection.pings
    assert keepalive.failure is None
    assert not keepalive._thread.is_alive()
    assert connection.pings == stopped_at


def test_a_failed_ping_ends_the_keepalive_and_says_why() -> None:
    connection = FakeConnection(fail_after=2)
    keepalive = SessionKeepalive(connection, 0.05, threading.Lock()).start()
    poll_until(lambda: not keepalive._thread.is_alive(), timeout=10, interval=0.05,
               description="the keepalive ended")
    assert connection.pings == 2
    assert keepalive.failure is not None
    assert "Lost connection to MySQL server" in keepalive.failure
    keepalive.stop()


def test_no_ping_while_the_mutex_is_held() -> None:
    connection = FakeConnection()
    mutex = threading.Lock()
    with mutex:
        keepalive = SessionKeepalive(connection, 0.02, mutex).start()
        stalled = threading.Event()
        stalled.wait(0.2)
        assert connection.pings == 0
    poll_until(lambda: connection.pings >= 1, timeout=10, interval=0.05,
               description="a ping once the mutex is free")
    keepalive.stop()
