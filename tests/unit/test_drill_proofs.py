"""What a drill's verdict rests on: the time to recover runs from the drill's first fault, or from
its first procedure when it has none; every fault is confirmed before a recovery acts on it; and
damage the scenario says its recovery repairs is repaired, not left for the undo to put back."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pytest_bdd.parser import FeatureParser

from stackdrill.api._fault import FaultError
from stackdrill.api._registry import Registries, load_registries
from stackdrill.api._runbook import Recovery, RunbookStep
from stackdrill.core.params import Param, boolean
from stackdrill.core.waiting import Attempt, PollRecord
from stackdrill.engine.drill import (
    BudgetExceeded,
    Drill,
    FaultNotConfirmed,
    NotRepaired,
    PreflightFailed,
)
from stackdrill.engine.journal import Journal
from stackdrill.engine.preflight import check_confirmed, check_steps
from stackdrill.engine.verdicts import DrillResult
from tests.unit.gherkin_fakes import Step, Table
from tests.unit.test_drill import BreakService, FakeTarget, FakeTargets, StateProbe

FEATURES = Path(__file__).parents[2] / "features"


class Maintain(Recovery):
    """A procedure that takes its time and leaves the cloud as it found it."""

    name = "maintain"
    description = "fake"

    def runbook(self) -> list[RunbookStep]:
        return [RunbookStep("drain", lambda: time.sleep(0.3)), RunbookStep("return", _nothing)]


def _nothing() -> None:
    return None


class RemoveFile(BreakService):
    """Breaks the service and removes a file; the scenario may say the recovery re-creates it."""

    name = "remove_file"
    params: ClassVar[Mapping[str, Param]] = {
        "recreated": Param("the recovery re-creates it", boolean, False),
        "fail_undo": Param("x", str, "no")}

    def inject(self, facts: Mapping[str, Any]) -> None:
        super().inject(facts)
        self.host.files = set()

    def unrepaired(self, facts: Mapping[str, Any]) -> str | None:
        if not self.values["recreated"] or "/x.xml" in self.host.files:
            return None
        return f"{self.target.name}: not re-created: /x.xml"

    def undo(self, facts: Mapping[str, Any]) -> None:
        super().undo(facts)
        self.host.files = {"/x.xml"}

    @property
    def host(self) -> Any:
        return self.target


@pytest.fixture
def drill(tmp_path: Path) -> Drill:
    registries = Registries()
    registries.faults.register(BreakService)
    registries.faults.register(RemoveFile)
    registries.probes.register(StateProbe)
    registries.recoveries.register(Maintain)
    target = FakeTarget("c1")
    journal = Journal(tmp_path / "journal.jsonl")
    target.journal = journal  # type: ignore[attr-defined]
    target.files = {"/x.xml"}  # type: ignore[attr-defined]
    drill = Drill("t", FakeTargets([target]), registries, journal)  # type: ignore[arg-type]
    drill.record_baseline()
    return drill


def _c1(drill: Drill) -> Any:
    return drill.targets[0]  # type: ignore[index]


# -- the budget --------------------------------------------------------------------------------
def test_a_procedure_without_a_fault_is_timed_from_its_first_step(drill: Drill) -> None:
    drill.recover("maintain", _c1(drill), {})
    late = (r"^not back to the verified state within 0\.2s of the start of procedure maintain "
            r"on c1: back after 0\.3\ds$")
    with pytest.raises(BudgetExceeded, match=late):
        drill.wait_verified(0.2)
    assert drill.result.measured_from == "the start of procedure maintain on c1"
    assert ("budget", "0.2s, measured from the start of procedure maintain on c1") \
        in drill.evidence.attachments
    ttr = drill.wait_verified(5)
    assert ttr >= 0.3
    verified = [e.title for e in drill.timeline.events if e.kind == "verified"]
    assert verified == [f"verified state restored, time to recover {ttr:.2f}s (budget 5s from "
                        f"the start of procedure maintain on c1)"]


def test_with_a_fault_the_budget_runs_from_its_injection_and_says_so(drill: Drill) -> None:
    drill.recover("maintain", _c1(drill), {})  # a procedure before the fault (a backup)
    active = drill.inject("break", _c1(drill), {})
    drill.confirm(active, timeout=1)
    _c1(drill).state["svc"] = "active"
    assert drill.wait_verified(5) < 0.3
    assert drill.result.measured_from == "the injection of fault break on c1"


def test_the_time_spent_observing_inside_the_timed_waits_is_kept(drill: Drill) -> None:
    """Each attempt of the confirmation and of the wait for the verified state is stackdrill's
    own time (benchmarks/harness_overhead.py counts it as overhead, not as the cloud's)."""
    active = drill.inject("break", _c1(drill), {})
    drill.confirm(active, timeout=1)
    _c1(drill).state["svc"] = "active"
    drill.wait_verified(5)
    assert set(drill.result.observing) == {"confirm", "verify"}
    assert all(0.0 <= spent < 5.0 for spent in drill.result.observing.values())


def test_observing_after_the_verified_state_was_first_seen_is_not_in_the_wait() -> None:
    """The verified state is first seen at the start of the snapshot that shows it; the rest
    of that attempt (its confirming full snapshot) is after the timed wait, so it is not
    counted inside it (it was, and a drill's waits came out negative)."""
    record = PollRecord("back", timeout=10, attempts=[
        Attempt(1, at=0.0, duration=1.0, ok=False, detail="not yet"),
        Attempt(2, at=2.0, duration=3.0, ok=True, detail="back")])
    result = DrillResult("d")
    result.observed("confirm", record)
    result.observed("verify", record, until=2.5)
    assert result.observing == {"confirm": 4.0, "verify": 1.5}


def test_a_check_alone_says_it_times_only_itself(drill: Drill) -> None:
    drill.wait_verified(5)
    assert drill.result.measured_from == ("the start of this check (no fault injected, no "
                                          "procedure run)")


# -- every fault confirmed ---------------------------------------------------------------------
def test_no_recovery_runs_while_a_fault_is_unconfirmed(drill: Drill) -> None:
    drill.inject("remove_file", _c1(drill), {})
    drill.confirm(drill.inject("break", _c1(drill), {}), timeout=1)  # only the last one
    with pytest.raises(FaultNotConfirmed, match=r"^fault not confirmed: remove_file on c1 was "
                                                r"never confirmed before the recovery maintain; "):
        drill.recover("maintain", _c1(drill), {})
    assert drill.result.recoveries == []
    assert [entry.kind for entry in drill.journal.pending()] == ["fault", "fault"]
    drill.confirm_all(timeout=1)
    assert drill.recover("maintain", _c1(drill), {}).ok


def test_an_unconfirmed_fault_is_not_ended_and_fails_the_verification(drill: Drill) -> None:
    drill.inject("break", _c1(drill), {})
    with pytest.raises(FaultNotConfirmed, match="before the end of break"):
        drill.end_faults("break")
    _c1(drill).state["svc"] = "active"
    with pytest.raises(FaultNotConfirmed, match="before the verified state was accepted"):
        drill.wait_verified(5)


# -- what the recovery was to repair -----------------------------------------------------------
def test_damage_the_recovery_was_to_repair_fails_the_drill_before_the_undo(drill: Drill) -> None:
    drill.confirm(drill.inject("remove_file", _c1(drill), {"recreated": "yes"}), timeout=1)
    _c1(drill).state["svc"] = "active"  # the service is back, the file is not
    with pytest.raises(NotRepaired) as failed:
        drill.wait_verified(5)
    assert str(failed.value) == ("the verified state is back, but not what the recovery was to "
                                 "repair after remove_file on c1: c1: not re-created: /x.xml")
    assert "\n" not in str(failed.value)
    assert drill.undo_all() == []
    assert _c1(drill).files == {"/x.xml"}


def test_repaired_damage_or_no_claim_passes(drill: Drill) -> None:
    drill.confirm(drill.inject("remove_file", _c1(drill), {"recreated": "yes"}), timeout=1)
    _c1(drill).state["svc"] = "active"
    _c1(drill).files = {"/x.xml"}  # re-created by the recovery
    assert drill.wait_verified(5) < 5
    drill.undo_all()
    drill.confirm(drill.inject("remove_file", _c1(drill), {}), timeout=1)
    _c1(drill).state["svc"] = "active"
    assert drill.wait_verified(5) < 5


# -- the drills as written ---------------------------------------------------------------------
def test_every_shipped_drill_confirms_each_fault_before_acting_on_it() -> None:
    """The check collection runs (:func:`stackdrill.engine.preflight.check_confirmed`), over every
    scenario shipped."""
    problems = []
    for path in sorted(FEATURES.rglob("*.feature")):
        feature = FeatureParser(str(FEATURES), str(path.relative_to(FEATURES))).parse()
        for scenario in feature.scenarios.values():
            problems += check_confirmed(str(path.relative_to(FEATURES)), scenario.steps)
    assert problems == []


ON_EVERY = Step('the fault "power_off_host" is injected on every host', 5)
ON_ONE = Step('the fault "kill_service" is injected on the compute host:', 4,
              Table([["service", "dbus"]]))
ONE_CONFIRMED = Step("the fault is confirmed within 10 seconds", 7)
ALL_CONFIRMED = Step("the faults are confirmed within 60 seconds", 7)
RECOVERY = Step('the recovery "start_services" runs on the compute host:', 8,
                Table([["services", "dbus"]]))
ENDS = Step('the fault "power_off_host" ends', 8)
BACK = Step("the cloud is back to its verified state within 120 seconds", 9)


@pytest.mark.parametrize(("steps", "line", "fragment"), [
    ([ON_ONE, RECOVERY], 8, "the recovery 'start_services' acts before the fault "
                            "'kill_service' of line 4 is confirmed"),
    ([ON_ONE, ON_EVERY, ONE_CONFIRMED, ENDS], 8,
     "the fault 'power_off_host' ends before the fault 'power_off_host' of line 5"),
    ([ON_EVERY, BACK], 9, "the return to the verified state is checked before the fault "
                          "'power_off_host' of line 5 is confirmed"),
    # the singular confirmation with no fault injected on one host: pytest-bdd has no
    # 'active_fault' fixture for it, after the injection
    ([ON_EVERY, ONE_CONFIRMED, BACK], 7, "the singular confirmation has no fault injected on "
                                         "one host before it; use 'the faults are confirmed'"),
    ([ONE_CONFIRMED, ON_ONE, ONE_CONFIRMED], 7, "the singular confirmation has no fault"),
    # nothing acts on it, and nothing confirms it either: the drill would pass on the undo alone
    ([ON_ONE], 4, "the fault 'kill_service' of line 4 is never confirmed"),
    ([ON_EVERY, ON_ONE, ONE_CONFIRMED], 5, "the fault 'power_off_host' of line 5 is never "
                                           "confirmed"),
    ([ON_EVERY, ON_ONE, ONE_CONFIRMED, RECOVERY], 8, "the fault 'power_off_host' of line 5"),
    ([ON_ONE, RECOVERY, ONE_CONFIRMED, BACK], 8, "the fault 'kill_service' of line 4"),
])
def test_acting_on_an_unconfirmed_fault_is_refused_at_its_line(steps: list[Step], line: int,
                                                               fragment: str) -> None:
    """The singular confirmation covers the last fault injected on one host; an every-host
    injection, or any fault before the last, needs the plural one. Only the first step that
    acts too early is named."""
    problems = check_confirmed("x.feature", steps)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"x.feature:{line}: "), problems
    assert fragment in problems[0], problems
    assert "\n" not in problems[0]


