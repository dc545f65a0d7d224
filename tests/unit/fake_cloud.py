"""A feature directory whose hosts are fakes: a JSON file stands for the cloud's state, a fake
fault changes it and records every injection and undo, a fake recovery records each run, a fake
probe reads it. ``stackdrill run`` drives it through the real plugin (verified state, guards,
journal, safeguards, undo, history), in-process, without any host."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import allure_commons
import pytest
import pytest_bdd.feature
import yaml

from stackdrill import cli

CONFTEST = '''
import json
from pathlib import Path

import pytest

from stackdrill.api import Fault, Param, Probe, Recovery, Registries, RunbookStep

pytest_plugins = ["stackdrill.builtin.steps.drill_steps"]

HERE = Path(__file__).parent
STATE = HERE / "state.json"
EVENTS = HERE / "events.log"


def _state():
    return json.loads(STATE.read_text())


def _set(key, value):
    state = _state()
    state[key] = value
    STATE.write_text(json.dumps(state))


def _event(text):
    with EVENTS.open("a") as stream:
        stream.write(text + "\\n")


class FakeStop(Fault):
    name = "fake_stop"
    description = "marks a service of the fake cloud stopped"
    params = {"service": Param("the service")}

    def plan(self):
        return [f"stop {self.values['service']}"]

    def prepare(self):
        return {"key": f"{self.target.name}/{self.values['service']}"}

    def inject(self, facts):
        _event(f"inject {facts['key']}")
        _set(facts["key"], "stopped")

    def confirm(self, facts):
        return "stopped" if _state().get(facts["key"]) == "stopped" else None

    def undo(self, facts):
        _event(f"undo {facts['key']}")
        _set(facts["key"], "running")


class FakeStart(Recovery):
    name = "fake_start"
    description = "marks a service of the fake cloud running"
    params = {"service": Param("the service")}

    def runbook(self):
        key = f"{self.target.name}/{self.values['service']}"

        def start():
            _event(f"recover {key}")
            _set(key, "running")

        return [RunbookStep(f"start {key}", start, (f"start {self.values['service']}",))]


class FakeState(Probe):
    name = "fake_state"
    description = "the fake cloud's services"

    def observe(self, target):
        prefix = target.name + "/"
        return {f"svc:{key[len(prefix):]}": value for key, value in _state().items()
                if key.startswith(prefix)}


def pytest_stackdrill_register(registries):
    registries.faults.register(FakeStop)
    registries.recoveries.register(FakeStart)


class FakeTarget:
    def __init__(self, spec):
        self.spec = spec
        self.name = spec.name


class FakeTargets:
    def __init__(self, inventory):
        self.inventory = inventory
        self.listeners = []

    def get(self, name):
        return FakeTarget(self.inventory.host(name))

    def with_role(self, role):
        return [self.get(spec.name) for spec in self.inventory.with_role(role)]

    def __iter__(self):
        return iter([self.get(name) for name in sorted(self.inventory.hosts)])

    def close(self):
        pass


@pytest.fixture(scope="session")
def targets(inventory):
    return FakeTargets(inventory)


@pytest.fixture(scope="session")
def stackdrill_registries():
    found = Registries()
    found.faults.register(FakeStop)
    found.recoveries.register(FakeStart)
    found.probes.register(FakeState)
    return found


@pytest.fixture(scope="session")
def cloud_access():
    return None
'''

HOSTS: dict[str, Any] = {
    "compute1": {"address": "192.0.2.11", "roles": ["compute"]},
    "compute2": {"address": "192.0.2.12", "roles": ["compute"]},
}


def fake_project(directory: Path, feature: str, name: str = "drills",
                 state: dict[str, str] | None = None,
                 inventory: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """The feature directory and its inventory file."""
    features = directory / "features"
    features.mkdir(parents=True, exist_ok=True)
    (features / "conftest.py").write_text(CONFTEST)
    (features / f"{name}.feature").write_text(feature)
    (features / f"test_{name}.py").write_text(
        f"from pytest_bdd import scenarios\n\nscenarios('{name}.feature')\n")
    (features / "state.json").write_text(json.dumps(state or {
        "compute1/canary": "running", "compute1/other": "running",
        "compute2/canary": "running"}))
    inventory_file = directory / "inventory.yaml"
    inventory_file.write_text(yaml.safe_dump(inventory or {"cloud": "unit", "hosts": HOSTS}))
    return features, inventory_file


def run_args(directory: Path, features: Path, inventory: Path, *extra: str,
             pytest_args: tuple[str, ...] = ()) -> list[str]:
    """``stackdrill run`` arguments that keep every file of the run under ``directory``."""
    return ["run", str(features), "--inventory", str(inventory),
            "--journal", str(directory / "journal.jsonl"),
            "--history", str(directory / "history.jsonl"),
            "--reports", str(directory / "reports"), *extra,
            "--", "-c", "/dev/null", "--rootdir", str(features), "-p", "no:cacheprovider",
            "--import-mode=importlib", "-q", *pytest_args]


def events(features: Path) -> list[str]:
    path = features / "events.log"
    return path.read_text().splitlines() if path.exists() else []


@contextlib.contextmanager
def state_home(directory: Path) -> Iterator[None]:
    """The journal, the lock and the history default under ``directory``."""
    before = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(directory / "state")
    try:
        yield
    finally:
        if before is None:
            del os.environ["XDG_STATE_HOME"]
        else:
            os.environ["XDG_STATE_HOME"] = before


_RUN_IN_PROCESS: set[str] = set()


def forget(features: Path) -> None:
    """What an in-process run would otherwise reuse from an earlier one: pytest-bdd's parsed
    features, and the test modules and conftests of every feature directory run in-process so
    far (pytest's importlib mode returns a module already imported under the same name, and
    each directory names its own ``conftest`` and ``test_drills``)."""
    pytest_bdd.feature.features.clear()
    _RUN_IN_PROCESS.add(str(features))
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(tuple(_RUN_IN_PROCESS)):
            del sys.modules[name]


@contextlib.contextmanager
def outer_allure_set_aside() -> Iterator[None]:
    """The outer pytest's Allure listeners leave allure_commons' process-wide plugin manager
    while an in-process run reports its own drills, and come back after it."""
    outer = list(allure_commons.plugin_manager.get_plugins())
    for plugin in outer:
        allure_commons.plugin_manager.unregister(plugin)
    try:
        yield
    finally:
        for plugin in outer:
            allure_commons.plugin_manager.register(plugin)


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str


def stackdrill(argv: list[str], home: Path, capfd: pytest.CaptureFixture[str]) -> Ran:
    """``stackdrill.cli.main`` in-process: its exit code and everything it wrote to stdout and
    stderr, through ``sys`` or straight to file descriptors 1 and 2."""
    if argv[:1] in (["run"], ["plan"]) and len(argv) > 1:
        forget(Path(argv[1]))
    capfd.readouterr()  # what came before is not this run's
    with state_home(home), outer_allure_set_aside():
        code = cli.main(argv)
    out, err = capfd.readouterr()
    return Ran(code, out, err)


def service_scenario(title: str, service: str, other: str, tags: str = "") -> str:
    """A drill on the fake cloud: ``service`` stopped, then started; ``other`` ignored."""
    def rule(name: str) -> str:
        return f"      | {f'host:*/svc:{name} ignore':<24} |\n"

    return (f"{tags}  Scenario: {title}\n"
            "    Given a compute host\n"
            "    And the cloud is in its verified state\n"
            "    And the verified state tolerates:\n"
            "      | rule                     |\n" + rule(other) +
            f'    When the fault "fake_stop" is injected on the compute host:\n'
            f"      | service | {service} |\n"
            "    And the verified state from now on tolerates:\n"
            "      | rule                     |\n" + rule(service) +
            "    Then the fault is confirmed within 5 seconds\n"
            '    When the recovery "fake_start" runs on the compute host:\n'
            f"      | service | {service} |\n"
            "    Then the cloud is back to its verified state within 5 seconds\n")


CANARY_SCENARIO = service_scenario("the canary stops", "canary", "other")
"""A drill on the fake cloud that passes: the fake canary service stopped, then started."""
