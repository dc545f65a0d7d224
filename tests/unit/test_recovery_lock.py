"""``recover --pending`` when the drill lock lives on the cloud's database and the database does
not answer: the fault a killed run left pending may be what stopped it. The lock is then free
(the server frees a ``GET_LOCK`` with its connection), and this machine's dead runs' entries are
undone under this machine's lock file; anything else still needs the cloud's lock."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pymysql
import pytest
import tooz

from stackdrill.engine import recover
from stackdrill.engine.cloud_lock import CloudLock
from stackdrill.engine.journal import Journal
from stackdrill.engine.lock import DrillLock
from stackdrill.engine.lock_holder import LockError, LockHeld, LockUnreachable
from stackdrill.engine.tooz_lock import ToozBackend, _unreachable
from stackdrill.inventory.model import Inventory
from tests.unit.test_cloud_lock import inventory as cloud_inventory

DEAD_PID = 999999999  # no process has it


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed once the with ends: connections refused


def test_a_database_that_refuses_the_connection_is_unreachable() -> None:
    backend = ToozBackend(f"mysql://drills:pw@127.0.0.1:{closed_port()}/drills",
                          "stackdrill:prod-eu", "MySQL GET_LOCK on 127.0.0.1")
    with pytest.raises(LockUnreachable):
        CloudLock("prod-eu", backend).acquire()


def test_a_refused_login_is_not_unreachable() -> None:
    def raised(cause: BaseException) -> tooz.ToozError:
        try:
            raise tooz.ToozError(str(cause)) from cause
        except tooz.ToozError as exc:
            return exc

    assert not _unreachable(raised(pymysql.err.OperationalError(1045, "Access denied")))
    assert _unreachable(raised(pymysql.err.OperationalError(2003, "Can't connect")))
    assert _unreachable(raised(pymysql.err.OperationalError(2013, "Lost connection")))


class Unreachable:
    """The cloud's lock, its database down."""

    released = False

    def acquire(self) -> str | None:
        raise LockUnreachable("MySQL GET_LOCK('stackdrill:prod-eu') on the database of "
                              "controller: cannot take the lock: (2003, \"Can't connect\")")

    def release(self) -> None:
        self.released = True


def journal_with(path: Path, pid: int, host: str | None = None) -> Journal:
    journal = Journal(path, cloud="prod-eu")
    journal.arm("interrupt_db_sync", "controller", {}, {})
    text = path.read_text().replace(f'"pid":{os.getpid()}', f'"pid":{pid}')
    if host is not None:
        text = text.replace(f'"host":"{socket.gethostname()}"', f'"host":"{host}"')
    path.write_text(text)
    return Journal(path, cloud="prod-eu")


def mysql_inventory(tmp_path: Path) -> Inventory:
    return cloud_inventory(tmp_path, {"lock": "mysql"})


@pytest.fixture(autouse=True)
def database_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recover, "run_lock", lambda *args: Unreachable())


def test_this_machines_dead_run_is_undone_under_the_local_lock(tmp_path: Path) -> None:
    journal = journal_with(tmp_path / "journal.jsonl", DEAD_PID)
    lock, note, here_only = recover.recovery_lock(mysql_inventory(tmp_path), tmp_path, journal)
    try:
        assert isinstance(lock, DrillLock) and lock.held and here_only
        assert note is not None and note.startswith("MySQL GET_LOCK('stackdrill:prod-eu')")
        assert ("a lock on a database that does not answer is free, and this machine's dead "
                "runs left 1 entry pending: undoing them under this machine's lock") in note
    finally:
        lock.release()


@pytest.mark.parametrize("pid, host", [(os.getpid(), None), (DEAD_PID, "another-machine")],
                         ids=["a run still alive", "another machine's run"])
def test_nothing_but_this_machines_dead_runs_goes_without_the_cloud_lock(
        tmp_path: Path, pid: int, host: str | None) -> None:
    journal = journal_with(tmp_path / "journal.jsonl", pid, host)
    with pytest.raises(LockUnreachable):
        recover.recovery_lock(mysql_inventory(tmp_path), tmp_path, journal)


def test_a_lock_elsewhere_than_the_database_is_not_taken_as_free(tmp_path: Path) -> None:
    journal = journal_with(tmp_path / "journal.jsonl", DEAD_PID)
    etcd = cloud_inventory(tmp_path, {"lock": "etcd", "url": "etcd3+http://192.0.2.1:2379"})
    with pytest.raises(LockUnreachable):
        recover.recovery_lock(etcd, tmp_path, journal)


def test_a_held_lock_is_never_bypassed(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    class Held(Unreachable):
        def acquire(self) -> str | None:
            raise LockHeld("held by pid 7 on vm", None)

    monkeypatch.setattr(recover, "run_lock", lambda *args: Held())
    journal = journal_with(tmp_path / "journal.jsonl", DEAD_PID)
    with pytest.raises(LockError, match="held by pid 7"):
        recover.recovery_lock(mysql_inventory(tmp_path), tmp_path, journal)
