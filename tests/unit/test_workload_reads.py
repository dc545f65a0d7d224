"""The workload monitor's console reads: a read that got no answer leaves every console alone
for a while (Nova's API worker is still waiting on nova-compute, and the others' reads would
go through the same message queue), and the last read at stop is made anyway."""

from __future__ import annotations

from typing import Any

import pytest
from keystoneauth1.exceptions import ConnectFailure, ConnectTimeout

from stackdrill.cloud import workload
from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.canary import CanaryWorkload


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
    monitor.stop()
    assert consoles.reads == ["s1", "s1", "s2"]