@pytest.mark.parametrize("steps", [
    [ON_ONE, ONE_CONFIRMED, RECOVERY, BACK],
    [ON_ONE, ON_EVERY, ALL_CONFIRMED, ENDS, RECOVERY, BACK],
    [ON_EVERY, ON_ONE, ONE_CONFIRMED, ALL_CONFIRMED, RECOVERY],
    [RECOVERY, BACK],  # a procedure alone
    [ON_ONE, ONE_CONFIRMED],  # nothing acts on it (the undo ends it)
])
def test_acting_on_confirmed_faults_is_accepted(steps: list[Step]) -> None:
    assert check_confirmed("x.feature", steps) == []


def test_the_collection_check_includes_the_confirmations() -> None:
    problems = check_steps("x.feature", [Step("a compute host", 3), ON_ONE, RECOVERY],
                           load_registries())
    assert [p.split(": ")[0] for p in problems] == ["x.feature:8"]


def test_every_shipped_drill_passes_the_collection_checks() -> None:
    """Every check collection runs on a scenario's steps (:func:`check_steps`), over every
    scenario shipped, with the built-in faults and recoveries."""
    registries = load_registries()
    problems = []
    for path in sorted(FEATURES.rglob("*.feature")):
        feature = FeatureParser(str(FEATURES), str(path.relative_to(FEATURES))).parse()
        for scenario in feature.scenarios.values():
            problems += check_steps(str(path.relative_to(FEATURES)), scenario.steps, registries)
    assert problems == []


