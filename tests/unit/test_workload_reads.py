"""The workload monitor's console reads: a read that got no answer leaves every console alone
for a while (Nova's API worker is still waiting on nova-compute, and the others' reads would
go through the same message queue), and the last read at stop is made anyway."""

from __future__ import annotations

import base64
import gzip
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from keystoneauth1.exceptions import ConnectFailure, ConnectTimeout

from stackdrill.cloud import workload
from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.canary import CanaryWorkload
from stackdrill.cloud.heartbeat import Record, RingHeader, RingLog
from stackdrill.core.waiting import poll


class Consoles:
    """Console reads by server id; the servers in ``silent`` time out."""

    def __init__(self) -> None:
        self.reads: list[str] = []
        self.silent: set[str] = set()
        self.refused: set[str] = set()

    def __call__(self, conn: Any, server_id: str, lines: int) -> str:
        self.reads.append(server_id)
        if server_id in self.silent:
            raise ConnectTimeout("no answer within 10 s")
        if server_id in self.refused:
            raise ConnectFailure("connection refused")
        return ""


@pytest.fixture
def consoles(monkeypatch: pytest.MonkeyPatch) -> Consoles:
    fake = Consoles()
    monkeypatch.setattr(workload, "console_tail", fake)
    monkeypatch.setattr(workload.TenantConnection, "get", lambda self: object())
    return fake


def _monitor() -> workload.WorkloadMonitor:
    canaries = CanaryWorkload(image_id="i", flavor_id="f",
                              servers={"compute1": "s1", "compute2": "s2"}, guest=True)
    return workload.WorkloadMonitor(CloudAccess("lab"), canaries)


def test_a_console_that_did_not_answer_leaves_every_console_alone(
        consoles: Consoles) -> None:
    monitor = _monitor()
    consoles.silent.add("s1")
    monitor._read_all()
    monitor._read_all()
    monitor._read_all()
    assert consoles.reads == ["s1"]
    assert "next read in 60 s" in monitor.errors()["compute1"]


def test_a_refused_read_is_tried_again_at_the_next_round(consoles: Consoles) -> None:
    monitor = _monitor()
    consoles.refused.add("s1")
    monitor._read_all()
    monitor._read_all()
    assert consoles.reads == ["s1", "s2", "s1", "s2"]


def test_the_console_is_read_again_once_the_hold_is_over(
        consoles: Consoles, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workload, "NO_ANSWER_HOLD", 0.0)
    monitor = _monitor()
    consoles.silent.add("s1")
    monitor._read_all()
    consoles.silent.clear()
    monitor._read_all()
    assert consoles.reads == ["s1", "s2", "s1", "s2"]


def test_the_last_read_at_stop_reads_a_held_console(consoles: Consoles) -> None:
    monitor = _monitor()
    consoles.silent.add("s1")
    monitor.start()
    consoles.silent.clear()
    started = len(consoles.reads)
    monitor.stop()
    assert sorted(consoles.reads[started:]) == ["s1", "s2"]


