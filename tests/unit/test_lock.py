"""The drill lock: one run per cloud; a dead holder's lock is released by the kernel and its
record reported as stale; a run started by the holder shares the holder's lock."""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path

import pytest

from stackdrill.engine.lock import DrillLock, LockError, LockHeld, lock_for
from stackdrill.inventory.loader import parse_inventory


def test_the_lock_records_its_holder_and_is_released(tmp_path: Path) -> None:
    lock = DrillLock(tmp_path / "locks" / "prod-eu.lock", "prod-eu")
    assert lock.acquire() is None
    record = json.loads(lock.path.read_text())
    assert record["pid"] == os.getpid()
    assert record["host"] == socket.gethostname()
    assert isinstance(record["started"], float)
    with pytest.raises(LockError, match="already taken by this process"):
        lock.acquire()
    lock.release()
    assert lock.path.read_text() == ""
    assert lock.acquire() is None  # a released lock is not stale
    lock.release()


def test_a_second_acquire_in_the_same_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "prod-eu.lock"
    with DrillLock(path, "prod-eu"):
        with pytest.raises(LockHeld) as refused:
            DrillLock(path, "prod-eu").acquire()
        message = str(refused.value)
        assert message.startswith(f"cloud prod-eu is being drilled by pid {os.getpid()} on host "
                                  f"{socket.gethostname()} since ")
        assert "\n" not in message
    DrillLock(path, "prod-eu").acquire()


def test_another_process_holding_the_lock_refuses_the_run_then_dies_and_goes_stale(
        tmp_path: Path) -> None:
    path = tmp_path / "prod-eu.lock"
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        try:
            DrillLock(path, "prod-eu").acquire()
            os.write(ready_w, b"held\n")
            signal.pause()
        finally:
            os._exit(1)
    os.close(ready_w)
    try:
        assert os.read(ready_r, 16) == b"held\n"
        with pytest.raises(LockHeld) as refused:
            DrillLock(path, "prod-eu").acquire()
        assert refused.value.holder is not None and refused.value.holder.pid == pid
        assert str(refused.value).startswith(
            f"cloud prod-eu is being drilled by pid {pid} on host {socket.gethostname()} since ")
        assert str(refused.value).endswith(f"; lock: lock file {path}")
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(ready_r)
    # the kernel released the dead child's flock; its record is reported and replaced
    lock = DrillLock(path, "prod-eu")
    note = lock.acquire()
    assert note is not None
    assert note.startswith(f"stale lock from pid {pid} removed (")
    assert "gone" in note
    assert json.loads(path.read_text())["pid"] == os.getpid()
    lock.release()


def test_a_run_started_by_the_holder_shares_its_lock(tmp_path: Path) -> None:
    path = tmp_path / "prod-eu.lock"
    with DrillLock(path, "prod-eu"):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                child = DrillLock(path, "prod-eu")
                child.acquire()
                code = 0 if child.nested_in is not None and not child.held else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_the_lock_is_per_cloud_name_or_inventory_path(tmp_path: Path) -> None:
    hosts = {"c1": {"address": "192.0.2.1", "roles": ["compute"]}}
    named = parse_inventory({"cloud": "prod-eu", "hosts": hosts}, tmp_path / "a.yaml")
    also_named = parse_inventory({"cloud": "prod-eu", "hosts": hosts}, tmp_path / "b.yaml")
    unnamed = parse_inventory({"hosts": hosts}, tmp_path / "a.yaml")
    other = parse_inventory({"cloud": "prod/eu", "hosts": hosts}, tmp_path / "a.yaml")
    state = tmp_path / "state"
    assert lock_for(named, state).path == state / "locks" / "prod-eu.lock"
    assert lock_for(also_named, state).path == lock_for(named, state).path
    assert lock_for(unnamed, state).name == str((tmp_path / "a.yaml").resolve())
    assert lock_for(unnamed, state).path != lock_for(named, state).path
    assert lock_for(other, state).path.name.startswith("prod_eu-")
    assert lock_for(other, state).path.parent == state / "locks"
