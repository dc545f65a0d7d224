"""The drill engine's ordering guarantees, with fake hosts: journal before injection, undo of
every fault at the end, and every deviation reported."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from stackdrill.api._fault import Fault
from stackdrill.api._probe import Probe
from stackdrill.api._registry import Registries
from stackdrill.api._runbook import Recovery, RecoveryFailed, RunbookStep
from stackdrill.core.evidence import Evidence, Redactor
from stackdrill.core.params import Param
from stackdrill.engine.drill import (
    Drill,
    DrillError,
    PreflightFailed,
    check_deviates,
    check_unchanged,
)
from stackdrill.engine.journal import Journal


class FakeTarget:
    def __init__(self, name: str) -> None:
        self.name = name
        self.spec = type("Spec", (), {"roles": ("compute",), "name": name})()
        self.state = {"svc": "active"}


class FakeTargets(list[Any]):
    listeners: ClassVar[list[Any]] = []


class StateProbe(Probe):
    name = "state"
    description = "fake"

    def observe(self, target: Any) -> dict[str, Any]:
        return {f"unit:{k}/active": v for k, v in target.state.items()}


EVENTS: list[str] = []


class BreakService(Fault):
    name = "break"
    description = "fake"
    params: ClassVar[Mapping[str, Param]] = {"fail_undo": Param("x", str, "no")}

    def plan(self) -> list[str]:
        return ["break it"]

    def prepare(self) -> dict[str, Any]:
        return {"was": self.target.state["svc"]}

    def inject(self, facts: Mapping[str, Any]) -> None:
        journal: Journal = self.target.journal
        EVENTS.append(f"inject, pending={len(journal.pending())}")
        self.target.state["svc"] = "failed"

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        return "broken" if self.target.state["svc"] == "failed" else None

    def undo(self, facts: Mapping[str, Any]) -> None:
        if self.values["fail_undo"] == "yes":
            from stackdrill.api._fault import FaultError

            raise FaultError("cannot")
        self.target.state["svc"] = facts["was"]


@pytest.fixture
def drill(tmp_path: Path) -> Drill:
    registries = Registries()
    registries.faults.register(BreakService)
    registries.probes.register(StateProbe)
    target = FakeTarget("c1")
    journal = Journal(tmp_path / "journal.jsonl")
    target.journal = journal  # type: ignore[attr-defined]
    return Drill("t", FakeTargets([target]), registries, journal)  # type: ignore[arg-type]


def test_the_journal_holds_the_undo_before_the_fault_is_injected(drill: Drill) -> None:
    EVENTS.clear()
    target = drill.targets[0]  # type: ignore[index]
    drill.record_baseline()
    active = drill.inject("break", target, {})
    assert EVENTS == ["inject, pending=1"]
    assert drill.journal.pending()[0].undo == {"was": "active"}
    assert drill.confirm(active, timeout=1) == "broken"
    found = check_deviates(drill, ["host:c1/unit:svc/active"])
    assert [d.path for d in found] == ["host:c1/unit:svc/active"]
    with pytest.raises(DrillError, match="changed"):
        check_unchanged(drill, ["host:c1/unit:*"])
    with pytest.raises(DrillError, match="no such path"):
        check_unchanged(drill, ["host:c1/nothing"])
    assert drill.undo_all() == []
    assert drill.journal.pending() == []
    assert target.state["svc"] == "active"
    kinds = [e.kind for e in drill.timeline.events]
    assert kinds == ["baseline", "pre-flight", "fault-injected", "effect-detected", "deviation",
                     "undone"]


def test_a_probe_that_fails_confirms_no_deviation_and_breaks_no_unchanged_check_silently(
        drill: Drill) -> None:
    target = drill.targets[0]  # type: ignore[index]
    drill.record_baseline()
    drill.inject("break", target, {})
    target.state = None  # the probe raises from now on: nothing is known of the unit
    with pytest.raises(DrillError, match="expected a deviation at host:c1/unit:svc/active"):
        check_deviates(drill, ["host:c1/unit:svc/active"], within=0)
    # the probe's own error key is what says it cannot observe
    found = check_deviates(drill, ["host:c1/probe:state"])
    assert {d.kind for d in found} == {"unknown", "unobserved"}
    with pytest.raises(DrillError, match=r"^host:c1/unit:\*: not observed within 0.2s: "
                                         r"host:c1/unit:svc/active: 'active' -> <unknown>"):
        check_unchanged(drill, ["host:c1/unit:*"], observe_within=0.2)
    target.state = {"svc": "failed"}
    assert drill.undo_all() == []


def test_an_unchanged_check_waits_for_a_path_its_probe_could_not_observe(
        drill: Drill) -> None:
    target = drill.targets[0]  # type: ignore[index]
    drill.record_baseline()
    fails = iter([True, True])
    probe_state = target.state

    class Flaky(dict[str, str]):
        def items(self) -> Any:
            if next(fails, False):
                raise OSError("listing cut short")
            return probe_state.items()

    target.state = Flaky()
    check_unchanged(drill, ["host:c1/unit:svc/active"], observe_within=30)
    target.state = probe_state
    looks = [name for name, _ in drill.evidence.attachments
             if name == "state difference: unchanged paths"]
    assert len(looks) == 3


def test_a_failed_undo_is_reported_and_stays_pending(drill: Drill) -> None:
    target = drill.targets[0]  # type: ignore[index]
    drill.record_baseline()
    drill.inject("break", target, {"fail_undo": "yes"})
    errors = drill.undo_all()
    assert errors == ["undo of break on c1 failed: cannot"]
    assert len(drill.journal.pending()) == 1


def test_without_a_verified_state_no_fault_is_injected(drill: Drill) -> None:
    EVENTS.clear()
    with pytest.raises(PreflightFailed) as refused:
        drill.inject("break", drill.targets[0], {})  # type: ignore[index]
    assert str(refused.value) == ("pre-flight: no verified state recorded before the first "
                                  "fault; nothing injected")
    assert EVENTS == []
    assert not drill.journal.path.exists()


def test_a_cloud_that_drifted_from_its_verified_state_is_not_drilled(
        drill: Drill, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("stackdrill.engine.drill.PREFLIGHT_SETTLE", 0.3)
    monkeypatch.setattr("stackdrill.engine.drill.PREFLIGHT_FRESH", 0.0)
    EVENTS.clear()
    target = drill.targets[0]  # type: ignore[index]
    drill.record_baseline()
    target.state["svc"] = "inactive"  # broken between the verified state and the fault
    with pytest.raises(PreflightFailed) as refused:
        drill.inject("break", target, {})
    assert str(refused.value) == (
        "pre-flight: the cloud does not match its verified state: 1 deviation(s), first: "
        "host:c1/unit:svc/active: 'active' -> 'inactive' (exact); nothing injected")
    assert EVENTS == []
    assert not drill.journal.path.exists()
    assert drill.faults == []
    assert [e.kind for e in drill.timeline.events] == ["baseline", "refused"]
    assert "state difference: pre-flight" in dict(drill.evidence.attachments)


def test_the_pre_flight_waits_for_a_value_settling_and_runs_once(
        drill: Drill, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("stackdrill.engine.drill.PREFLIGHT_FRESH", 0.0)
    target = drill.targets[0]  # type: ignore[index]
    drill.record_baseline()
    target.state["svc"] = "activating"
    settle = threading.Timer(0.5, target.state.__setitem__, ("svc", "active"))
    settle.start()
    drill.inject("break", target, {})
    settle.join()
    drill.inject("break", target, {})  # broken by the drill itself by now: no pre-flight
    assert [e.kind for e in drill.timeline.events].count("pre-flight") == 1
    assert drill.undo_all() == []


def test_a_verified_state_just_recorded_is_the_pre_flight(drill: Drill) -> None:
    target = drill.targets[0]  # type: ignore[index]
    drill.record_baseline()
    observed = len(drill.evidence.attachments)
    drill.inject("break", target, {})
    assert not any(name.startswith("snapshot") for name, _ in
                   drill.evidence.attachments[observed:])
    event = next(e for e in drill.timeline.events if e.kind == "pre-flight")
    assert event.title.startswith("the verified state was recorded ")
    assert drill.undo_all() == []


def test_an_unhealthy_start_is_refused(drill: Drill) -> None:
    class Picky(StateProbe):
        name = "picky"

        def problems(self, values: dict[str, Any]) -> list[str]:
            return ["not good enough"]

    drill.probes.append(Picky())
    with pytest.raises(DrillError, match=r"not starting from a healthy cloud: .*not good enough"):
        drill.record_baseline()


def test_the_budget_is_enforced_with_every_deviation_named(drill: Drill) -> None:
    target = drill.targets[0]  # type: ignore[index]
    drill.record_baseline()
    drill.confirm(drill.inject("break", target, {}), timeout=1)
    from stackdrill.engine.drill import BudgetExceeded

    with pytest.raises(BudgetExceeded, match=r"not back to the verified state within 0\.5s of "
                                             r"the injection of fault break on c1: 1 "):
        drill.wait_verified(0.5)
    target.state["svc"] = "active"
    assert drill.wait_verified(5) < 5


def test_secrets_never_reach_evidence() -> None:
    redactor = Redactor()
    redactor.add("s3cr3t-pass")
    evidence = Evidence(redactor)
    evidence.attach_text("cmd", "mysql -psecret -p's3cr3t-pass'")
    evidence.attach_json("conf", {"password": "s3cr3t-pass"})
    assert all("s3cr3t-pass" not in text for _, text in evidence.attachments)
    assert "***" in evidence.attachments[0][1]


def test_a_fault_that_cannot_be_prepared_is_refused_before_the_journal(drill: Drill) -> None:
    from stackdrill.api._fault import FaultError

    class NothingToBreak(BreakService):
        name = "nothing_to_break"

        def prepare(self) -> dict[str, Any]:
            raise FaultError("svc is not running; nothing to break")

    drill.registries.faults.register(NothingToBreak)
    target = drill.targets[0]  # type: ignore[index]
    drill.record_baseline()
    with pytest.raises(DrillError, match="not injected: svc is not running"):
        drill.inject("nothing_to_break", target, {})
    assert drill.journal.pending() == []
    assert drill.faults == []


def test_a_failed_runbook_rolls_back_what_it_changed_on_purpose(drill: Drill) -> None:
    class DisableThenFail(Recovery):
        name = "disable_then_fail"
        description = "fake"

        def runbook(self) -> list[RunbookStep]:
            return [RunbookStep("disable", self.disable), RunbookStep("fail", self.fail)]

        def disable(self) -> None:
            self.target.state["enabled"] = "no"

        def fail(self) -> None:
            raise RecoveryFailed("the migration was refused")

        def rollback(self) -> list[str]:
            self.target.state["enabled"] = "yes"
            return ["enabled c1 again"]

    drill.registries.recoveries.register(DisableThenFail)
    target = drill.targets[0]  # type: ignore[index]
    with pytest.raises(RecoveryFailed, match="step 'fail': the migration was refused"):
        drill.recover("disable_then_fail", target, {})
    assert target.state["enabled"] == "yes"
    rollbacks = [e for e in drill.timeline.events if e.kind == "recovery-rollback"]
    assert [e.title for e in rollbacks] == ["enabled c1 again"]


class StopThenStep(Recovery):
    """Stops a service, then runs a second step the test makes fail or interrupt."""

    name = "stop_then_step"
    description = "fake"
    second: ClassVar[BaseException | None] = None
    rollback_fails: ClassVar[bool] = False
    during_second: ClassVar[list[Callable[[], None]]] = []

    def runbook(self) -> list[RunbookStep]:
        return [RunbookStep("stop", self.stop), RunbookStep("second", self.step)]

    def stop(self) -> None:
        self.target.state["svc"] = "inactive"

    def step(self) -> None:
        for hook in self.during_second:
            hook()
        if self.second is not None:
            raise self.second

    def rollback(self) -> list[str]:
        if self.rollback_fails:
            raise RecoveryFailed("host gone")
        if self.target.state["svc"] == "active":
            return []
        self.target.state["svc"] = "active"
        return ["started svc on c1"]


@pytest.fixture
def stop_then_step(drill: Drill) -> Iterator[type[StopThenStep]]:
    drill.registries.recoveries.register(StopThenStep)
    yield StopThenStep
    StopThenStep.second, StopThenStep.rollback_fails = None, False
    StopThenStep.during_second = []


def test_a_recovery_is_journalled_while_it_runs(drill: Drill,
                                                stop_then_step: type[StopThenStep]) -> None:
    seen: list[list[tuple[str, str]]] = []
    stop_then_step.during_second = [lambda: seen.append(
        [(e.kind, e.fault) for e in drill.journal.pending()])]
    drill.recover("stop_then_step", drill.targets[0], {})  # type: ignore[index]
    assert seen == [[("recovery", "stop_then_step")]]
    assert drill.journal.pending() == []


@pytest.mark.parametrize("interruption", [KeyboardInterrupt(), SystemExit(143)])
def test_an_interrupted_recovery_rolls_back_and_leaves_nothing_pending(
        drill: Drill, stop_then_step: type[StopThenStep], interruption: BaseException) -> None:
    stop_then_step.second = interruption
    target = drill.targets[0]  # type: ignore[index]
    with pytest.raises(type(interruption)):
        drill.recover("stop_then_step", target, {})
    assert target.state["svc"] == "active"
    assert [e.title for e in drill.timeline.events if e.kind == "recovery-rollback"] == [
        "started svc on c1"]
    assert drill.journal.pending() == []


def test_a_recovery_whose_rollback_failed_stays_pending_for_recover(
        drill: Drill, stop_then_step: type[StopThenStep], tmp_path: Path) -> None:
    from stackdrill.engine.recover import undo_pending

    stop_then_step.second = RecoveryFailed("refused")
    stop_then_step.rollback_fails = True
    target = drill.targets[0]  # type: ignore[index]
    with pytest.raises(RecoveryFailed):
        drill.recover("stop_then_step", target, {})
    assert target.state["svc"] == "inactive"
    assert [(e.kind, e.fault) for e in drill.journal.pending()] == [("recovery", "stop_then_step")]

    stop_then_step.rollback_fails = False
    targets = type("T", (), {"get": staticmethod(lambda name: target)})()
    lines, failures = undo_pending(drill.journal, targets, drill.registries)
    assert failures == 0
    assert lines == ["rolled back the interrupted recovery (started svc on c1) stop_then_step "
                     f"on c1 (armed by pid {os.getpid()}, run {drill.journal.run_id[:8]})"]
    assert target.state["svc"] == "active"
    assert drill.journal.pending() == []


class CountedProbe(Probe):
    name = "counted"
    description = "fake: counts its observations"
    seen: ClassVar[list[str]] = []

    def observe(self, target: Any) -> dict[str, Any]:
        self.seen.append(target.name)
        return {"counted": 1}


def test_an_unchanged_check_observes_only_the_probes_of_its_paths(drill: Drill) -> None:
    """After a full snapshot, "the state still matches at" re-observes only the probes that
    produce the named paths (merged into that snapshot); the others are not asked again."""
    drill.registries.probes.register(CountedProbe)
    drill.probes.append(CountedProbe())
    CountedProbe.seen.clear()
    drill.record_baseline()
    drill.deviations("during the fault")
    assert CountedProbe.seen == ["c1", "c1"]
    check_unchanged(drill, ["host:c1/unit:svc/active"])
    assert CountedProbe.seen == ["c1", "c1"]
    drill.targets[0].state["svc"] = "failed"  # type: ignore[index]
    with pytest.raises(DrillError, match="changed"):
        check_unchanged(drill, ["host:c1/unit:svc/active"])
    assert CountedProbe.seen == ["c1", "c1"]