# -- a repair the scenario claims is checked ---------------------------------------------------
COMPUTE = Step("a compute host", 3)


def _removal(recreates: str) -> Step:
    return Step('the fault "remove_files" is injected on the compute host:', 4,
                Table([["path", "/etc/libvirt/qemu/*.xml"], ["recovery_recreates", recreates]]))


REMOVAL_CONFIRMED = Step("the fault is confirmed within 10 seconds", 7)
REBOOT = Step('the recovery "after_compute_reboot" runs on the compute host', 8)
REMOVAL_ENDS = Step('the fault "remove_files" ends', 9)
BACK_LATER = Step("the cloud is back to its verified state within 120 seconds", 10)


@pytest.mark.parametrize("steps", [
    [COMPUTE, _removal("yes"), REMOVAL_CONFIRMED, REBOOT],
    [COMPUTE, _removal("yes"), REMOVAL_CONFIRMED, REBOOT, REMOVAL_ENDS, BACK_LATER],
])
def test_a_claimed_repair_nothing_checks_is_refused(steps: list[Step]) -> None:
    """Without 'the cloud is back to its verified state' while the fault is in place, the drill
    never looks for what the recovery was to re-create: the undo puts it back, unnoticed."""
    problems = check_steps("x.feature", steps, load_registries())
    assert problems == ["x.feature:4: the fault 'remove_files' says its recovery re-creates "
                        "what it removes (recovery_recreates), but no later step 'the cloud is "
                        "back to its verified state within N seconds' checks that before the "
                        "fault ends"]


