"""Safeguards: the table, the monitor's grace, the abort of a running wait, the undo, the aborted
outcome, the Allure category and the command line's exit code 3."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from stackdrill import cli
from stackdrill.api._fault import Fault
from stackdrill.api._registry import Registries
from stackdrill.api._runbook import Recovery, RunbookStep
from stackdrill.core.state import Rule, Snapshot
from stackdrill.core.waiting import PollRecord, WaitTimeout, observing, poll
from stackdrill.engine.drill import Drill, DrillError, SafeguardAborted, check_deviates
from stackdrill.engine.journal import Journal
from stackdrill.engine.safeguards import (
    Safeguard,
    SafeguardMonitor,
    SafeguardTripped,
    parse_safeguards,
)
from stackdrill.reporting.allure_files import CATEGORIES
from tests.unit.fake_cloud import events, fake_project, run_args
from tests.unit.test_drill import FakeTarget, FakeTargets, StateProbe

ROOT = Path(__file__).resolve().parents[2]

HEADER = ["path", "check", "grace"]


# -- the table ---------------------------------------------------------------------------------
def test_a_safeguard_table_is_parsed() -> None:
    found = parse_safeguards([HEADER, ["cloud/server:*/status", "exact", "0"],
                              [" host:*/load ", "max 8", "30 seconds"],
                              ["host:*/domain:*/qemu_pid", "present", "5s"]])
    assert found == [Safeguard(Rule("cloud/server:*/status", "exact"), 0.0),
                     Safeguard(Rule("host:*/load", "max", 8.0), 30.0),
                     Safeguard(Rule("host:*/domain:*/qemu_pid", "present"), 5.0)]
    assert found[1].text == "host:*/load max 8 (grace 30s)"


@pytest.mark.parametrize(("rows", "message"), [
    ([], "expected a table with the header | path | check | grace |"),
    ([["path", "rule"], ["a", "exact"]], "expected a table with the header"),
    ([HEADER], "the table lists no safeguard"),
    ([HEADER, ["a", "exact"]], "safeguards row 1: expected a path, a check and a grace"),
    ([HEADER, ["a", "", "0"]], "safeguards row 1: expected a path, a check and a grace"),
    ([HEADER, ["a b", "exact", "0"]], "row 1: path 'a b': expected one path pattern"),
    ([HEADER, ["a", "melt", "0"]], "safeguards row 1: bad rule 'a melt': unknown kind"),
    ([HEADER, ["a", "max", "0"]], "row 1: bad rule 'a max'"),
    ([HEADER, ["a", "ignore", "0"]], "row 1: check 'ignore' guards nothing"),
    ([HEADER, ["a", "exact", "soon"]], "row 1: grace 'soon': expected seconds"),
    ([HEADER, ["a", "exact", "-1"]], "row 1: grace '-1': expected seconds >= 0"),
    ([HEADER, ["a", "exact", "0"], ["b", "exact", "inf"]], "row 2: grace 'inf'"),
])
def test_a_malformed_safeguard_table_is_one_line(rows: list[list[str]], message: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_safeguards(rows)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


# -- the monitor -------------------------------------------------------------------------------
BASELINE = Snapshot(0.0, {"host:c1/svc:canary": "running", "host:c1/load": 1.0,
                          "cloud/server:a/status": "ACTIVE"})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def monitor_of(safeguards: list[Safeguard], states: list[dict[str, Any] | Exception],
               clock: Clock) -> SafeguardMonitor:
    def observe() -> Snapshot:
        state = states.pop(0)
        if isinstance(state, Exception):
            raise state
        return Snapshot(clock.now, state)

    return SafeguardMonitor(safeguards, BASELINE, observe, monotonic=clock)


def test_a_grace_of_zero_trips_at_the_first_failure() -> None:
    clock = Clock()
    guard = Safeguard(Rule("host:*/svc:*", "exact"), 0)
    monitor = monitor_of([guard], [{"host:c1/svc:canary": "running"},
                                   {"host:c1/svc:canary": "stopped"}], clock)
    assert monitor.tick() is None
    monitor.check()
    reason = monitor.tick()
    assert reason == ("safeguard host:*/svc:* exact (grace 0s) failed for 0.0s: "
                      "host:c1/svc:canary: 'running' -> 'stopped'")
    with pytest.raises(SafeguardTripped, match="host:c1/svc:canary"):
        monitor.check()
    assert monitor.tick() == reason  # tripped stays tripped, nothing observed any more
    assert monitor.ticks == 2


def test_the_grace_counts_continuous_failure_only() -> None:
    clock = Clock()
    guard = Safeguard(Rule("host:*/load", "max", 4.0), 10)
    states: list[dict[str, Any] | Exception] = [
        {"host:c1/load": 9.0}, {"host:c1/load": 9.0},  # 0 s, 6 s: failing, within the grace
        {"host:c1/load": 2.0},                          # 9 s: fine again, the count restarts
        {"host:c1/load": 9.0}, {"host:c1/load": 9.0},  # 12 s, 21 s: 9 s failing
        {"host:c1/load": 9.0}]                          # 22 s: 10 s failing: trips
    monitor = monitor_of([guard], states, clock)
    for at in (0, 6, 9, 12, 21):
        clock.now = 100.0 + at
        assert monitor.tick() is None, at
    clock.now = 122.0
    assert monitor.tick() == ("safeguard host:*/load max 4 (grace 10s) failed for 10.0s: "
                              "host:c1/load: 1.0 -> 9.0")


def test_what_cannot_be_observed_counts_as_failing() -> None:
    clock = Clock()
    guard = Safeguard(Rule("cloud/server:*/status", "exact"), 0)
    missing = monitor_of([guard], [{}], clock)
    missing.observe = lambda: Snapshot(0.0, {}, {"cloud/probe:cloud_api": "503 from nova"})
    assert missing.tick() == ("safeguard cloud/server:*/status exact (grace 0s) failed for "
                              "0.0s: cloud/server:a/status: unobserved (503 from nova)")
    broken = monitor_of([guard], [RuntimeError("probe crashed")], clock)
    reason = broken.tick()
    assert reason is not None and "cloud/server:a/status: unobserved" in reason


def test_a_safeguard_matching_nothing_is_reported() -> None:
    monitor = SafeguardMonitor([Safeguard(Rule("host:*/svc:canary", "exact"), 0),
                                Safeguard(Rule("host:*/svc:typo", "exact"), 0)],
                               BASELINE, lambda: BASELINE)
    assert [s.rule.pattern for s in monitor.unguarded()] == ["host:*/svc:typo"]


def test_the_background_poller_trips_and_stops() -> None:
    state = {"host:c1/svc:canary": "running"}
    monitor = SafeguardMonitor([Safeguard(Rule("host:*/svc:canary", "exact"), 0)], BASELINE,
                               lambda: Snapshot(0.0, dict(state)), interval=0.01)
    monitor.start()
    poll(lambda: monitor.ticks >= 2, timeout=5, interval=0.01, description="two observations")
    assert monitor.tripped is None
    state["host:c1/svc:canary"] = "stopped"
    poll(lambda: monitor.tripped, timeout=5, interval=0.01, description="tripped")
    poll(lambda: not monitor.running, timeout=5, interval=0.01, description="poller ends")
    ticks = monitor.ticks
    monitor.stop()
    assert monitor.ticks == ticks


# -- waits are observed ------------------------------------------------------------------------
def test_an_observer_sees_every_pause_and_may_end_the_wait() -> None:
    seen: list[tuple[int, float]] = []

    def watch(record: PollRecord, remaining: float) -> None:
        seen.append((len(record.attempts), remaining))
        if len(record.attempts) == 3:
            raise SafeguardTripped("stop now")

    with observing(watch), pytest.raises(SafeguardTripped, match="stop now"):
        poll(lambda: False, timeout=60, interval=0.001, description="never")
    assert [n for n, _ in seen] == [1, 2, 3]
    assert all(0 < remaining <= 60 for _, remaining in seen)
    seen.clear()
    with pytest.raises(WaitTimeout):  # outside the context nobody is asked
        poll(lambda: False, timeout=0.01, interval=0.001, description="never")
    assert seen == []


# -- the drill ---------------------------------------------------------------------------------
UNDONE: list[str] = []


class Stop(Fault):
    name = "stop"
    description = "fake"
    params: ClassVar[Mapping[str, Any]] = {}

    def plan(self) -> list[str]:
        return ["stop canary"]

    def prepare(self) -> dict[str, Any]:
        return {}

    def inject(self, facts: Mapping[str, Any]) -> None:
        self.target.state["canary"] = "failed"

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        return "stopped"

    def undo(self, facts: Mapping[str, Any]) -> None:
        UNDONE.append(self.target.name)
        self.target.state["canary"] = "active"


class WaitForever(Recovery):
    name = "wait_forever"
    description = "a runbook step that waits for something that never happens"

    def runbook(self) -> list[RunbookStep]:
        def wait() -> None:
            poll(lambda: False, timeout=60, interval=0.01, description="never")

        return [RunbookStep("wait for nothing", wait)]


@pytest.fixture
def drill(tmp_path: Path) -> Drill:
    UNDONE.clear()
    registries = Registries()
    registries.faults.register(Stop)
    registries.probes.register(StateProbe)
    registries.recoveries.register(WaitForever)
    targets = FakeTargets([FakeTarget("c1"), FakeTarget("c2")])
    for target in targets:
        target.state = {"canary": "active", "other": "active"}
    return Drill("t", targets, registries,  # type: ignore[arg-type]
                 Journal(tmp_path / "journal.jsonl"), safeguard_interval=0.01)


def canary_guard(grace: str = "0") -> list[Safeguard]:
    return parse_safeguards([HEADER, ["host:c1/unit:canary/active", "exact", grace]])


def test_a_tripped_safeguard_stops_the_wait_and_every_fault_is_undone(drill: Drill) -> None:
    drill.record_baseline()
    drill.guard_with(canary_guard(grace="0.5"))
    target = drill.targets[0]  # type: ignore[index]
    drill.inject("stop", target, {})
    assert drill.monitor is not None and drill.monitor.running
    started = time.monotonic()
    with pytest.raises(SafeguardAborted) as aborted:
        drill.wait_verified(60)
    assert time.monotonic() - started < 10  # stopped at a poll, long before the budget
    assert str(aborted.value).startswith("aborted by safeguard: safeguard "
                                         "host:c1/unit:canary/active exact (grace 0.5s) failed "
                                         "for ")
    assert drill.aborted is not None and drill.aborted in str(aborted.value)
    assert drill.result.time_to_recover is None
    # every later action stops at once, before doing anything
    with pytest.raises(SafeguardAborted):
        drill.inject("stop", drill.targets[1], {})  # type: ignore[index]
    assert len(drill.journal.pending()) == 1
    assert drill.undo_all() == []
    assert UNDONE == ["c1"]
    assert drill.journal.pending() == []
    assert target.state["canary"] == "active"
    assert not drill.monitor.running
    kinds = [event.kind for event in drill.timeline.events]
    assert kinds == ["baseline", "pre-flight", "safeguards", "fault-injected", "aborted",
                     "undone"]
    assert "verification attempts" not in dict(drill.evidence.attachments)


def test_an_abort_interrupts_a_runbook_step_at_its_next_poll(drill: Drill) -> None:
    drill.record_baseline()
    drill.guard_with(canary_guard(grace="0.5"))
    target = drill.targets[0]  # type: ignore[index]
    drill.confirm(drill.inject("stop", target, {}), timeout=1)
    started = time.monotonic()
    with pytest.raises(SafeguardAborted):
        drill.recover("wait_forever", target, {})
    assert time.monotonic() - started < 10
    step = drill.result.recoveries[0].steps[0]
    assert step.ok is False and step.error is not None and "aborted by safeguard" in step.error
    assert drill.undo_all() == []
    assert UNDONE == ["c1"]


def test_an_abort_interrupts_the_wait_for_the_fault_s_effect(drill: Drill) -> None:
    drill.record_baseline()
    drill.guard_with(canary_guard())
    drill.inject("stop", drill.targets[1], {})  # type: ignore[index]
    # the guarded canary on c1 fails only now, once the injection is over
    drill.targets[0].state["canary"] = "failed"  # type: ignore[index]
    with pytest.raises(SafeguardAborted):
        check_deviates(drill, ["host:c2/unit:other/*"], within=60)


def test_a_safeguard_within_its_grace_lets_the_drill_recover(drill: Drill) -> None:
    drill.record_baseline()
    drill.guard_with(canary_guard(grace="60"))
    target = drill.targets[0]  # type: ignore[index]
    drill.confirm(drill.inject("stop", target, {}), timeout=1)
    monitor = drill.monitor
    assert monitor is not None
    poll(lambda: monitor.ticks >= 3, timeout=5, interval=0.01, description="observed")
    target.state["canary"] = "active"
    assert drill.wait_verified(30) < 30
    assert drill.aborted is None
    assert drill.undo_all() == []


def test_safeguards_that_guard_nothing_refuse_the_fault_before_the_journal(drill: Drill) -> None:
    drill.guard_with(canary_guard())
    with pytest.raises(DrillError, match="no verified state recorded before the first fault"):
        drill.inject("stop", drill.targets[0], {})  # type: ignore[index]
    drill.record_baseline()
    drill.safeguards[:] = parse_safeguards([HEADER, ["host:*/unit:typo/active", "exact", "0"]])
    with pytest.raises(DrillError, match=r"^safeguard host:\*/unit:typo/active: no such path in "
                                         r"the verified state; nothing injected$"):
        drill.inject("stop", drill.targets[0], {})  # type: ignore[index]
    assert drill.journal.pending() == []
    assert drill.monitor is None
    assert drill.targets[0].state["canary"] == "active"  # type: ignore[index]


def test_safeguards_come_before_the_first_fault(drill: Drill) -> None:
    drill.record_baseline()
    drill.guard_with(canary_guard(grace="60"))
    drill.inject("stop", drill.targets[0], {})  # type: ignore[index]
    with pytest.raises(DrillError, match="before the first fault"):
        drill.guard_with(canary_guard())
    drill.undo_all()


# -- reports -----------------------------------------------------------------------------------
def test_the_allure_category_catches_aborts_first() -> None:
    category = CATEGORIES[0]
    assert category["name"] == "aborted by safeguard"
    message = "aborted by safeguard: safeguard host:*/svc:x exact (grace 0s) failed for 0.0s"
    assert re.fullmatch(str(category["messageRegex"]), message)
    assert not re.fullmatch(str(category["messageRegex"]), "fault not confirmed: x")


# -- the command line, end to end on a fake cloud -----------------------------------------------
FEATURE = """\
Feature: safeguarded drills
  Background:
    Given a compute host
    And the cloud is in its verified state
    And the safeguards:
      | path                  | check | grace |
      | host:*/svc:canary     | exact | 1     |

  Scenario: the fault takes the guarded canary down
    When the fault "fake_stop" is injected on the compute host:
      | service | canary |
    Then the fault is confirmed within 5 seconds
    And the cloud is back to its verified state within 60 seconds

  Scenario: a later drill never starts
    When the fault "fake_stop" is injected on the compute host:
      | service | other |
    Then the fault is confirmed within 5 seconds
