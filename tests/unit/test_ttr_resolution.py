"""Time to recover is measured to within a second of the truth, even when a full snapshot takes
longer than that: a fault whose effect ends at a scripted monotonic instant, a cheap host probe
that sees it, and a slow cloud probe that makes every full snapshot cost 1.2 s."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from stackdrill.api._fault import Fault
from stackdrill.api._probe import CloudContext, CloudProbe, Probe
from stackdrill.api._registry import Registries
from stackdrill.core.state import Snapshot, Tolerance
from stackdrill.core.waiting import Attempt, PollRecord
from stackdrill.engine.drill import Drill, check_deviates
from stackdrill.engine.journal import Journal
from stackdrill.engine.verify import RecoveryWatch

SLOW_CLOUD = 1.2


class FakeTarget:
    def __init__(self, name: str) -> None:
        self.name = name
        self.spec = type("Spec", (), {"roles": ("compute",), "name": name})()
        self.back_at: float | None = None
        self.observed = 0


class FakeTargets(list[Any]):
    listeners: ClassVar[list[Any]] = []


class Service(Probe):
    name = "service"
    description = "active unless a fault's effect lasts"

    def observe(self, target: Any) -> dict[str, Any]:
        target.observed += 1
        back = target.back_at is None or time.monotonic() >= target.back_at
        return {"unit:svc/active": "active" if back else "failed"}


class SlowApi(CloudProbe):
    name = "slow_api"
    description = "a list call over a large cloud"

    def observe_cloud(self, context: CloudContext) -> dict[str, Any]:
        deadline = time.monotonic() + SLOW_CLOUD
        while time.monotonic() < deadline:
            time.sleep(0.05)
        return {"servers": 1000}


class TimedOutage(Fault):
    """The service fails at injection and comes back by itself ``after`` seconds later."""

    name = "timed_outage"
    description = "fake"
    after: ClassVar[float] = 1.6

    def plan(self) -> list[str]:
        return ["fail for a known time"]

    def prepare(self) -> dict[str, Any]:
        return {}

    def inject(self, facts: Mapping[str, Any]) -> None:
        self.target.back_at = time.monotonic() + self.after

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        return "failed"

    def undo(self, facts: Mapping[str, Any]) -> None:
        self.target.back_at = None


@pytest.fixture
def drill(tmp_path: Path) -> Drill:
    registries = Registries()
    registries.faults.register(TimedOutage)
    registries.probes.register(Service)
    registries.probes.register(SlowApi)
    targets = FakeTargets([FakeTarget("c1"), FakeTarget("c2")])
    return Drill("ttr", targets, registries, Journal(tmp_path / "journal.jsonl"),  # type: ignore[arg-type]
                 cloud=object())  # type: ignore[arg-type]


def test_measured_ttr_is_within_a_second_of_the_scripted_recovery(drill: Drill) -> None:
    target = drill.targets[0]  # type: ignore[index]
    drill.record_baseline()
    active = drill.inject("timed_outage", target, {})
    drill.confirm(active, timeout=1)
    truth = target.back_at - time.monotonic() + (time.time() - active.injected_at)
    check_deviates(drill, ["host:c1/unit:svc/active"])
    measured = drill.wait_verified(30)
    assert abs(measured - truth) < 1.0, f"measured {measured:.2f}s, truth {truth:.2f}s"
    assert abs(measured - truth) < 0.5, "the resolution should be the focused poll's pace"
    assert drill.result.time_to_recover == measured


def test_focused_polls_touch_only_the_deviating_host(drill: Drill) -> None:
    first, second = drill.targets  # type: ignore[misc]
    drill.record_baseline()
    drill.inject("timed_outage", first, {})
    before = second.observed
    watch = RecoveryWatch(drill.baseline, drill.tolerance, drill._take)  # type: ignore[arg-type]
    restored, record = watch.wait(30)
    assert watch.focused_polls >= 2
    assert watch.full_snapshots == 2
    assert second.observed - before == watch.full_snapshots
    assert restored.confirmed.values["host:c1/unit:svc/active"] == "active"
    assert "focused on host:c1/probe:service" in record.render()


def test_a_deviation_outside_the_focus_is_caught_by_the_confirming_snapshot() -> None:
    baseline = Snapshot(0, {"host:a/x": 1, "host:b/y": 1},
                        sources={"host:a/x": "host:a/probe:p", "host:b/y": "host:b/probe:q"})
    calls: list[frozenset[str] | None] = []
    b_value = iter([1, 2, 1])

    def take(focus: frozenset[str] | None) -> Snapshot:
        calls.append(focus)
        a = 2 if len(calls) == 1 else 1
        values = {"host:a/x": a} if focus else {"host:a/x": a, "host:b/y": next(b_value)}
        if focus == frozenset({"host:b/probe:q"}):
            values = {"host:b/y": 1}
        return Snapshot(float(len(calls)), values,
                        sources={p: baseline.sources[p] for p in values})

    watch = RecoveryWatch(baseline, Tolerance(), take)
    assert not watch.check()          # full: a deviates
    assert watch.focus == frozenset({"host:a/probe:p"})
    assert not watch.check()          # focused: a is back; confirmation finds b changed
    assert watch.focus == frozenset({"host:b/probe:q"})
    result = watch.check()            # focused on b: back; confirmed
    assert result
    assert calls == [None, frozenset({"host:a/probe:p"}), None, frozenset({"host:b/probe:q"}),
                     None]
    assert result.restored_at == 4.0  # type: ignore[union-attr]


def test_long_waits_render_runs_of_alike_attempts_compactly() -> None:
    record = PollRecord("back", 60, [Attempt(i, i * 0.2, 0.01, False, "same") for i in range(1, 9)]
                        + [Attempt(9, 1.8, 0.01, True, "done")])
    lines = record.render().splitlines()[1:]
    assert lines[0].startswith("  #1 ")
    assert lines[1] == "  ... 6 more alike"
    assert lines[2].startswith("  #8 ")
    assert lines[3].startswith("  #9 ") and lines[3].endswith("ok: done")