def test_the_reads_at_start_and_stop_read_every_console_side_by_side(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The drill waits for them, so both consoles are read at once: each read here returns only
    once the other has begun."""
    meeting = threading.Barrier(2, timeout=5)

    def together(conn: Any, server_id: str, lines: int) -> str:
        meeting.wait()
        return ""

    monkeypatch.setattr(workload, "console_tail", together)
    monkeypatch.setattr(workload.TenantConnection, "get", lambda self: object())
    monitor = _monitor()
    monitor._read_all(together=True)
    assert monitor.errors() == {}


class Rings:
    """Ring log reads by volume: where the store was found before (``stale``) and after
    finding it again (``fresh``)."""

    def __init__(self, stale: RingLog, fresh: RingLog) -> None:
        self.stale, self.fresh = stale, fresh
        self.calls: list[tuple[str, bool]] = []

    def __call__(self, volume_id: str, fresh: bool = False) -> RingLog:
        self.calls.append((volume_id, fresh))
        return self.fresh if fresh else self.stale

    def find(self, volume_id: str) -> None:
        self.calls.append((volume_id, True))


def _ring(*seqs: int) -> RingLog:
    return RingLog(RingHeader(1, 7, 4096),
                   tuple((seq, Record("SDHB", 7, seq, seq * 100)) for seq in seqs), ())


def _ring_monitor(rings: Rings) -> workload.WorkloadMonitor:
    canaries = CanaryWorkload(image_id="i", flavor_id="f", servers={"compute1": "s1"},
                              volumes={"compute1": "v1"}, guest=True)
    monitor = workload.WorkloadMonitor(CloudAccess("lab"), canaries, read_ring=rings)
    monitor._tracks["compute1"].acked.update({(7, 1), (7, 2)})
    return monitor


def test_a_ring_log_that_holds_every_acknowledged_record_is_read_once() -> None:
    rings = Rings(stale=_ring(1, 2), fresh=_ring())
    assert _ring_monitor(rings).check_ring_logs() == {"compute1": 0}
    assert rings.calls == [("v1", False)]


def test_a_lost_write_is_counted_only_after_the_store_is_found_again() -> None:
    """Where the store was found may be stale (the volume moved): a read there that misses a
    record is read again from where the store is now, and only that read counts."""
    moved = Rings(stale=_ring(1), fresh=_ring(1, 2))
    assert _ring_monitor(moved).check_ring_logs() == {"compute1": 0}
    assert moved.calls == [("v1", False), ("v1", True)]
    lost = Rings(stale=_ring(1), fresh=_ring(1))
    assert _ring_monitor(lost).check_ring_logs() == {"compute1": 1}


def test_the_ring_reader_finds_a_volumes_store_once_and_again_when_asked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    found: list[list[str]] = []

    def locate(access: Any, targets: Any, volume_ids: list[str]) -> list[Any]:
        found.append(volume_ids)
        return [SimpleNamespace(target_host="storage1", backing="/dev/vg/v1")]

    empty = base64.b64encode(gzip.compress(b"\0" * 4096)).decode()
    host = SimpleNamespace(run=lambda command, **kw: SimpleNamespace(stdout=empty))
    monkeypatch.setattr(workload, "locate", locate)
    targets: Any = SimpleNamespace(get=lambda name: host)
    read = workload.ring_reader(CloudAccess("lab"), targets)
    read("v1")
    read("v1")
    assert found == [["v1"]]
    read("v1", fresh=True)
    assert found == [["v1"], ["v1"]]
    read.find("v2")
    read("v2")
    assert found == [["v1"], ["v1"], ["v2"]]


def test_the_ring_logs_are_located_in_the_background_as_the_monitor_starts(
        consoles: Consoles) -> None:
    """Off the drill's path: the first check then only reads."""
    located = threading.Event()

    class Found(Rings):
        def find(self, volume_id: str) -> None:
            super().find(volume_id)
            located.set()

    rings = Found(stale=_ring(), fresh=_ring())
    monitor = _ring_monitor(rings)
    monitor.start()
    try:
        assert located.wait(5)
    finally:
        monitor.stop()
    assert rings.calls[0] == ("v1", True)


def test_a_store_the_api_refuses_to_locate_leaves_the_monitor_reading(
        consoles: Consoles, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API may reset the connection while a controller reboots (it did, and the keystoneauth
    error ended the monitor's thread): the thread reads on, and the check looks for the store
    again and reports its own failure."""
    finds: list[str] = []

    def refused(access: Any, targets: Any, volume_ids: list[str]) -> list[Any]:
        finds.extend(volume_ids)
        raise ConnectFailure("Connection reset by peer")

    monkeypatch.setattr(workload, "locate", refused)
    targets: Any = SimpleNamespace(get=lambda name: None)
    canaries = CanaryWorkload(image_id="i", flavor_id="f", servers={"compute1": "s1"},
                              volumes={"compute1": "v1"}, guest=True)
    monitor = workload.WorkloadMonitor(CloudAccess("lab"), canaries,
                                       workload.ring_reader(CloudAccess("lab"), targets),
                                       interval=0.01)
    monitor.start()
    reads = len(consoles.reads)
    poll(lambda: len(consoles.reads) > reads + 2, timeout=5, interval=0.01,
         description="the monitor's thread reading after the refusal")
    assert monitor.check_ring_logs() == {}
    monitor.stop()
    assert finds[0] == "v1" and len(finds) >= 2
    assert "finding the ring log of volume v1: ConnectFailure" in monitor.errors()["compute1"]
