"""A drill lock held through tooz, OpenStack's coordination library: ``GET_LOCK`` on MySQL or
MariaDB (the server releases it when the holder's connection dies), a lease on etcd or Redis
(renewed by tooz's heartbeat while the holder lives), an ``fcntl`` lock with the ``file://``
driver (which the unit tests use for a session-bound backend).

On MySQL a connection that dies without closing (the drill host lost or hung, a partition
between it and the database, a load balancer's backend connection cut) stays open on the
server until its ``wait_timeout``, 8 hours by default, and holds the lock all that time. The
holder's lock session therefore gets ``wait_timeout = LOST_HOLDER_SECONDS``, and a keepalive
pings it every ``KEEPALIVE_SECONDS`` while the lock is held: a holder that falls silent frees
the lock within ``LOST_HOLDER_SECONDS``. The pings also keep a proxy in front of the database
(HAProxy's client and server timeouts) from closing the idle connection."""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from stackdrill.engine.lock_holder import Holder, LockError, LockUnreachable

__all__ = ["KEEPALIVE_SECONDS", "LOST_HOLDER_SECONDS", "SessionKeepalive", "ToozBackend"]

#: Seconds MySQL keeps the lock of a holder it no longer hears from (its session's
#: ``wait_timeout``).
LOST_HOLDER_SECONDS = 60
#: How often a live holder pings its lock's connection.
KEEPALIVE_SECONDS = 15.0


class SessionKeepalive:
    """Pings a DB-API connection (PyMySQL's ``ping``) every ``interval`` seconds from a daemon
    thread, until :meth:`stop`. ``mutex`` is held around each ping; hold it too around any
    other use of the connection. A ping that fails ends the pings: the connection is gone, and
    the lock with it, which :meth:`ToozBackend.alive` finds before the next scenario."""

    def __init__(self, connection: Any, interval: float, mutex: threading.Lock) -> None:
        self.connection = connection
        self.interval = interval
        self.mutex = mutex
        self.pings = 0
        self.failure: str | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stackdrill-lock-keepalive",
                                        daemon=True)

    def start(self) -> SessionKeepalive:
        self._thread.start()
        return self

    def _run(self) -> None:
        from pymysql.err import Error

        while not self._stopped.wait(self.interval):
            with self.mutex:
                if self._stopped.is_set():
                    return
                try:
                    self.connection.ping(reconnect=False)
                except (Error, OSError) as exc:  # the connection is gone
                    self.failure = " ".join(str(exc).split()) or type(exc).__name__
                    return
                self.pings += 1

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 5)


