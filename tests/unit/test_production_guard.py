"""The production guard: on an inventory with ``production: true``, every scenario that would
change the cloud (a fault, a recovery or procedure, a step marked as changing the cloud) is
refused with one line and exit code 2 unless the run says ``--confirm <cloud>``; a scenario of
verification steps only runs unconfirmed, and the dry run needs no confirmation at all.

The runs use the fake cloud of ``tests.unit.fake_cloud``, whose fault and recovery record every
injection and run: refusals and plans go through ``stackdrill.cli.main`` in-process, and the
runs that do execute a scenario are real processes (the Allure reporter of the test session
would get in the way of a scenario run in-process)."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from stackdrill import cli
from stackdrill.api._registry import Registries
from stackdrill.api._runbook import Recovery, RunbookStep
from stackdrill.engine.drill import Drill, GuardRefused
from stackdrill.engine.guards import Guards, marked_as_changing
from stackdrill.engine.journal import Journal
from stackdrill.engine.preflight import NAMED
from stackdrill.inventory.loader import parse_inventory
from tests.unit.fake_cloud import (
    CONFTEST,
    HOSTS,
    Ran,
    events,
    fake_project,
    run_args,
    stackdrill,
)
from tests.unit.test_guards import FakeTargets

PRODUCTION: dict[str, Any] = {"cloud": "unit", "production": True, "hosts": HOSTS}

RECOVERY_ONLY = """\
Feature: a recovery on the fake cloud
  Scenario: the canary is started
    Given a compute host
    And the cloud is in its verified state
    When the recovery "fake_start" runs on the compute host:
      | service | canary |
    Then the cloud is back to its verified state within 5 seconds
"""

PROCEDURE_ONLY = RECOVERY_ONLY.replace('the recovery "fake_start"', 'the procedure "fake_start"')

READ_ONLY = """\
Feature: checks of the fake cloud
  Scenario: the canary runs
    Given a compute host
    And the cloud is in its verified state
    Then the state still matches the verified state at:
      | path                     |
      | host:compute1/svc:canary |
"""

CANARIES = """\
Feature: the canary workload
  Scenario: the canaries are created
    Given the canary workload is running
    And the cloud is in its verified state
"""


def project(directory: Path, feature: str) -> tuple[Path, Path]:
    return fake_project(directory, feature, inventory=PRODUCTION)


ROOT = Path(__file__).resolve().parents[2]


def real_process(directory: Path, argv: list[str]) -> Ran:
    result = subprocess.run(
        [sys.executable, "-m", "stackdrill.cli", *argv], cwd=ROOT,
        env={**os.environ, "XDG_STATE_HOME": str(directory / "state")},
        capture_output=True, text=True, timeout=120, check=False)
    return Ran(result.returncode, result.stdout, result.stderr)


def refusal(inventory: Path) -> str:
    return (f"production cloud 'unit' ({inventory}): destructive drills need --confirm unit; "
            f"nothing injected")


def assert_refused_before_anything(ran: Ran, directory: Path, features: Path,
                                   reason: str) -> None:
    lines = [line for line in ran.stderr.splitlines() if line.strip()]
    assert ran.code == cli.EXIT_BAD_INPUT, ran
    assert lines == [f"ERROR: {reason}"], ran
    for stream in (ran.stdout, ran.stderr):
        assert "Traceback" not in stream
    assert events(features) == []
    assert not (directory / "journal.jsonl").exists()
    assert not (directory / "history.jsonl").exists()  # no drill started
    assert json.loads((features / "state.json").read_text())["compute1/canary"] == "running"


@pytest.mark.parametrize("feature", [RECOVERY_ONLY, PROCEDURE_ONLY],
                         ids=["recovery", "procedure"])
def test_a_recovery_without_a_fault_is_refused_on_production_without_confirmation(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], feature: str) -> None:
    features, inventory = project(tmp_path, feature)
    ran = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    assert_refused_before_anything(ran, tmp_path, features, refusal(inventory))

    wrong = stackdrill(run_args(tmp_path, features, inventory, "--confirm", "prod"), tmp_path,
                       capfd)
    assert_refused_before_anything(
        wrong, tmp_path, features,
        f"--confirm 'prod' does not match the cloud of {inventory} ('unit'); nothing injected")


def test_a_recovery_runs_on_production_once_confirmed_with_the_cloud_name(
        tmp_path: Path) -> None:
    features, inventory = project(tmp_path, RECOVERY_ONLY)
    ran = real_process(tmp_path, run_args(tmp_path, features, inventory, "--confirm", "unit"))
    assert ran.code == cli.EXIT_OK, ran
    assert "1 passed" in ran.stdout
    assert events(features) == ["recover compute1/canary"]
    assert Journal(tmp_path / "journal.jsonl").pending() == []  # journalled, then closed


def test_a_scenario_of_verification_steps_only_runs_on_production_unconfirmed(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = project(tmp_path, READ_ONLY)
    ran = real_process(tmp_path, run_args(tmp_path, features, inventory))
    assert ran.code == cli.EXIT_OK, ran
    assert "1 passed" in ran.stdout
    assert "production" not in ran.stderr
    assert events(features) == []
    # the same scenario with the drill tag declares itself destructive: refused
    (features / "drills.feature").write_text("@drill\n" + READ_ONLY)
    tagged = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    assert tagged.code == cli.EXIT_BAD_INPUT, tagged
    assert refusal(inventory) in tagged.stderr


def test_a_step_marked_as_changing_the_cloud_is_refused_on_production(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """The canary workload creates servers and volumes: no fault or recovery is named, the
    step's definition says so."""
    features, inventory = project(tmp_path, CANARIES)
    (features / "conftest.py").write_text(CONFTEST.replace(
        'pytest_plugins = ["stackdrill.builtin.steps.drill_steps"]',
        'pytest_plugins = ["stackdrill.builtin.steps.drill_steps",'
        ' "stackdrill.builtin.steps.cloud_steps"]'))
    ran = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    assert_refused_before_anything(ran, tmp_path, features, refusal(inventory))


