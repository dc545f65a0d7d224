"""Bad feature input is refused when the features are collected, by ``stackdrill run`` and by
``stackdrill plan`` alike: exit code 2, one line naming the feature file and the line, no
traceback, nothing injected or journalled. Without these checks each case below injected its
fault first and failed afterwards.

The runs go through ``stackdrill.cli.main`` in-process on the fake cloud of
``tests.unit.fake_cloud``, whose fault records every injection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackdrill import cli
from tests.unit.fake_cloud import CANARY_SCENARIO, Ran, events, fake_project, run_args, stackdrill

GOOD = "Feature: a drill on the fake cloud\n" + CANARY_SCENARIO
CONFIRM = "    Then the fault is confirmed within 5 seconds\n"
RECOVERY = ('    When the recovery "fake_start" runs on the compute host:\n'
            "      | service | canary |\n")
BACK = "    Then the cloud is back to its verified state within 5 seconds\n"
SECOND_FAULT = ('    When the fault "fake_stop" is injected on the compute host:\n'
                "      | service | other |\n")

# (the feature, the line the refusal names, a fragment of its message)
BAD = {
    "given tolerance row": (GOOD.replace("svc:other ignore ", "svc:other melt   "), 7,
                            "unknown kind"),
    "when tolerance row": (GOOD.replace("svc:canary ignore", "svc:canary abs -1"), 12,
                           "needs a value >= 0"),
    "role no given chose": (GOOD.replace('runs on the compute host', 'runs on the storage host'),
                            14, "no earlier step 'Given a storage host'"),
    "given after the step": (GOOD.replace("    Given a compute host\n    And the cloud",
                                          "    Given the cloud").replace(
        "    Then the cloud", "    Given a compute host\n    Then the cloud"), 7,
        "no earlier step 'Given a compute host'"),
    "unknown role": (GOOD.replace("Given a compute host", "Given a gpu host").replace(
        "on the compute host", "on the gpu host"), 3, "unknown role 'gpu'"),
    # a fault is confirmed before anything acts on it
    "recovery before the confirm": (GOOD.replace(CONFIRM, "").replace(
        RECOVERY, RECOVERY + CONFIRM), 13,
        "the recovery 'fake_start' acts before the fault 'fake_stop' of line 8 is confirmed"),
    "verdict before any confirm": (GOOD.replace(CONFIRM, "").replace(RECOVERY, ""), 13,
                                   "the return to the verified state is checked before the "
                                   "fault 'fake_stop' of line 8 is confirmed"),
    "fault ended before its confirm": (GOOD.replace(
        RECOVERY, '    When the fault "fake_stop" ends\n').replace(CONFIRM, "").replace(
        "    Then the cloud", CONFIRM + "    Then the cloud"), 13,
        "the fault 'fake_stop' ends before the fault 'fake_stop' of line 8 is confirmed"),
    "the singular confirm covers only the last fault": (GOOD.replace(
        "    And the verified state from now on", SECOND_FAULT + "    And the verified state "
        "from now on"), 16, "before the fault 'fake_stop' of line 8 is confirmed"),
    # nothing acts on the fault and nothing confirms it: the run passed on the undo alone
    "a fault never confirmed": (GOOD.replace(CONFIRM, "").replace(RECOVERY, "").replace(
        BACK, ""), 8, "the fault 'fake_stop' of line 8 is never confirmed"),
    # the singular confirm has no 'active_fault' after an injection on every host
    "the singular confirm after every host": (GOOD.replace(
        "is injected on the compute host:", "is injected on every compute host:"), 13,
        "the singular confirmation has no fault injected on one host before it; use 'the faults "
        "are confirmed'"),
}


def plan_args(features: Path, inventory: Path) -> list[str]:
    return ["plan", str(features), "--inventory", str(inventory), "--", "-c", "/dev/null",
            "--rootdir", str(features), "-p", "no:cacheprovider", "--import-mode=importlib"]


def assert_refused(ran: Ran, directory: Path, features: Path, where: str, fragment: str) -> None:
    lines = [line for line in ran.stderr.splitlines() if line.strip()]
    assert ran.code == cli.EXIT_BAD_INPUT, ran
    assert len(lines) == 1, ran
    assert where in lines[0] and fragment in lines[0], ran
    assert "Traceback" not in ran.stdout + ran.stderr, ran
    assert events(features) == []
    assert not (directory / "journal.jsonl").exists()
    assert not (directory / "state" / "stackdrill" / "journal.jsonl").exists()


@pytest.mark.parametrize("command", ["run", "plan"])
@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_steps_are_refused_at_collection(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                             case: str, command: str) -> None:
    feature, line, fragment = BAD[case]
    features, inventory = fake_project(tmp_path, feature)
    argv = run_args(tmp_path, features, inventory) if command == "run" \
        else plan_args(features, inventory)
    ran = stackdrill(argv, tmp_path, capfd)
    assert_refused(ran, tmp_path, features, f"drills.feature:{line}:", fragment)


def test_the_good_feature_is_planned(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """The refusals above come from the changes, not from the feature they start from."""
    features, inventory = fake_project(tmp_path, GOOD)
    ran = stackdrill(plan_args(features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_OK, ran
    assert "  fault fake_stop on compute1 (compute host, line 8)" in ran.stdout.splitlines()


def test_the_plural_confirm_covers_every_fault(tmp_path: Path,
                                              capfd: pytest.CaptureFixture[str]) -> None:
    """The singular confirm left the first fault unconfirmed; the plural one covers both."""
    feature = GOOD.replace("    And the verified state from now on",
                           SECOND_FAULT + "    And the verified state from now on").replace(
        "the fault is confirmed", "the faults are confirmed")
    features, inventory = fake_project(tmp_path, feature)
    ran = stackdrill(plan_args(features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_OK, ran


def test_a_fault_with_required_parameters_ends_without_them(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Ending a fault takes no table: its parameters are the injection's."""
    feature = GOOD.replace(RECOVERY, '    When the fault "fake_stop" ends\n')
    features, inventory = fake_project(tmp_path, feature)
    ran = stackdrill(plan_args(features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_OK, ran


def test_the_good_feature_runs_and_passes(tmp_path: Path,
                                          capfd: pytest.CaptureFixture[str]) -> None:
    """The feature the refusals start from is accepted by run too, and drills."""
    features, inventory = fake_project(tmp_path, GOOD)
    ran = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_OK, ran
    assert events(features) == ["inject compute1/canary", "recover compute1/canary",
                               "undo compute1/canary"]


def test_a_role_chosen_in_the_background_counts(tmp_path: Path,
                                                capfd: pytest.CaptureFixture[str]) -> None:
    background = GOOD.replace("  Scenario: the canary stops\n    Given a compute host\n    And",
                              "  Background:\n    Given a compute host\n\n"
                              "  Scenario: the canary stops\n    Given")
    features, inventory = fake_project(tmp_path, background)
    ran = stackdrill(plan_args(features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_OK, ran


def test_every_scenario_of_a_feature_is_checked(tmp_path: Path,
                                                capfd: pytest.CaptureFixture[str]) -> None:
    """Thirty scenarios, each naming an unknown fault: each one is checked (once, some were
    taken for one already checked whose step list had lived at the same address)."""
    body = GOOD.split("  Scenario: the canary stops\n")[1].replace('"fake_stop"', '"melt"')
    feature = "Feature: thirty\n" + "".join(f"  Scenario: s{n}\n{body}" for n in range(30))
    features, inventory = fake_project(tmp_path, feature)
    ran = stackdrill(plan_args(features, inventory), tmp_path, capfd)
    assert_refused(ran, tmp_path, features, "drills.feature:8:", "unknown fault 'melt'")
    assert ran.stderr.rstrip().endswith("(and 29 more)"), ran


@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_fault_on_every_host_of_a_role_the_inventory_lacks_is_refused(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], command: str) -> None:
    feature = GOOD.replace("is injected on the compute host:", "is injected on every storage host:"
                           ).replace("the fault is confirmed", "the faults are confirmed")
    features, inventory = fake_project(tmp_path, feature)
    argv = run_args(tmp_path, features, inventory) if command == "run" \
        else plan_args(features, inventory)
    ran = stackdrill(argv, tmp_path, capfd)
    assert_refused(ran, tmp_path, features, "drills.feature:8:", "has no storage host")


QUIET_STEP = """

from pytest_bdd import when


@when("the canary is stopped by a step of our own")
def stopped_quietly(drill, targets):
    drill.inject("fake_stop", targets.get("compute1"), {"service": "canary"})
"""
QUIET = """\
Feature: a fault the collection check cannot see
  Scenario: a step of a conftest injects
    Given the cloud is in its verified state
    When the canary is stopped by a step of our own
"""


def test_a_fault_never_confirmed_fails_the_drill_after_its_undo(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """What the collection check cannot see (a conftest's own step injects) is caught when the
    scenario ends: its fault is undone first, then the drill fails with one line."""
    features, inventory = fake_project(tmp_path, QUIET)
    with (features / "conftest.py").open("a") as conftest:
        conftest.write(QUIET_STEP)
    ran = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    assert ran.code == 1, ran
    assert events(features) == ["inject compute1/canary", "undo compute1/canary"]
    reason = ("fault not confirmed: fake_stop on compute1 injected and never confirmed; a drill "
              "confirms every fault it injects")
    assert reason in ran.stdout, ran
    record = json.loads((tmp_path / "history.jsonl").read_text().splitlines()[-1])
    assert record["result"] == "error" and reason in record["reason"], record


def test_a_path_table_naming_no_observed_path_stops_the_drill_before_its_fault(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Which paths exist is known once the verified state is recorded: a typo in a 'still
    matches' table is found then, before the first fault, not after it."""
    typo = GOOD.replace(CONFIRM, CONFIRM + "    And the state still matches the verified "
                        "state at:\n      | path                  |\n"
                        "      | host:*/svc:canray/state |\n")
    features, inventory = fake_project(tmp_path, typo)
    ran = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_FAILED, ran
    assert "host:*/svc:canray/state: no such path in the verified state" in ran.stdout + ran.stderr
    assert events(features) == []
