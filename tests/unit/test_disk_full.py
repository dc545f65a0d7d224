"""A full disk on the drill host: the run is refused before anything is injected (exit 2, one
line naming the journal or the history); a disk that fills during the run refuses the next
injection and stops the run; an undo whose record cannot be written does not stop the undos
after it. ENOSPC comes from ``/dev/full`` or from a write or fsync made to fail."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stackdrill import cli
from stackdrill.core import disk_probe
from stackdrill.core.disk_probe import PROBE_BYTES, NotWritable, probe_directory
from stackdrill.engine.journal import Journal, JournalError
from tests.unit.fake_cloud import CANARY_SCENARIO, events, fake_project, run_args, stackdrill

NO_SPACE = os.strerror(errno.ENOSPC)


def no_space(*args: Any) -> Any:
    raise OSError(errno.ENOSPC, NO_SPACE)


def test_a_directory_with_room_takes_the_probe_and_keeps_nothing(tmp_path: Path) -> None:
    probe_directory(tmp_path / "state" / "journal.jsonl", "journal")
    assert list((tmp_path / "state").iterdir()) == []  # created, probed, left empty


@pytest.mark.parametrize("failing", ["write", "fsync"])
def test_a_full_disk_fails_the_probe_in_one_line_and_leaves_no_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    """A file system that delays allocation says ENOSPC only at the fsync."""
    monkeypatch.setattr(os, failing, no_space)
    with pytest.raises(NotWritable) as refused:
        probe_directory(tmp_path / "journal.jsonl", "journal")
    monkeypatch.undo()
    assert str(refused.value) == (f"journal {tmp_path}/journal.jsonl: cannot be written: "
                                  f"{NO_SPACE} (a probe of 1 MiB in {tmp_path})")
    assert list(tmp_path.iterdir()) == []


def test_the_probe_writes_a_mebibyte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[int] = []
    real_write = os.write

    def counting(fd: int, data: bytes) -> int:
        written.append(len(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", counting)
    probe_directory(tmp_path / "history.jsonl", "drill history")
    monkeypatch.undo()
    assert sum(written) == PROBE_BYTES


def test_a_journal_that_cannot_be_appended_to_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.mkdir()  # a directory where the file should be: not even root appends to it
    with pytest.raises(JournalError) as refused:
        Journal(path).check_writable()
    assert str(refused.value) == (f"journal {path}: cannot be appended to: "
                                  f"{os.strerror(errno.EISDIR)}")


def test_a_journal_on_a_full_disk_refuses_the_injection_and_says_so(tmp_path: Path) -> None:
    journal = Journal(Path("/dev/full"))  # every write: ENOSPC
    with pytest.raises(JournalError) as refused:
        journal.arm("kill_service", "compute1", {}, {})
    expected = (f"journal /dev/full: cannot append: {NO_SPACE}; fault kill_service on "
                f"compute1 not injected")
    assert str(refused.value) == expected
    assert journal.refusal == expected  # the run stops, exit 2


def fail_appends(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """The journal's appends fail with ENOSPC until the returned function frees the disk."""
    monkeypatch.setattr(os, "fsync", no_space)
    return monkeypatch.undo


def test_undo_records_the_disk_cannot_take_wait_and_the_undos_go_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    first = journal.arm("kill_service", "compute1", {}, {})
    second = journal.arm("stop_service", "compute2", {}, {})
    free = fail_appends(monkeypatch)
    journal.mark_undone(second.id)  # does not raise: the next undo still runs
    journal.mark_undone(first.id)
    lag = journal.unwritten_lag()
    assert lag is not None and lag.startswith(
        f"2 undo record(s) not written: journal {tmp_path}/journal.jsonl: cannot append: "
        f"{NO_SPACE}; their undos ran")
    free()
    assert journal.unwritten_lag() is None
    assert journal.pending() == []
    undone = [json.loads(line)["id"] for line in journal.path.read_text().splitlines()
              if json.loads(line)["event"] == "undone"]
    assert set(undone) == {first.id, second.id}


def test_a_run_on_a_full_disk_is_refused_before_anything_is_injected(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = fake_project(tmp_path, "Feature: a drill\n" + CANARY_SCENARIO)
    monkeypatch.setattr(disk_probe, "_fill", no_space)
    ran = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_BAD_INPUT, ran
    assert events(features) == []
    lines = [line for line in ran.stderr.splitlines() if "cannot be written" in line]
    assert lines == [f"ERROR: journal {tmp_path}/journal.jsonl: cannot be written: {NO_SPACE} "
                     f"(a probe of 1 MiB in {tmp_path}); nothing injected"], ran
    assert "Traceback" not in ran.stdout + ran.stderr


def test_a_history_on_a_full_disk_refuses_the_run_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = fake_project(tmp_path, "Feature: a drill\n" + CANARY_SCENARIO)
    history = tmp_path / "full"
    real_fill = disk_probe._fill

    def full_under_history(fd: int, size: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(f"{history}/"):
            no_space()
        real_fill(fd, size)

    monkeypatch.setattr(disk_probe, "_fill", full_under_history)
    argv = run_args(tmp_path, features, inventory)
    argv[argv.index("--history") + 1] = str(history / "history.jsonl")
    ran = stackdrill(argv, tmp_path, capfd)
    assert ran.code == cli.EXIT_BAD_INPUT, ran
    assert events(features) == []
    assert (f"drill history {history}/history.jsonl: cannot be written: {NO_SPACE} "
            f"(a probe of 1 MiB in {history}); nothing injected") in ran.stderr, ran


def test_a_drill_undoes_every_fault_while_the_disk_is_full(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stackdrill.api._registry import Registries
    from stackdrill.engine.drill import Drill
    from tests.unit.test_drill import BreakService, FakeTarget, FakeTargets, StateProbe

    registries = Registries()
    registries.faults.register(BreakService)
    registries.probes.register(StateProbe)
    hosts = [FakeTarget("c1"), FakeTarget("s1")]
    hosts[1].spec = type("Spec", (), {"roles": ("storage",), "name": "s1"})()  # a role each
    journal = Journal(tmp_path / "journal.jsonl")
    for host in hosts:
        host.journal = journal  # type: ignore[attr-defined]
    drill = Drill("full disk", FakeTargets(hosts), registries, journal)  # type: ignore[arg-type]
    drill.record_baseline()
    for host in hosts:
        drill.inject("break", host, {})  # type: ignore[arg-type]
    monkeypatch.setattr(os, "fsync", no_space)
    assert drill.undo_all() == []  # the first record cannot be written; the second undo runs
    monkeypatch.undo()
    assert [host.state["svc"] for host in hosts] == ["active", "active"]
    assert journal.unwritten_lag() is None
    assert journal.pending() == []
