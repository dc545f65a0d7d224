"""The stackdrill pytest plugin: options, pre-flight checks, fixtures, and crash-safe undo."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from stackdrill import allure_bdd, hookspecs
from stackdrill.drill import Drill, DrillError
from stackdrill.hosts.target import Targets
from stackdrill.inventory import Inventory, InventoryError, load_inventory
from stackdrill.journal import Journal
from stackdrill.preflight import check_hosts, check_steps, one_line
from stackdrill.registry import Registries, entry_point_plugins

REGISTRIES = pytest.StashKey[Registries]()
INVENTORY = pytest.StashKey[Inventory]()
LIVE_DRILLS: set[Drill] = set()


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local/state")
    return Path(base) / "stackdrill"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stackdrill", "stackdrill recovery drills")
    group.addoption("--inventory", default=os.environ.get("STACKDRILL_INVENTORY"),
                    help="inventory file of the cloud's hosts (env STACKDRILL_INVENTORY)")
    group.addoption("--os-cloud", default=os.environ.get("OS_CLOUD"),
                    help="cloud name in clouds.yaml (env OS_CLOUD)")
    group.addoption("--lab", action="store_true", default=False,
                    help="drill the embedded lab: bring it up if needed and use its inventory")
    group.addoption("--journal", default=None,
                    help="undo journal (default: $XDG_STATE_HOME/stackdrill/journal.jsonl)")
    group.addoption("--budget-scale", type=float, default=1.0,
                    help="multiply every time budget written in the features by this factor")


def pytest_configure(config: pytest.Config) -> None:
    for name, plugin in entry_point_plugins():
        if not config.pluginmanager.is_registered(plugin):
            config.pluginmanager.register(plugin, name=name)
    config.pluginmanager.register(allure_bdd, "stackdrill.allure_bdd")

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if not hasattr(config, "workerinput"):
        signal.signal(signal.SIGTERM, terminate)


def registries(config: pytest.Config) -> Registries:
    if REGISTRIES not in config.stash:
        found = Registries()
        config.hook.pytest_stackdrill_register(registries=found)
        config.stash[REGISTRIES] = found
    return config.stash[REGISTRIES]


def _scenario_steps(item: pytest.Item) -> tuple[str, list[Any]] | None:
    from pytest_bdd.scenario import scenario_wrapper_template_registry

    function = getattr(item, "obj", None)
    template = scenario_wrapper_template_registry.get(function) if callable(function) else None
    if template is None:
        return None
    return template.feature.rel_filename, template.steps


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    found = registries(config)
    problems: list[str] = []
    seen: set[int] = set()
    for item in items:
        scenario = _scenario_steps(item)
        if scenario is None or id(scenario[1]) in seen:
            continue
        seen.add(id(scenario[1]))
        problems += check_steps(scenario[0], scenario[1], found)
    if problems:
        raise pytest.UsageError(one_line(problems))


def resolve_inventory(config: pytest.Config) -> Inventory:
    if INVENTORY in config.stash:
        return config.stash[INVENTORY]
    path = config.getoption("inventory")
    if config.getoption("lab"):
        from stackdrill.lab.lab import Lab
        from stackdrill.lab.system import LabError

        try:
            path = str(Lab().ensure_up())
        except LabError as exc:
            raise pytest.UsageError(f"lab: {exc}") from None
    if not path:
        raise pytest.UsageError("drills need an inventory: pass --inventory FILE or --lab")
    try:
        inventory = load_inventory(path)
    except InventoryError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[INVENTORY] = inventory
    return inventory


def pytest_collection_finish(session: pytest.Session) -> None:
    needs_hosts = [item for item in session.items if item.get_closest_marker("drill")]
    if not needs_hosts or session.config.option.collectonly:
        return
    targets = _targets(session.config)
    problems = check_hosts(targets)
    if problems:
        raise pytest.UsageError(one_line(problems))


_TARGETS = pytest.StashKey[dict[str, Targets]]()


def _targets(config: pytest.Config) -> Targets:
    holder = config.stash.setdefault(_TARGETS, {})
    if "targets" not in holder:
        holder["targets"] = Targets(resolve_inventory(config))
    return holder["targets"]


def pytest_unconfigure(config: pytest.Config) -> None:
    holder = config.stash.get(_TARGETS, {})
    if "targets" in holder:
        holder["targets"].close()


def _undo_live_drills() -> None:
    for drill in list(LIVE_DRILLS):
        drill.undo_all()
        LIVE_DRILLS.discard(drill)


def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    _undo_live_drills()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _undo_live_drills()


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def stackdrill_registries(pytestconfig: pytest.Config) -> Registries:
    return registries(pytestconfig)


@pytest.fixture(scope="session")
def inventory(pytestconfig: pytest.Config) -> Inventory:
    return resolve_inventory(pytestconfig)


@pytest.fixture(scope="session")
def targets(pytestconfig: pytest.Config) -> Targets:
    return _targets(pytestconfig)


@pytest.fixture(scope="session")
def journal(pytestconfig: pytest.Config) -> Journal:
    path = pytestconfig.getoption("journal")
    return Journal(Path(path) if path else default_state_dir() / "journal.jsonl")


@pytest.fixture
def drill(request: pytest.FixtureRequest, targets: Targets, stackdrill_registries: Registries,
          journal: Journal) -> Iterator[Drill]:
    """A drill for one scenario; every fault it injected is undone when the scenario ends."""
    evidence = allure_bdd.AllureEvidence()
    current = Drill(request.node.name, targets, stackdrill_registries, journal, evidence)
    LIVE_DRILLS.add(current)
    try:
        yield current
    finally:
        errors = current.undo_all()
        LIVE_DRILLS.discard(current)
        evidence.attach_text("timeline", current.timeline.render())
        evidence.attach_json("timeline.json", current.timeline.to_json())
        current.close()
        if errors:
            pytest.fail("; ".join(errors), pytrace=False)


@pytest.fixture
def baseline(drill: Drill) -> Any:
    """The verified state, recorded before anything is broken."""
    try:
        return drill.record_baseline()
    except DrillError as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)


@pytest.fixture
def budget_scale(pytestconfig: pytest.Config) -> float:
    return float(pytestconfig.getoption("budget_scale"))
