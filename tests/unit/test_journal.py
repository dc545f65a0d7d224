from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import socket
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from stackdrill.engine.journal import Journal, JournalEntry, JournalError


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "journal.jsonl"


def test_arm_records_entry_before_anything_else(path: Path) -> None:
    journal = Journal(path, run_id="run-1")
    before = time.time()

    entry = journal.arm(
        "kill_process",
        "compute1",
        params={"unit": "libvirtd", "signal": 9},
        undo={"action": "start_unit", "unit": "libvirtd"},
    )

    assert isinstance(entry, JournalEntry)
    assert entry.fault == "kill_process"
    assert entry.target == "compute1"
    assert entry.params == {"unit": "libvirtd", "signal": 9}
    assert entry.undo == {"action": "start_unit", "unit": "libvirtd"}
    assert entry.run == "run-1"
    assert entry.pid == os.getpid()
    assert before <= entry.armed_at <= time.time()
    assert len(entry.id) == 32
    int(entry.id, 16)

    [record] = read_lines(path)
    assert record == {
        "event": "armed",
        "id": entry.id,
        "at": entry.armed_at,
        "fault": "kill_process",
        "target": "compute1",
        "params": {"unit": "libvirtd", "signal": 9},
        "undo": {"action": "start_unit", "unit": "libvirtd"},
        "run": "run-1",
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }


def test_each_record_is_one_terminated_line(path: Path) -> None:
    journal = Journal(path)
    journal.arm("f", "h", {"text": "two\nlines"}, {})
    journal.arm("f", "h", {}, {})
    data = path.read_bytes()
    assert data.endswith(b"\n")
    assert data.count(b"\n") == 2


def test_arm_then_pending_then_undone(path: Path) -> None:
    journal = Journal(path, run_id="r")
    entry = journal.arm("stop_unit", "controller1", {"unit": "nova-api"}, {"start": "nova-api"})

    assert journal.pending() == [entry]

    journal.mark_undone(entry.id, ok=True, detail="started")

    assert journal.pending() == []
    undone = read_lines(path)[-1]
    assert undone["event"] == "undone"
    assert undone["id"] == entry.id
    assert undone["ok"] is True
    assert undone["detail"] == "started"
    assert isinstance(undone["at"], float)


def test_failed_undo_stays_pending_until_it_succeeds(path: Path) -> None:
    journal = Journal(path)
    entry = journal.arm("block_port", "compute2", {"port": 5672}, {"unblock": 5672})

    journal.mark_undone(entry.id, ok=False, detail="iptables: permission denied")
    assert journal.pending() == [entry]

    journal.mark_undone(entry.id)
    assert journal.pending() == []


def test_pending_is_oldest_first_and_keeps_only_unfinished(path: Path) -> None:
    journal = Journal(path)
    first = journal.arm("a", "h1", {}, {})
    second = journal.arm("b", "h2", {}, {})
    third = journal.arm("c", "h3", {}, {})
    journal.mark_undone(second.id)

    assert journal.pending() == [first, third]


def test_pending_of_missing_journal_is_empty(path: Path) -> None:
    assert Journal(path).pending() == []
    assert not path.exists()


def test_file_mode_is_0600_and_parent_is_created(path: Path) -> None:
    old_umask = os.umask(0)
    try:
        Journal(path).arm("f", "h", {}, {})
    finally:
        os.umask(old_umask)

    assert path.parent.is_dir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_default_run_id_is_unique_hex() -> None:
    first = Journal(Path("unused-a"))
    second = Journal(Path("unused-a"))
    assert first.run_id != second.run_id
    assert len(first.run_id) == 32
    int(first.run_id, 16)


def test_pending_filtered_by_run(path: Path) -> None:
    run_a = Journal(path, run_id="run-a")
    run_b = Journal(path, run_id="run-b")
    a1 = run_a.arm("f", "h1", {}, {})
    b1 = run_b.arm("f", "h2", {}, {})
    a2 = run_a.arm("f", "h3", {}, {})

    assert run_a.pending(run="run-a") == [a1, a2]
    assert run_a.pending(run="run-b") == [b1]
    assert run_a.pending(run="run-c") == []
    assert run_a.pending() == [a1, b1, a2]


