"""A fault, or a recovery with a rollback, registered from a ``conftest.py`` is undone by a fresh
``stackdrill recover --pending`` after the run that used it was SIGKILLed: the journal records
where its class loads from (module, qualified name, file), and recover loads it from there when
the entry points do not register its name. A file recover would have to run is run only if root
or the current user owns it and others cannot write it; otherwise the entry stays pending and
recover says so in one line naming the file.

The runs are real ``stackdrill run`` processes against the fake cloud of
:mod:`tests.unit.fake_cloud`, each killing itself (SIGKILL) right after the injection or in
the middle of its procedure; ``recover --pending`` runs from another working directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stackdrill import cli
from stackdrill.api._origin import Origin, OriginError, load_class, origin_of
from stackdrill.engine.journal import Journal
from stackdrill.engine.lock import lock_name
from stackdrill.inventory.loader import load_inventory
from tests.unit.fake_cloud import CONFTEST, fake_project, run_args

ROOT = Path(__file__).resolve().parents[2]

DYING = '''

import os
import signal


class DyingStop(FakeStop):
    """Stops the service, then its run is SIGKILLed: only recover --pending can undo it."""

    name = "dying_stop"

    def inject(self, facts):
        super().inject(facts)
        os.kill(os.getpid(), signal.SIGKILL)


class DyingMaintenance(Recovery):
    """Stops a service on purpose; its run is SIGKILLed before the service is started again."""

    name = "dying_maintenance"
    description = "stops a service, and the run dies half way"
    params = {"service": Param("the service")}

    def key(self):
        return f"{self.target.name}/{self.values['service']}"

    def runbook(self):
        return [RunbookStep(f"stop {self.key()}", lambda: _set(self.key(), "stopped"), ()),
                RunbookStep("die", lambda: os.kill(os.getpid(), signal.SIGKILL), ())]

    def rollback(self):
        _event(f"rollback {self.key()}")
        _set(self.key(), "running")
        return [f"started {self.key()}"]


def pytest_stackdrill_register(registries):
    registries.faults.register(DyingStop)
    registries.recoveries.register(DyingMaintenance)


@pytest.fixture(scope="session")
def stackdrill_registries():
    found = Registries()
    found.faults.register(DyingStop)
    found.recoveries.register(DyingMaintenance)
    found.probes.register(FakeState)
    return found
'''

FAULT_FEATURE = """\
Feature: a run killed right after its injection
  Scenario: the canary stops and the run dies
    Given a compute host
    And the cloud is in its verified state
    When the fault "dying_stop" is injected on the compute host:
      | service | canary |
    Then the fault is confirmed within 5 seconds
"""

PROCEDURE_FEATURE = """\
Feature: a run killed in the middle of its procedure
  Scenario: the procedure stops a service and the run dies
    Given a compute host
    And the cloud is in its verified state
    When the procedure "dying_maintenance" runs on the compute host:
      | service | other |