class ToozBackend:
    """A tooz lock: ``GET_LOCK`` on MySQL, a lease on etcd or Redis, ``fcntl`` with the
    ``file://`` driver. ``owner`` (MySQL) says which connection holds the lock now, and tells
    the holder's record from an older one."""

    def __init__(self, url: str | Callable[[], str], key: str, where: str,
                 owner: Callable[[], str | None] | None = None) -> None:
        self.url = url
        self.key = key
        self.where = where
        self.seen: Holder | None = None
        self._owner = owner
        self._secret = ""
        self._mine: str | None = None
        self._coordinator: Any = None
        self._lock: Any = None
        self._mutex = threading.Lock()
        self._keepalive: SessionKeepalive | None = None

    def _error(self, exc: BaseException) -> LockError:
        text = " ".join(str(exc).split()) or type(exc).__name__
        if self._secret:
            text = text.replace(self._secret, "***")
        kind = LockUnreachable if _unreachable(exc) else LockError
        return kind(f"{self.where}: cannot take the lock: {text}")

    def _url(self) -> str:
        url = self.url() if callable(self.url) else self.url
        self._secret = urlsplit(url).password or ""
        return url

    def take(self, holder: Holder) -> bool:
        import tooz
        from stevedore.exception import NoMatches
        from tooz import coordination

        member = f"{holder.host}-{holder.pid}".encode()
        url = self._url()
        with warnings.catch_warnings():  # tooz's MySQL driver passes PyMySQL's old 'passwd'
            warnings.filterwarnings("ignore", "'passwd' is deprecated", DeprecationWarning)
            try:
                coordinator = coordination.get_coordinator(url, member)
                if not url.startswith("mysql"):  # MySQL's locks open their own connection
                    coordinator.start(start_heart=True)
            except (tooz.ToozError, NoMatches, ImportError, OSError) as exc:
                raise self._error(exc) from None
            try:
                lock = coordinator.get_lock(self.key.encode())
                taken = bool(lock.acquire(blocking=False))
            except (tooz.ToozError, OSError) as exc:
                _stop(coordinator)
                raise self._error(exc) from None
        if not taken:
            _stop(coordinator)
            return False
        self._coordinator, self._lock = coordinator, lock
        if url.startswith("mysql"):
            self._bound_session(lock)
        self._mine = self.owner()
        return True

    def _bound_session(self, lock: Any) -> None:
        """The held lock's session: freed by the server within ``LOST_HOLDER_SECONDS`` of the
        holder falling silent, pinged meanwhile. tooz's MySQL lock keeps its PyMySQL connection
        as ``_conn``; a lock without one is left as tooz made it."""
        from pymysql.err import Error

        connection = getattr(lock, "_conn", None)
        if connection is None:
            return
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SET SESSION wait_timeout = {LOST_HOLDER_SECONDS}")
        except (Error, OSError) as exc:
            self.give_back()
            raise self._error(exc) from None
        self._keepalive = SessionKeepalive(connection, KEEPALIVE_SECONDS, self._mutex).start()

    def owner(self) -> str | None:
        """Who holds the lock now, as the backend names it (MySQL's connection id); None when
        it is free, or the backend cannot say."""
        try:
            return self._owner() if self._owner is not None else None
        except LockError:
            return None

    def alive(self) -> bool:
        """Whether this run still holds the lock: asked of MySQL (its connection dies with the
        server); a lease is renewed by tooz's heartbeat. A server that cannot be asked now (a
        drill stopped it) is asked again before the next scenario."""
        if self._lock is None:
            return False
        if self._owner is None or self._mine is None:
            return True
        try:
            return self._owner() == self._mine
        except LockError:
            return True

    def give_back(self) -> None:
        import tooz

        keepalive, self._keepalive = self._keepalive, None
        if keepalive is not None:
            keepalive.stop()
        lock, self._lock = self._lock, None
        coordinator, self._coordinator = self._coordinator, None
        try:
            if lock is not None:
                with warnings.catch_warnings(), self._mutex:
                    # tooz's MySQL driver passes PyMySQL a single argument, which PyMySQL 1.1
                    # deprecates; not this run's to act on
                    warnings.filterwarnings("ignore", "single argument is deprecated",
                                            DeprecationWarning)
                    lock.release()
        except (tooz.ToozError, OSError):
            pass  # the lock dies with its connection, closed next
        if coordinator is not None:
            _stop(coordinator)


def _stop(coordinator: Any) -> None:
    import tooz

    with contextlib.suppress(tooz.ToozError, OSError):
        coordinator.stop()


#: PyMySQL's client errors for a server that cannot be reached or went away: cannot connect
#: (2002, 2003), server gone (2006), connection lost (2013).
_MYSQL_UNREACHABLE = frozenset({2002, 2003, 2006, 2013})


def _unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the backend could not be reached at all."""
    from tooz.coordination import ToozConnectionError

    cause = exc.__cause__ or getattr(exc, "cause", None)
    if isinstance(exc, (ToozConnectionError, OSError)) or isinstance(cause, OSError):
        return True
    code = getattr(cause, "args", (None,))[:1]
    return bool(code) and code[0] in _MYSQL_UNREACHABLE
