"""The drill lock held on the cloud: a second runner is refused naming the holder, a dead
holder's lock is released by the backend (tooz's ``file://`` driver stands in for a
session-bound one, a local ``sh`` for the controller's remote ``flock``), a lock its backend
dropped is taken again or the run stops, and the inventory chooses the backend."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest
import yaml

from stackdrill.core.waiting import poll_until
from stackdrill.engine.cloud_lock import CloudLock
from stackdrill.engine.lock import DrillLock, run_lock
from stackdrill.engine.lock_holder import Holder, LockError, LockHeld, LockLost
from stackdrill.engine.mysql_lock import mysql_lock_key, tooz_url
from stackdrill.engine.remote_flock import FlockBackend
from stackdrill.engine.tooz_lock import ToozBackend
from stackdrill.hosts.secrets import inventory_redactor
from stackdrill.inventory.loader import load_inventory, parse_inventory
from stackdrill.inventory.model import Inventory, InventoryError
from tests.unit.coordination_fakes import FileBoard, LocalSession

HOSTS = {"controller": {"address": "192.0.2.1", "roles": ["controller"]},
         "compute1": {"address": "192.0.2.11", "roles": ["compute"]}}
PREFIX = "cloud prod-eu is being drilled by pid"


def tooz_lock(tmp_path: Path, drill: str = "") -> CloudLock:
    backend = ToozBackend(f"file://{tmp_path}/tooz", "stackdrill/prod-eu", "file lock")
    return CloudLock("prod-eu", backend, FileBoard(tmp_path / "holder.json"), drill)


def held_in_child(take: CloudLock) -> tuple[int, int]:
    """A forked process that takes the lock and waits to be killed: its pid, and the pipe it
    says ``held`` on."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        try:
            take.acquire()
            os.write(ready_w, b"held\n")
            signal.pause()
        finally:
            os._exit(1)
    os.close(ready_w)
    assert os.read(ready_r, 16) == b"held\n"
    return pid, ready_r


def test_a_second_runner_is_refused_naming_the_holder_until_the_holder_dies(
        tmp_path: Path) -> None:
    pid, pipe = held_in_child(tooz_lock(tmp_path, "drills features/control_plane"))
    try:
        second = tooz_lock(tmp_path)
        with pytest.raises(LockHeld) as refused:
            second.acquire()
        message = str(refused.value)
        assert message.startswith(f"{PREFIX} {pid} on host {socket.gethostname()} since ")
        assert "(drills features/control_plane); lock: file lock" in message
        assert "\n" not in message
        assert refused.value.holder is not None and refused.value.holder.pid == pid
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(pipe)
    # the backend let the dead holder's lock go: nothing guessed, nothing removed by hand
    third = tooz_lock(tmp_path)
    assert third.acquire() is None
    assert Holder.parse((tmp_path / "holder.json").read_text()).pid == os.getpid()  # type: ignore[union-attr]
    third.release()
    assert not (tmp_path / "holder.json").exists()


def test_a_run_started_by_the_holder_is_covered_by_its_lock(tmp_path: Path) -> None:
    with tooz_lock(tmp_path):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                child = tooz_lock(tmp_path)
                child.acquire()
                code = 0 if child.nested_in is not None and not child.held else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0


class Server:
    """A session-bound lock server: one owner at a time, dropped when told."""

    def __init__(self) -> None:
        self.owner: str | None = None
        self.connections = 0


class ServerBackend:
    def __init__(self, server: Server, owner_ids: bool = True) -> None:
        self.server = server
        self.where = "fake server"
        self.seen: Holder | None = None
        self.owner_ids = owner_ids
        self.mine: str | None = None

    def take(self, holder: Holder) -> bool:
        if self.server.owner is not None:
            return False
        self.server.connections += 1
        self.mine = self.server.owner = str(self.server.connections)
        return True

    def owner(self) -> str | None:
        return self.server.owner if self.owner_ids else None

    def alive(self) -> bool:
        return self.mine is not None and self.server.owner == self.mine

    def give_back(self) -> None:
        if self.mine is not None and self.server.owner == self.mine:
            self.server.owner = None
        self.mine = None


def test_a_lock_its_backend_dropped_is_taken_again_before_the_next_scenario(
        tmp_path: Path) -> None:
    server = Server()
    board = FileBoard(tmp_path / "holder.json")
    lock = CloudLock("prod-eu", ServerBackend(server), board)
    lock.acquire()
    assert lock.check() is None
    first = Holder.parse(board.read())
    assert first is not None and first.token == "1"  # the record names the live connection
    server.owner = None  # the database restarted: the connection and its lock are gone
    note = lock.check()
    assert note == "the drill lock (fake server) was lost during the run and is held again"
    again = Holder.parse(board.read())
    assert again is not None and again.token == "2" and again.pid == os.getpid()
    lock.release()
    assert server.owner is None and not board.path.exists()