"""


def environment(directory: Path) -> dict[str, str]:
    clouds = directory / "clouds.yaml"
    clouds.write_text(yaml.safe_dump({"clouds": {}}))
    env = {**os.environ, "XDG_STATE_HOME": str(directory / "state"),
           "OS_CLIENT_CONFIG_FILE": str(clouds)}
    env.pop("OS_CLOUD", None)
    return env


def killed_run(directory: Path, feature: str) -> tuple[Path, Path]:
    """The features directory and the inventory of a run SIGKILLed by its own fault or
    procedure."""
    features, inventory = fake_project(directory, feature)
    (features / "conftest.py").write_text(CONFTEST + DYING)
    result = subprocess.run([sys.executable, "-m", "stackdrill.cli",
                             *run_args(directory, features, inventory)],
                            cwd=ROOT, env=environment(directory), capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == -signal.SIGKILL, result.stdout + result.stderr
    return features, inventory


def recover_pending(directory: Path, inventory: Path) -> subprocess.CompletedProcess[str]:
    """A fresh ``stackdrill recover --pending``, from a working directory of its own."""
    elsewhere = directory / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-m", "stackdrill.cli", "recover", "--pending",
                           "--inventory", str(inventory),
                           "--journal", str(directory / "journal.jsonl")],
                          cwd=elsewhere, env=environment(directory), capture_output=True,
                          text=True, timeout=120, check=False)


def state(features: Path) -> dict[str, str]:
    found: dict[str, str] = json.loads((features / "state.json").read_text())
    return found


def test_a_conftest_fault_left_by_a_killed_run_is_undone(tmp_path: Path) -> None:
    features, inventory = killed_run(tmp_path, FAULT_FEATURE)
    assert state(features)["compute1/canary"] == "stopped"
    [entry] = Journal(tmp_path / "journal.jsonl").pending()
    assert entry.origin is not None
    assert (entry.origin.qualname, entry.origin.file) == (
        "DyingStop", str((features / "conftest.py").resolve()))

    result = recover_pending(tmp_path, inventory)
    assert result.returncode == cli.EXIT_OK, result.stdout + result.stderr
    assert result.stdout.startswith("restored dying_stop on compute1 "), result.stdout
    assert state(features)["compute1/canary"] == "running"
    assert (features / "events.log").read_text().splitlines()[-1] == "undo compute1/canary"
    assert Journal(tmp_path / "journal.jsonl").pending() == []


def test_a_conftest_procedure_killed_half_way_is_rolled_back(tmp_path: Path) -> None:
    features, inventory = killed_run(tmp_path, PROCEDURE_FEATURE)
    assert state(features)["compute1/other"] == "stopped"
    [entry] = Journal(tmp_path / "journal.jsonl").pending()
    assert (entry.kind, entry.fault) == ("recovery", "dying_maintenance")

    result = recover_pending(tmp_path, inventory)
    assert result.returncode == cli.EXIT_OK, result.stdout + result.stderr
    assert result.stdout.startswith("rolled back the interrupted recovery (started "
                                    "compute1/other) dying_maintenance on compute1 "), result.stdout
    assert state(features)["compute1/other"] == "running"
    assert Journal(tmp_path / "journal.jsonl").pending() == []


# -- a file recover must not run, and journals from before origins were recorded ---------------
def armed(directory: Path, origin: Origin | None) -> tuple[Path, Path]:
    """A fake project whose journal holds one ``dying_stop`` armed with ``origin``, as a killed
    run leaves it, without running one."""
    features, inventory = fake_project(directory, FAULT_FEATURE)
    (features / "conftest.py").write_text(CONFTEST + DYING)
    (features / "state.json").write_text(json.dumps({"compute1/canary": "stopped"}))
    journal = Journal(directory / "journal.jsonl", cloud=lock_name(load_inventory(inventory)))
    journal.arm("dying_stop", "compute1", {"service": "canary"}, {"key": "compute1/canary"},
                origin=origin)
    return features, inventory


def conftest_origin(directory: Path) -> Origin:
    return Origin("conftest", "DyingStop", str(directory / "features" / "conftest.py"))


def test_a_conftest_writable_by_others_is_not_run_and_the_entry_stays_pending(
        tmp_path: Path) -> None:
    features, inventory = armed(tmp_path, conftest_origin(tmp_path))
    conftest = features / "conftest.py"
    conftest.chmod(0o666)
    result = recover_pending(tmp_path, inventory)
    assert result.returncode == cli.EXIT_FAILED, result.stdout + result.stderr
    [line] = result.stdout.splitlines()
    assert line.startswith("FAILED dying_stop on compute1 "), line
    assert line.endswith(f": cannot load fault 'dying_stop' from {conftest}: writable by "
                         f"others, so it is not run; left pending"), line
    assert state(features)["compute1/canary"] == "stopped"
    assert [e.fault for e in Journal(tmp_path / "journal.jsonl").pending()] == ["dying_stop"]

    conftest.chmod(0o644)  # put right, the next recover undoes it
    result = recover_pending(tmp_path, inventory)
    assert result.returncode == cli.EXIT_OK, result.stdout + result.stderr
    assert state(features)["compute1/canary"] == "running"


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file to another user needs root")
def test_a_file_another_user_owns_is_not_run(tmp_path: Path) -> None:
    features, _ = armed(tmp_path, conftest_origin(tmp_path))
    os.chown(features / "conftest.py", 65534, 65534)
    with pytest.raises(OriginError, match=r"owned by uid 65534, neither root nor this user"):
        load_class(conftest_origin(tmp_path), "fault", "dying_stop")


def test_an_entry_from_before_origins_were_journalled_is_handled_as_before(
        tmp_path: Path) -> None:
    features, inventory = armed(tmp_path, None)
    result = recover_pending(tmp_path, inventory)
    assert result.returncode == cli.EXIT_FAILED, result.stdout + result.stderr
    assert "unknown fault 'dying_stop' (known: " in result.stdout
    assert state(features)["compute1/canary"] == "stopped"


# -- where a class loads from -------------------------------------------------------------------
def test_a_module_importable_by_name_is_imported_not_run_from_its_file() -> None:
    from stackdrill.builtin.faults.kill_service import KillService

    origin = origin_of(KillService)
    assert origin.module == "stackdrill.builtin.faults.kill_service"
    assert load_class(origin, "fault", "kill_service") is KillService


def test_a_name_that_finds_another_file_loads_the_recorded_file(tmp_path: Path) -> None:
    """``conftest`` by name is the checkout's own conftest in this process."""
    armed(tmp_path, None)
    found = load_class(conftest_origin(tmp_path), "fault", "dying_stop")
    assert found.name == "dying_stop"
    assert found.__module__.startswith("_stackdrill_journalled_")
    assert Path(sys.modules[found.__module__].__file__ or "") == (
        tmp_path / "features" / "conftest.py")


def test_a_class_made_inside_a_function_is_found_through_the_modules_hook(
        tmp_path: Path) -> None:
    plugin = tmp_path / "made.py"
    plugin.write_text(
        "from stackdrill.api import Fault\n\n\n"
        "def make(name):\n"
        "    class Made(Fault):\n"
        "        pass\n"
        "    Made.name = name\n"
        "    return Made\n\n\n"
        "def pytest_stackdrill_register(registries):\n"
        "    registries.faults.register(make('made_fault'))\n")
    origin = Origin("made", "make.<locals>.Made", str(plugin))
    assert load_class(origin, "fault", "made_fault").name == "made_fault"
    with pytest.raises(OriginError, match=r"no make\.<locals>\.Made there, and no hook there "
                                          r"registers 'other_fault'"):
        load_class(origin, "fault", "other_fault")


def test_a_module_that_fails_to_load_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_module_anywhere\n")
    with pytest.raises(OriginError) as failed:
        load_class(Origin("broken", "Fault", str(broken)), "fault", "f")
    assert str(failed.value) == (f"cannot load fault 'f' from {broken}: ModuleNotFoundError: "
                                 f"No module named 'no_such_module_anywhere'")