def test_two_journal_objects_on_one_file_see_each_others_entries(path: Path) -> None:
    writer = Journal(path, run_id="w")
    cleaner = Journal(path, run_id="c")

    entry = writer.arm("partition", "compute1", {"peer": "controller1"}, {"heal": True})
    assert cleaner.pending() == [entry]

    cleaner.mark_undone(entry.id, detail="healed by cleanup")
    assert writer.pending() == []


def test_truncated_last_line_is_ignored(path: Path) -> None:
    journal = Journal(path)
    kept = journal.arm("f", "h1", {}, {})
    with path.open("ab") as handle:
        handle.write(b'{"event": "armed", "id": "deadbeef", "fau')

    assert journal.pending() == [kept]


def test_append_after_truncated_last_line_drops_the_fragment(path: Path) -> None:
    journal = Journal(path)
    kept = journal.arm("f", "h1", {}, {})
    with path.open("ab") as handle:
        handle.write(b'{"event": "undone", "id": "' + kept.id.encode() + b'", "ok": tr')

    later = journal.arm("g", "h2", {}, {})

    assert journal.pending() == [kept, later]
    assert [r["id"] for r in read_lines(path)] == [kept.id, later.id]


def test_complete_last_record_without_newline_is_kept(path: Path) -> None:
    journal = Journal(path)
    entry = journal.arm("f", "h1", {}, {})
    undone = {"event": "undone", "id": entry.id, "at": 1.0, "ok": True, "detail": ""}
    with path.open("ab") as handle:
        handle.write(json.dumps(undone).encode())

    assert journal.pending() == []

    later = journal.arm("g", "h2", {}, {})
    assert journal.pending() == [later]
    assert [r["event"] for r in read_lines(path)] == ["armed", "undone", "armed"]


def test_corrupt_middle_line_raises_with_path_and_line_number(path: Path) -> None:
    journal = Journal(path)
    journal.arm("f", "h1", {}, {})
    with path.open("ab") as handle:
        handle.write(b"{not json\n")
    journal.arm("f", "h2", {}, {})

    with pytest.raises(JournalError) as caught:
        journal.pending()

    message = str(caught.value)
    assert str(path) in message
    assert "line 2" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "line",
    [
        b"[1, 2, 3]",
        b'{"event": "armed", "id": "x"}',
        b'{"event": "exploded", "id": "x"}',
        b'{"event": "undone", "id": "x", "at": 1.0, "ok": "yes", "detail": ""}',
        b"\xff\xfe",
    ],
)
def test_malformed_records_in_the_middle_are_errors(path: Path, line: bytes) -> None:
    journal = Journal(path)
    journal.arm("f", "h1", {}, {})
    journal.arm("f", "h2", {}, {})
    with path.open("ab") as handle:
        handle.write(line + b"\n")
    journal.arm("f", "h3", {}, {})

    with pytest.raises(JournalError, match="line 3"):
        journal.pending()


def test_non_serialisable_param_is_rejected_before_writing(path: Path) -> None:
    journal = Journal(path)
    with pytest.raises(JournalError) as caught:
        journal.arm("f", "h1", {"when": object()}, {})
    assert str(path) in str(caught.value)
    assert not path.exists()

    entry = journal.arm("f", "h1", {}, {})
    before = path.read_bytes()
    with pytest.raises(JournalError):
        journal.arm("f", "h2", {}, {"ratio": float("nan")})
    with pytest.raises(JournalError):
        journal.arm("f", "h2", {"nested": {"keys": {(1, 2): "tuple key"}}}, {})
    assert path.read_bytes() == before
    assert journal.pending() == [entry]