"""


def test_stackdrill_run_exits_3_when_a_safeguard_aborts(tmp_path: Path) -> None:
    """A real process: the scenarios reach Allure steps, which in-process runs would share with
    this test session's own Allure listener."""
    features, inventory = fake_project(tmp_path, FEATURE)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "stackdrill.cli",
         *run_args(tmp_path, features, inventory, pytest_args=("--safeguard-interval", "0.02"))],
        cwd=ROOT, env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
        capture_output=True, text=True, timeout=120, check=False)
    out, err = result.stdout, result.stderr
    assert result.returncode == cli.EXIT_ABORTED, out + err
    assert time.monotonic() - started < 45  # the 60 s wait was interrupted
    assert events(features) == ["inject compute1/canary", "undo compute1/canary"]
    assert Journal(tmp_path / "journal.jsonl").pending() == []
    assert json.loads((features / "state.json").read_text())["compute1/canary"] == "running"
    records = [json.loads(line) for line in
               (tmp_path / "history.jsonl").read_text().splitlines()]
    assert [(r["scenario"], r["result"]) for r in records] == [
        ("the fault takes the guarded canary down", "aborted")]
    assert records[0]["reason"].startswith("safeguard host:*/svc:canary exact (grace 1s)")
    assert "aborted by safeguard" in out
    assert "Traceback" not in out + err
    err_lines = [line for line in err.splitlines() if line.strip()]
    assert len(err_lines) == 1 and err_lines[0].startswith("stackdrill: aborted by safeguard: ")
    results = [json.loads(p.read_text()) for p in (tmp_path / "reports/latest/allure-results")
               .glob("*-result.json")]
    assert [r["statusDetails"]["message"].startswith("Failed: aborted by safeguard: ")
            for r in results] == [True]
    categories = json.loads((tmp_path / "reports/latest/allure-results/categories.json")
                            .read_text())
    assert categories[0]["name"] == "aborted by safeguard"


def test_the_exit_codes_are_documented() -> None:
    assert (cli.EXIT_OK, cli.EXIT_FAILED, cli.EXIT_BAD_INPUT, cli.EXIT_ABORTED) == (0, 1, 2, 3)
    assert cli.EXIT_MEANINGS[3].startswith("a drill was aborted by a safeguard")
    assert cli._exit_code(3) == cli.EXIT_FAILED  # pytest's internal error: the harness broke
    assert cli._exit_code(4) == cli.EXIT_BAD_INPUT