@pytest.mark.parametrize("steps", [
    [COMPUTE, _removal("yes"), REMOVAL_CONFIRMED, REBOOT, BACK_LATER],
    [COMPUTE, _removal("yes"), REMOVAL_CONFIRMED, REBOOT, BACK_LATER, REMOVAL_ENDS],
    [COMPUTE, _removal("no"), REMOVAL_CONFIRMED, REBOOT],
])
def test_a_claimed_repair_checked_or_no_claim_is_accepted(steps: list[Step]) -> None:
    assert check_steps("x.feature", steps, load_registries()) == []


def test_the_xml_drill_says_its_recovery_re_creates_the_files() -> None:
    feature = FeatureParser(str(FEATURES), "compute/compute_reboot.feature").parse()
    steps = feature.scenarios["a compute node is reset and an instance's libvirt XML is gone"] \
        .steps
    removal = next(s for s in steps if 'fault "remove_files"' in s.name)
    assert removal.datatable is not None
    assert ["recovery_recreates", "yes"] in removal.datatable.raw()


def test_the_storage_node_reboot_is_proven_by_a_new_boot_identity() -> None:
    feature = FeatureParser(str(FEATURES), "object_storage/storage_node.feature").parse()
    scenario = next(s for name, s in feature.scenarios.items() if "reboots" in name)
    reboot = next(s for s in scenario.steps if 'fault "reboot_host"' in s.name)
    assert reboot.datatable is not None
    assert ["proof", "boot_identity"] in reboot.datatable.raw()



def test_the_history_and_the_report_say_what_the_budget_covers(drill: Drill) -> None:
    from stackdrill.reporting.history import Run, drill_record
    from stackdrill.reporting.html import render
    from stackdrill.reporting.outcome import Outcome
    from stackdrill.reporting.report import group

    drill.recover("maintain", _c1(drill), {})
    drill.wait_verified(5)
    record = drill_record(drill, feature="f.feature", scenario="maintenance", cloud=None,
                          result=Outcome("passed"), ended=time.time())
    assert record["measured_from"] == "the start of procedure maintain on c1"
    page = render(group([Run.from_record(record)]), "history.jsonl")
    assert "budget), measured from the start of procedure maintain on c1</span>" in page


class SlowBreak(BreakService):
    """A fault whose injection takes its time to return (a graceful reboot, a BMC power-off)."""

    name = "slow_break"

    def inject(self, facts: Mapping[str, Any]) -> None:
        super().inject(facts)
        time.sleep(0.3)


class ConfirmRaises(BreakService):
    name = "confirm_raises"

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        raise FaultError("unexpected answer from the host: 'garbage'")


def test_the_clock_runs_from_the_moment_the_injection_began(drill: Drill) -> None:
    drill.registries.faults.register(SlowBreak)
    before = time.time()
    active = drill.inject("slow_break", _c1(drill), {})
    assert before <= active.injected_at < before + 0.2


def test_a_confirm_that_raises_fails_the_drill_in_one_line(drill: Drill) -> None:
    drill.registries.faults.register(ConfirmRaises)
    active = drill.inject("confirm_raises", _c1(drill), {})
    with pytest.raises(FaultNotConfirmed, match="confirm_raises on c1: unexpected answer"):
        drill.confirm(active, 1.0)


def test_a_path_the_scenario_checks_unchanged_must_exist_before_the_first_fault(
        drill: Drill) -> None:
    """A typo in a 'still matches' table is found before anything is injected."""
    drill.expected_paths = ["host:*/unit:no-such-unit/active"]
    with pytest.raises(PreflightFailed, match=r"no-such-unit.*nothing injected"):
        drill.inject("break", _c1(drill), {})
    assert drill.faults == []
    assert drill.journal.pending() == []


def test_the_end_of_the_confirming_snapshot_is_marked(drill: Drill) -> None:
    """The phase after the verified state is split at marks (benchmarks/harness_overhead.py):
    the first is the end of the full snapshot that confirmed it."""
    before = time.time()
    drill.wait_verified(5)
    assert before <= drill.result.marks["confirmed"] <= time.time()
