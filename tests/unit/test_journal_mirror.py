"""The journal mirrored on the cloud's side: every record written there too, an injection
refused when the mirror cannot take it, what a dead drill host left found and undone from
another machine and marked done in both places; the SSH mirror's real shell commands (run
here), the Swift mirror against a fake object store, and a run refused in one line."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any, ClassVar, cast

import pytest

from stackdrill import cli
from stackdrill.api import Fault, Param, Registries
from stackdrill.core.evidence import Redactor
from stackdrill.engine.journal import Journal, JournalMirrorError
from stackdrill.engine.journal_mirror import SshMirror, SwiftMirror
from stackdrill.engine.recover import undo_pending
from stackdrill.hosts.target import Targets
from tests.unit.coordination_fakes import LocalShell, MemoryMirror
from tests.unit.fake_cloud import CANARY_SCENARIO, HOSTS, events, fake_project, run_args, stackdrill


def records(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def test_every_record_is_written_to_the_mirror_too(tmp_path: Path) -> None:
    mirror = MemoryMirror()
    journal = Journal(tmp_path / "journal.jsonl", cloud="unit", mirror=mirror)
    entry = journal.arm("kill_service", "compute1", {"service": "dbus"}, {"pid": 1})
    assert records(mirror.data) == records((tmp_path / "journal.jsonl").read_bytes())
    assert records(mirror.data)[0]["host"] == socket.gethostname()
    journal.mark_undone(entry.id)
    assert records(mirror.data) == records((tmp_path / "journal.jsonl").read_bytes())
    assert journal.pending() == []


def test_a_mirror_that_cannot_be_written_refuses_the_injection(tmp_path: Path) -> None:
    mirror = MemoryMirror()
    mirror.failing = True
    journal = Journal(tmp_path / "journal.jsonl", cloud="unit", mirror=mirror)
    with pytest.raises(JournalMirrorError) as refused:
        journal.arm("kill_service", "compute1", {}, {})
    assert str(refused.value) == ("journal mirror memory:journal.jsonl: cannot write: down; "
                                  "fault kill_service on compute1 not injected")
    assert journal.refusal == str(refused.value)
    mirror.failing = False
    assert journal.pending() == []  # closed here: nothing was injected, nothing to undo


def test_an_undo_the_mirror_missed_is_written_when_it_is_back(tmp_path: Path) -> None:
    mirror = MemoryMirror()
    journal = Journal(tmp_path / "journal.jsonl", cloud="unit", mirror=mirror)
    entry = journal.arm("kill_service", "compute1", {}, {})
    mirror.failing = True
    journal.mark_undone(entry.id)  # the undo ran; the controller did not answer
    assert journal.pending() == []  # done here is done
    lag = journal.mirror_lag()
    assert lag == ("1 undo record(s) not mirrored: journal mirror memory:journal.jsonl: cannot "
                   "write: down; `stackdrill recover --pending` writes them")
    mirror.failing = False
    assert journal.mirror_lag() is None
    assert [r["event"] for r in records(mirror.data)] == ["armed", "undone"]


def armed_elsewhere(fault: str = "mark", host: str = "runner-a", pid: int = 4242) -> bytes:
    """What a run on another drill host left in the mirror before it died."""
    record = {"event": "armed", "id": "a" * 32, "at": time.time(), "fault": fault,
              "target": "compute1", "params": {}, "undo": {"file": "marker"}, "run": "r" * 32,
              "pid": pid, "host": host, "cloud": "unit"}
    return (json.dumps(record) + "\n").encode()


def test_what_a_dead_drill_host_left_is_found_from_another_machine(tmp_path: Path) -> None:
    mirror = MemoryMirror()
    mirror.data = armed_elsewhere()
    journal = Journal(tmp_path / "journal.jsonl", cloud="unit", mirror=mirror)
    [left] = journal.left_behind("unit", ["compute1"])
    assert (left.host, left.pid, left.here) == ("runner-a", 4242, False)
    assert journal.pending(local_only=True) == []


class Mark(Fault):
    """Leaves a file behind; its undo removes it."""

    name = "mark"
    description = "a marker file"
    params: ClassVar[dict[str, Param]] = {}
    directory: ClassVar[Path]

    def plan(self) -> list[str]:
        return ["mark"]

    def prepare(self) -> dict[str, Any]:
        return {"file": "marker"}

    def inject(self, facts: dict[str, Any]) -> None:
        (self.directory / facts["file"]).write_text("x")

    def confirm(self, facts: dict[str, Any]) -> str | None:
        return "marked"

    def undo(self, facts: dict[str, Any]) -> None:
        (self.directory / facts["file"]).unlink(missing_ok=True)


class OneHost:
    def __init__(self) -> None:
        self.inventory = type("I", (), {"hosts": {"compute1": None}})()

    def get(self, name: str) -> Any:
        return type("T", (), {"name": name})()


def test_recover_from_another_machine_undoes_and_marks_done_in_both_places(
        tmp_path: Path) -> None:
    Mark.directory = tmp_path
    (tmp_path / "marker").write_text("x")  # the dead run's fault, still in place
    registries = Registries()
    registries.faults.register(Mark)
    mirror = MemoryMirror()
    mirror.data = armed_elsewhere()
    journal = Journal(tmp_path / "second.jsonl", cloud="unit", mirror=mirror)
    lines, failures = undo_pending(journal, cast(Targets, OneHost()), registries)
    assert failures == 0, lines
    assert lines == [f"restored mark on compute1 (armed by pid 4242 on runner-a, "
                     f"run {'r' * 8})"]
    assert not (tmp_path / "marker").exists()
    for place in (mirror.data, (tmp_path / "second.jsonl").read_bytes()):
        assert [(r["event"], r["id"]) for r in records(place)][-1] == ("undone", "a" * 32)
    assert Journal(tmp_path / "other.jsonl", cloud="unit", mirror=mirror).pending() == []
    again, _ = undo_pending(journal, cast(Targets, OneHost()), registries)
    assert again == [f"nothing pending for unit in {tmp_path}/second.jsonl and "
                     f"memory:journal.jsonl"]


def test_recover_writes_to_the_mirror_what_a_run_undid_while_it_was_down(
        tmp_path: Path) -> None:
    mirror = MemoryMirror()
    journal = Journal(tmp_path / "journal.jsonl", cloud="unit", mirror=mirror)
    entry = journal.arm("mark", "compute1", {}, {})
    mirror.failing = True
    journal.mark_undone(entry.id)
    mirror.failing = False
    later = Journal(tmp_path / "journal.jsonl", cloud="unit", mirror=mirror)  # a new process
    assert Journal(tmp_path / "elsewhere.jsonl", mirror=mirror).pending() != []
    lines, failures = undo_pending(later, cast(Targets, OneHost()), Registries())
    assert failures == 0, lines
    assert Journal(tmp_path / "elsewhere.jsonl", mirror=mirror).pending() == []


def test_a_mirror_that_cannot_be_read_fails_recover_and_the_local_entries_are_undone(
        tmp_path: Path) -> None:
    Mark.directory = tmp_path
    registries = Registries()
    registries.faults.register(Mark)
    mirror = MemoryMirror()
    journal = Journal(tmp_path / "journal.jsonl", mirror=mirror)
    journal.arm("mark", "compute1", {}, {"file": "marker"})
    (tmp_path / "marker").write_text("x")
    mirror.unreadable = True
    lines, failures = undo_pending(journal, cast(Targets, OneHost()), registries)
    assert failures == 1
    assert lines[0] == (f"FAILED journal mirror memory:journal.jsonl: cannot read: down; only "
                        f"the local journal {tmp_path}/journal.jsonl was read")
    assert lines[1].startswith("restored mark on compute1")
    assert not (tmp_path / "marker").exists()


def test_an_older_journal_without_hosts_still_loads(tmp_path: Path) -> None:
    old = {"event": "armed", "id": "b" * 32, "at": 1.0, "fault": "kill_service",
           "target": "compute1", "params": {}, "undo": {}, "run": "x" * 32, "pid": os.getpid()}
    (tmp_path / "journal.jsonl").write_text(json.dumps(old) + "\n")
    [entry] = Journal(tmp_path / "journal.jsonl").pending()
    assert entry.host is None and entry.here
    assert Journal(tmp_path / "journal.jsonl").left_behind("unit", ["compute1"]) == []  # alive


def ssh_mirror(tmp_path: Path) -> SshMirror:
    return SshMirror(LocalShell(), str(tmp_path / "remote" / "journal" / "unit" /
                                       "journal.jsonl"))


def test_the_ssh_mirror_appends_fsynced_lines_under_flock_and_reads_them(
        tmp_path: Path) -> None:
    mirror = ssh_mirror(tmp_path)
    mirror.check()
    journal = Journal(tmp_path / "journal.jsonl", cloud="unit", mirror=mirror)
    entry = journal.arm("kill_service", "compute1", {"service": "it's \"quoted\" $HOME"}, {})
    journal.mark_undone(entry.id, detail="a\nb")
    remote = Path(mirror.path)
    assert remote.read_bytes() == (tmp_path / "journal.jsonl").read_bytes()
    assert mirror.read() == remote.read_bytes()
    assert all("flock -w 20 9" in command and "sync" in command
               for command in cast(LocalShell, mirror.shell).commands
               if "printf" in command)


def test_the_ssh_mirror_cuts_a_torn_last_line_before_appending(tmp_path: Path) -> None:
    mirror = ssh_mirror(tmp_path)
    journal = Journal(tmp_path / "journal.jsonl", cloud="unit", mirror=mirror)
    journal.arm("kill_service", "compute1", {}, {})
    remote = Path(mirror.path)
    with remote.open("ab") as stream:
        stream.write(b'{"event": "armed", "id": "tor')  # a crash in mid-write
    assert len(Journal(tmp_path / "x.jsonl", mirror=mirror).pending()) == 1
    journal.arm("kill_service", "compute2", {}, {})
    assert [r["target"] for r in records(remote.read_bytes())] == ["compute1", "compute2"]


def test_an_ssh_mirror_that_cannot_be_written_says_where_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    mirror = SshMirror(LocalShell(), str(tmp_path / "file" / "journal.jsonl"))
    with pytest.raises(JournalMirrorError) as refused:
        mirror.check()
    message = str(refused.value)
    assert message.startswith(f"journal mirror controller:{tmp_path}/file/journal.jsonl: "
                              f"cannot write: ")
    assert "\n" not in message


class FakeStore:
    def __init__(self) -> None:
        self.objects_: dict[str, bytes] = {}
        self.down = False

    def _up(self) -> None:
        if self.down:
            from openstack.exceptions import SDKException

            raise SDKException("503 Service Unavailable for http://user:pw@swift/v1")

    def create_container(self, name: str) -> None:
        self._up()

    def upload_object(self, container: str, name: str, data: bytes) -> None:
        self._up()
        self.objects_[f"{container}/{name}"] = data

    def objects(self, container: str, prefix: str) -> list[Any]:
        self._up()
        return [type("O", (), {"name": key.split("/", 1)[1]})()
                for key in self.objects_ if key.startswith(f"{container}/{prefix}")]

    def download_object(self, name: str, container: str) -> bytes:
        self._up()
        return self.objects_[f"{container}/{name}"]


class FakeAccess:
    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.redactor = Redactor()

    def connection(self) -> Any:
        return type("C", (), {"object_store": self.store})()


def test_the_swift_mirror_keeps_one_object_per_record_in_order(tmp_path: Path) -> None:
    store = FakeStore()
    mirror = SwiftMirror(cast(Any, FakeAccess(store)), "stackdrill-journal", "unit")
    mirror.check()
    journal = Journal(tmp_path / "journal.jsonl", cloud="unit", mirror=mirror)
    first = journal.arm("kill_service", "compute1", {}, {})
    journal.arm("kill_service", "compute2", {}, {})
    journal.mark_undone(first.id)
    assert len(store.objects_) == 3
    assert [e.target for e in Journal(tmp_path / "x.jsonl", mirror=mirror).pending()] == \
        ["compute2"]
    store.down = True
    with pytest.raises(JournalMirrorError) as refused:
        journal.arm("kill_service", "compute1", {}, {})
    assert str(refused.value).startswith("journal mirror Swift stackdrill-journal/unit/: cannot "
                                         "write: 503 Service Unavailable for http://user:***@")


def test_a_run_whose_mirror_cannot_be_written_injects_nothing_and_exits_2(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the with ends: the connection is refused
    controller = {"address": "127.0.0.1", "roles": ["controller"],
                  "ssh": {"port": port, "strict_host_key_checking": False}}
    inventory = {"cloud": "unit", "hosts": {**HOSTS, "controller": controller},
                 "coordination": {"lock": "ssh", "journal": "ssh",
                                  "directory": str(tmp_path / "remote")}}
    features, inventory_file = fake_project(tmp_path, "Feature: a drill\n" + CANARY_SCENARIO,
                                            inventory=inventory)
    ran = stackdrill(run_args(tmp_path, features, inventory_file), tmp_path, capfd)
    assert ran.code == cli.EXIT_BAD_INPUT, ran
    assert events(features) == []
    refusal = [line for line in ran.stderr.splitlines() if line.startswith("stackdrill: journal")]
    assert len(refusal) == 1, ran
    assert refusal[0].startswith(f"stackdrill: journal mirror controller:{tmp_path}/remote/"
                                 f"journal/unit/journal.jsonl: cannot write: controller "
                                 f"(127.0.0.1:{port}): unreachable: "), ran
    assert refusal[0].endswith("; fault fake_stop on compute1 not injected"), ran
    assert Journal(tmp_path / "journal.jsonl").pending() == []


def test_a_fault_on_every_host_is_mirrored_whole_before_the_first_injection(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Powering off every host takes the mirror's controller down with the first one: every
    undo is in the mirror before any host is touched."""
    from stackdrill.engine.drill import Drill, DrillError
    from tests.unit.test_guards import EVENTS, FakeTargets, Touch, inventory

    inv = inventory(tmp_path, protected=[])
    registries = Registries()
    registries.faults.register(Touch)
    mirror = MemoryMirror()
    journal = Journal(tmp_path / "journal.jsonl", cloud="prod-eu", mirror=mirror)
    drill = Drill("outage", FakeTargets(inv), registries, journal)  # type: ignore[arg-type]
    drill.record_baseline()
    EVENTS.clear()
    hosts = [drill.targets.get(name) for name in ("ctl1", "sto1")]

    def inject_then_the_controller_is_gone(self: Touch, facts: Any) -> None:
        EVENTS.append(f"inject {self.target.name}")
        mirror.failing = True

    monkeypatch.setattr(Touch, "inject", inject_then_the_controller_is_gone)
    drill.inject_each("touch", hosts, {})  # type: ignore[arg-type]
    assert EVENTS == ["prepare ctl1", "prepare sto1", "inject ctl1", "inject sto1"]
    assert [r["target"] for r in records(mirror.data) if r["event"] == "armed"] == \
        ["ctl1", "sto1"]

    mirror.failing = False
    EVENTS.clear()
    refusing = Drill("refused", FakeTargets(inv), registries,  # type: ignore[arg-type]
                     Journal(tmp_path / "second.jsonl", cloud="prod-eu", mirror=mirror))
    refusing.record_baseline()
    original = mirror.append
    calls: list[bytes] = []

    def second_write_fails(lines: bytes) -> None:
        calls.append(lines)
        if len(calls) == 2:
            raise JournalMirrorError("journal mirror memory:journal.jsonl: cannot write: down")
        original(lines)

    monkeypatch.setattr(mirror, "append", second_write_fails)
    with pytest.raises(DrillError, match=r"cannot write: down; fault touch on sto1 not "):
        refusing.inject_each("touch", hosts, {})  # type: ignore[arg-type]
    assert EVENTS == ["prepare ctl1", "prepare sto1"]  # nothing injected
    assert refusing.journal.pending(local_only=True) == []  # what was journalled is closed