def test_writes_take_an_exclusive_lock(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    real_flock = fcntl.flock
    real_write = os.write

    def recording_flock(fd: int, operation: int) -> None:
        if operation == fcntl.LOCK_EX:
            events.append("lock")
        real_flock(fd, operation)

    def recording_write(fd: int, data: Any) -> int:
        events.append("write")
        return real_write(fd, data)

    monkeypatch.setattr(fcntl, "flock", recording_flock)
    monkeypatch.setattr(os, "write", recording_write)

    Journal(path).arm("f", "h", {}, {})

    assert events == ["lock", "write"]


def _arm_many(path: str, run_id: str, count: int) -> None:
    journal = Journal(Path(path), run_id=run_id)
    for number in range(count):
        journal.arm("fault", f"host-{number}", {"payload": "x" * 2000}, {"n": number})


def test_concurrent_processes_do_not_interleave(path: Path) -> None:
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_arm_many, args=(str(path), f"run-{n}", 20)) for n in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]

    entries = Journal(path).pending()
    assert len(entries) == 80
    for n in range(4):
        mine = [entry for entry in entries if entry.run == f"run-{n}"]
        assert [entry.undo["n"] for entry in mine] == list(range(20))


def test_left_behind_names_only_dead_runs_against_this_cloud(path: Path) -> None:
    dead = multiprocessing.get_context("fork").Process(target=lambda: None)
    dead.start()
    dead.join()
    mine = Journal(path, cloud="prod").arm("stop_service", "c1", {}, {})
    other = Journal(path, cloud="staging").arm("stop_service", "c1", {}, {})
    lines = path.read_bytes().splitlines()
    for entry in (mine, other):
        lines = [line.replace(f'"pid":{os.getpid()}'.encode(), f'"pid":{dead.pid}'.encode())
                 if entry.id.encode() in line else line for line in lines]
    path.write_bytes(b"\n".join(lines) + b"\n")
    live = Journal(path, cloud="prod").arm("kill_service", "c2", {}, {})
    left = Journal(path).left_behind("prod", {"c1", "c2"})
    assert [entry.id for entry in left] == [mine.id]
    assert live.cloud == "prod"
    assert other.id not in {entry.id for entry in left}


def test_a_rebuilt_lab_closes_what_dead_runs_left_on_the_old_one(tmp_path: Path) -> None:
    from stackdrill.engine.recover import close_replaced_lab

    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("cloud: lab\nhosts:\n  controller:\n    address: 10.0.0.1\n"
                         "    roles: [controller]\n")
    journal = tmp_path / "journal.jsonl"
    entry = Journal(journal, cloud="lab").arm("stop_service", "controller", {}, {})
    text = journal.read_text().replace(f'"pid":{os.getpid()}', '"pid":999999999')
    journal.write_text(text)
    assert close_replaced_lab(inventory, journal) == 1
    assert Journal(journal).pending() == []
    assert entry.cloud == "lab"


def test_where_a_class_loads_from_is_journalled_and_read_back(path: Path) -> None:
    from stackdrill.api._origin import Origin

    origin = Origin("conftest", "PauseMainProcess", "/srv/drills/conftest.py")
    entry = Journal(path).arm("pause_main_process", "controller", {}, {"pid": 7}, origin=origin)
    assert read_lines(path)[0]["origin"] == {"module": "conftest", "qualname": "PauseMainProcess",
                                             "file": "/srv/drills/conftest.py"}
    assert Journal(path).pending() == [entry]
    assert entry.origin == origin
    Journal(path).arm("old", "controller", {}, {})  # as before: no origin
    assert Journal(path).pending()[1].origin is None


def test_a_malformed_origin_is_a_corrupt_journal(path: Path) -> None:
    path.parent.mkdir()
    path.write_text('{"event":"armed","id":"a","at":1,"fault":"f","target":"h","params":{},'
                    '"undo":{},"run":"r","pid":1,"origin":{"module":3}}\n')
    with pytest.raises(JournalError, match=r"line 1: field 'origin': "):
        Journal(path).pending()