def test_a_run_whose_lost_lock_another_run_took_stops(tmp_path: Path) -> None:
    server = Server()
    board = FileBoard(tmp_path / "holder.json")
    lock = CloudLock("prod-eu", ServerBackend(server), board)
    lock.acquire()
    server.owner = None
    other = CloudLock("prod-eu", ServerBackend(server), board, "drills other")
    other.acquire()
    with pytest.raises(LockLost) as lost:
        lock.check()
    assert str(lost.value).startswith("the drill lock was lost during the run and another took "
                                      f"it: {PREFIX} {os.getpid()} on host ")
    assert "(drills other)" in str(lost.value)
    assert not lock.held
    other.release()


def test_a_holder_that_cannot_be_recorded_gives_the_lock_back(tmp_path: Path) -> None:
    server = Server()
    board = FileBoard(tmp_path / "holder.json")
    board.refuse = True
    with pytest.raises(LockError, match=r"cannot record the drill lock's holder: Permission"):
        CloudLock("prod-eu", ServerBackend(server), board).acquire()
    assert server.owner is None


def test_an_older_record_is_not_taken_for_the_holder(tmp_path: Path) -> None:
    server = Server()
    board = FileBoard(tmp_path / "holder.json")
    server.owner = "7"  # held by a connection whose holder has not written its record yet
    board.write(Holder(4242, "old-runner", time.time() - 3600, "", "6").to_json())
    with pytest.raises(LockHeld) as refused:
        CloudLock("prod-eu", ServerBackend(server), board).acquire()
    assert str(refused.value) == ("cloud prod-eu is being drilled by another run (its holder "
                                  "is not recorded); lock: fake server")
    board.write(Holder(4343, "runner-b", time.time(), "", "7").to_json())
    with pytest.raises(LockHeld) as named:
        CloudLock("prod-eu", ServerBackend(server), board).acquire()
    assert str(named.value).startswith("cloud prod-eu is being drilled by pid 4343 on host "
                                       "runner-b since ")


def flock(tmp_path: Path, **kwargs: float) -> FlockBackend:
    return FlockBackend(LocalSession, str(tmp_path / "locks" / "prod-eu.lock"), "controller",
                        **kwargs)  # type: ignore[arg-type]


def test_the_ssh_lock_is_a_remote_flock_that_records_its_holder(tmp_path: Path) -> None:
    first = CloudLock("prod-eu", flock(tmp_path), None, "drills a")
    first.acquire()
    record = Holder.parse((tmp_path / "locks" / "prod-eu.lock").read_text())
    assert record is not None and record.pid == os.getpid() and record.drill == "drills a"
    second = CloudLock("prod-eu", flock(tmp_path))
    with pytest.raises(LockHeld) as refused:
        second.acquire()
    assert str(refused.value).startswith(f"{PREFIX} {os.getpid()} on host ")
    assert str(refused.value).endswith(
        f"(drills a); lock: flock of controller:{tmp_path}/locks/prod-eu.lock")
    first.release()
    assert (tmp_path / "locks" / "prod-eu.lock").read_text() == ""
    assert second.acquire() is None
    second.release()


def test_the_ssh_lock_dies_with_its_channel(tmp_path: Path) -> None:
    backend = flock(tmp_path)
    assert backend.take(Holder.mine())
    session = backend.session
    assert isinstance(session, LocalSession) and session.process.stdin is not None
    session.process.stdin.close()  # the harness died: its channel closed, nothing released it
    other = flock(tmp_path)
    poll_until(lambda: other.take(Holder.mine("after")), timeout=10, interval=0.1,
               description="the lock free once its channel closed")
    other.give_back()
    backend.give_back()


def test_the_ssh_lock_lets_go_when_no_heartbeat_comes_and_holds_while_they_do(
        tmp_path: Path) -> None:
    silent = flock(tmp_path, heartbeat=100, idle=1)
    assert silent.take(Holder.mine())
    poll_until(lambda: not silent.alive(), timeout=10, interval=0.1,
               description="the remote flock gone after its idle time")
    silent.give_back()
    beating = flock(tmp_path, heartbeat=0.2, idle=1)
    assert beating.take(Holder.mine())
    time.sleep(2.5)  # longer than the idle time: the heartbeats kept it
    assert beating.alive()
    beating.give_back()
    assert not beating.alive()


def inventory(tmp_path: Path, coordination: dict[str, object] | None = None,
              **extra: object) -> Inventory:
    data: dict[str, object] = {"cloud": "prod-eu", "hosts": HOSTS, **extra}
    if coordination is not None:
        data["coordination"] = coordination
    return parse_inventory(data, tmp_path / "inventory.yaml")


