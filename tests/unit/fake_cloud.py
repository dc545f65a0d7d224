"""A feature directory whose hosts are fakes: a JSON file stands for the cloud's state, a fake
fault changes it and records every injection and undo, a fake probe reads it. ``stackdrill run``
drives it through the real plugin (verified state, guards, journal, safeguards, undo, history),
in-process, without any host."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

CONFTEST = '''
import json
from pathlib import Path

import pytest

from stackdrill.fault import Fault
from stackdrill.params import Param
from stackdrill.probe import Probe
from stackdrill.registry import Registries

pytest_plugins = ["steps.drill_steps"]

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


class FakeState(Probe):
    name = "fake_state"
    description = "the fake cloud's services"

    def observe(self, target):
        prefix = target.name + "/"
        return {f"svc:{key[len(prefix):]}": value for key, value in _state().items()
                if key.startswith(prefix)}


def pytest_stackdrill_register(registries):
    registries.faults.register(FakeStop)


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