def plan_args(features: Path, inventory: Path) -> list[str]:
    return ["plan", str(features), "--inventory", str(inventory), "--", "-c", "/dev/null",
            "--rootdir", str(features), "--import-mode=importlib"]


def test_the_plan_needs_no_confirmation_and_says_when_a_run_would(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = project(tmp_path, READ_ONLY)
    read_only = stackdrill(plan_args(features, inventory), tmp_path, capfd)
    assert read_only.code == cli.EXIT_OK, read_only
    assert read_only.stderr == ""
    assert "! " not in read_only.stdout  # a run of it would not be refused either
    assert "  no faults or recoveries" in read_only.stdout.splitlines()

    both = READ_ONLY + "\n" + "\n".join(RECOVERY_ONLY.splitlines()[1:]) + "\n"
    (features / "drills.feature").write_text(both)
    mixed = stackdrill(plan_args(features, inventory), tmp_path, capfd)
    assert mixed.code == cli.EXIT_OK, mixed
    assert mixed.stderr == ""
    lines = mixed.stdout.splitlines()
    assert (f"! production cloud 'unit' ({inventory}): destructive drills need --confirm unit "
            f"(1 of 2 scenarios changes the cloud)") in lines
    assert "  recovery fake_start on compute1 (compute host, line 12)" in lines
    assert events(features) == []
    assert not (tmp_path / "state").exists()  # no journal, no lock


# -- the drill refuses a recovery itself --------------------------------------------------------
RUNS: list[str] = []


class Record(Recovery):
    name = "record"
    description = "records that it ran"
    params: ClassVar[Mapping[str, Any]] = {}

    def runbook(self) -> list[RunbookStep]:
        return [RunbookStep("record", lambda: RUNS.append(self.target.name))]


def test_the_drill_refuses_a_recovery_on_unconfirmed_production(tmp_path: Path) -> None:
    """Whatever reaches ``Drill.recover`` (a step of a plugin, say) meets the guard again."""
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(PRODUCTION))
    inventory = parse_inventory(PRODUCTION, path)
    registries = Registries()
    registries.recoveries.register(Record)
    RUNS.clear()
    for guards, reason in ((Guards.for_inventory(inventory), refusal(path)),
                           (Guards.for_inventory(inventory, confirm="prod"),
                            f"--confirm 'prod' does not match the cloud of {path} ('unit'); "
                            f"nothing injected")):
        assert guards.recovery_refusal("record", inventory.host("compute1")) == reason
        drill = Drill("guarded", FakeTargets(inventory), registries,  # type: ignore[arg-type]
                      Journal(tmp_path / "journal.jsonl"), guards=guards)
        with pytest.raises(GuardRefused) as refused:
            drill.recover("record", drill.targets.get("compute1"), {})
        assert str(refused.value) == reason
        assert RUNS == []
        assert not drill.journal.path.exists()

    confirmed = Drill("confirmed", FakeTargets(inventory), registries,  # type: ignore[arg-type]
                      Journal(tmp_path / "journal.jsonl"),
                      guards=Guards.for_inventory(inventory, confirm="unit"))
    assert confirmed.recover("record", confirmed.targets.get("compute1"), {}).ok
    assert RUNS == ["compute1"]


# -- the vocabulary ----------------------------------------------------------------------------
KEYWORDS = ("Given ", "When ", "Then ", "And ", "But ")


def feature_steps() -> list[str]:
    """The text of every step of the features under features/."""
    return [line.strip().split(" ", 1)[1]
            for path in sorted(ROOT.glob("features/**/*.feature"))
            for line in path.read_text().splitlines() if line.strip().startswith(KEYWORDS)]


def test_every_step_that_changes_the_cloud_is_marked() -> None:
    """A step definition that runs the features' faults, recoveries or procedures, that uses
    the canary workload (which creates and replaces servers and volumes), or that creates a
    volume of its own (the volume check), is marked; the verification steps are not, so that
    they run on production unconfirmed."""
    from pytest_bdd.steps import step_function_context_registry
    from stackdrill.builtin.steps import cloud_steps, drill_steps, upgrade_steps

    modules = {cloud_steps.__name__, drill_steps.__name__, upgrade_steps.__name__}
    texts = feature_steps()
    assert len(texts) > 100
    found: dict[str, bool] = {}
    for context in list(step_function_context_registry.values()):
        function = context.step_func
        if function.__module__ not in modules:
            continue
        runs_named = any(NAMED.search(text) is not None and context.parser.is_matching(text)
                         for text in texts)
        changes = runs_named or "canaries" in inspect.signature(function).parameters \
            or function.__name__ in {"volume_fails", "volume_available"}
        found[function.__name__] = changes
        assert marked_as_changing(function) is changes, (function.__name__, context.parser.name)
    assert {name for name, changes in found.items() if changes} == {
        "inject", "inject_everywhere", "fault_ends", "recover", "canary_workload",
        "known_pattern", "record_pre_upgrade", "inject_on_chosen", "inject_on_some",
        "recover_on_chosen", "boot_fails", "boot_active", "volume_fails", "volume_available"}
    assert {"verified_state", "unchanged", "deviates", "reads_back", "same_canaries",
            "back_to_verified"} <= {name for name, changes in found.items() if not changes}