def test_the_inventory_chooses_where_the_lock_lives(tmp_path: Path) -> None:
    assert isinstance(run_lock(inventory(tmp_path), tmp_path), DrillLock)
    assert isinstance(run_lock(inventory(tmp_path, {"lock": "local", "journal": "none"}),
                               tmp_path), DrillLock)
    ssh = run_lock(inventory(tmp_path, {}), tmp_path)
    assert isinstance(ssh, CloudLock)
    assert ssh.where == "flock of controller:/var/lib/stackdrill/locks/prod-eu.lock"
    mysql = run_lock(inventory(tmp_path, {"lock": "mysql"}), tmp_path)
    assert isinstance(mysql, CloudLock)
    assert mysql.where == ("MySQL GET_LOCK('stackdrill:prod-eu') on the database of "
                           "controller:/etc/nova/nova.conf")
    etcd = run_lock(inventory(tmp_path, {"lock": "etcd", "url": "etcd3+http://10.0.0.5:2379",
                                         "directory": "/srv/drills"}), tmp_path)
    assert isinstance(etcd, CloudLock) and etcd.where == "etcd at 10.0.0.5"
    assert etcd.board is not None and etcd.board.path == "/srv/drills/locks/prod-eu.holder"
    for lock in (ssh, mysql, etcd):
        lock.release()  # never taken: nothing was contacted


@pytest.mark.parametrize(("coordination", "message"), [
    ({"lock": "zookeeper"}, "coordination.lock: expected one of mysql, etcd, redis, ssh, local"),
    ({"lock": "etcd"}, "coordination.lock: lock etcd needs coordination.url (etcd3+http://"),
    ({"lock": "redis", "url": "mysql://u@h/db"},
     "coordination.url: expected a redis:// URL for lock redis, got mysql://..."),
    ({"lock": "ssh", "url": "redis://h"}, "coordination.url: a URL is for lock mysql, etcd or "
                                          "redis, not ssh"),
    ({"journal": "nfs"}, "coordination.journal: expected one of ssh, swift, none"),
    ({"directory": "relative"}, "coordination.directory: expected absolute path"),
    ({"owner": "me"}, "coordination: unknown key 'owner'"),
    ({"lock": "local"}, "coordination.journal: journal ssh needs the lock on the cloud's side"),
])
def test_a_bad_coordination_is_refused_at_load_in_one_line(
        tmp_path: Path, coordination: dict[str, object], message: str) -> None:
    with pytest.raises(InventoryError) as refused:
        inventory(tmp_path, coordination)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_lock_on_the_controller_needs_a_controller(tmp_path: Path) -> None:
    computes = {"compute1": HOSTS["compute1"]}
    with pytest.raises(InventoryError, match=r"coordination\.lock: lock ssh and journal ssh need "
                                             r"a host with the controller role"):
        parse_inventory({"hosts": computes, "coordination": {}}, tmp_path / "i.yaml")
    etcd = {"lock": "etcd", "url": "etcd3+http://10.0.0.5:2379", "journal": "swift"}
    assert parse_inventory({"hosts": computes, "coordination": etcd},
                           tmp_path / "i.yaml").coordination.lock == "etcd"


def test_the_lab_locks_in_its_database_and_mirrors_on_its_controller(tmp_path: Path) -> None:
    from stackdrill.lab.lab import Lab
    from stackdrill.lab.topology import LabPaths

    paths = LabPaths(tmp_path)
    paths.root.mkdir(parents=True, exist_ok=True)
    (paths.root / "secrets.json").write_text('{"database": "s3cret"}')
    Lab(paths).write_inventory(cloud=True)
    lab = load_inventory(paths.inventory)
    assert (lab.coordination.lock, lab.coordination.journal) == ("mysql", "ssh")
    assert lab.coordination.database_config == "/etc/nova/nova.conf"
    Lab(paths).write_inventory(cloud=False)
    assert "coordination" not in yaml.safe_load(paths.inventory.read_text())


def test_the_lock_urls_password_is_kept_out_of_reports(tmp_path: Path) -> None:
    url = "mysql://drills:pa55word@10.0.0.5/drills"
    redactor = inventory_redactor(inventory(tmp_path, {"lock": "mysql", "url": url}))
    assert "pa55word" not in redactor(f"connecting to {url} with pa55word")


def test_the_mysql_lock_names_and_urls() -> None:
    assert mysql_lock_key("prod-eu") == "stackdrill:prod-eu"
    long_name = mysql_lock_key("x" * 100)
    assert len(long_name) <= 64 and long_name.startswith("stackdrill:")
    from stackdrill.cloud.access import Dsn

    dsn = Dsn.parse("mysql+pymysql://nova:a%40b%3Ac@192.0.2.1/nova?charset=utf8")
    assert tooz_url(dsn) == "mysql://nova:a@b:c@192.0.2.1:3306/nova"
    with pytest.raises(LockError, match="holds / \\? or #"):
        tooz_url(Dsn.parse("mysql://nova:a%2Fb@192.0.2.1/nova"))


def test_a_database_that_cannot_be_reached_is_one_line_without_its_password(
        tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the with ends: the connection is refused
    backend = ToozBackend(f"mysql://drills:pa55word@127.0.0.1:{port}/drills",
                          "stackdrill:prod-eu", "MySQL GET_LOCK on 127.0.0.1")
    with pytest.raises(LockError) as refused:
        CloudLock("prod-eu", backend, FileBoard(tmp_path / "holder.json")).acquire()
    message = str(refused.value)
    assert message.startswith("MySQL GET_LOCK on 127.0.0.1: cannot take the lock: ")
    assert "pa55word" not in message and "\n" not in message
