"""A drill's life in a scenario: the fixtures that build it, undo it when the scenario ends,
record it in the history and fail the scenario for what its undo or its checks found."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stackdrill.api._registry import Registries
from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.tenant_view import TenantObserver
from stackdrill.core.evidence import Redactor
from stackdrill.core.waiting import observing
from stackdrill.engine.alert_watch import AlertWatch
from stackdrill.engine.drill import Drill, DrillError
from stackdrill.engine.guards import (
    Guards,
    limits_from_tags,
)
from stackdrill.engine.journal import Journal
from stackdrill.engine.preflight import unchanged_patterns
from stackdrill.engine.progress import WaitProgress
from stackdrill.engine.snapshot import SnapshotSettings
from stackdrill.engine.state_dir import default_state_dir
from stackdrill.hosts.target import Targets
from stackdrill.inventory.model import Inventory
from stackdrill.pytest_plugin import allure_bdd
from stackdrill.pytest_plugin.options import seed_of
from stackdrill.pytest_plugin.scenarios import limit_tags, rendered_steps
from stackdrill.pytest_plugin.session import (
    ABORTED,
    LIVE_DRILLS,
    check_lock,
    registries,
    resolve_inventory,
    session_journal,
    session_targets,
)
from stackdrill.pytest_plugin.tenant_fixtures import report_tenant_figures
from stackdrill.reporting.history import record_drill
from stackdrill.reporting.outcome import SAFEGUARD_ABORT, outcome


def terminal_line(config: pytest.Config) -> Callable[[str], None]:
    """Writes one line to the terminal, past pytest's output capture (progress, not evidence)."""
    capture = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.getplugin("terminalreporter")

    def write(line: str) -> None:
        if reporter is None:
            return
        uncaptured = capture.global_and_fixture_disabled() if capture is not None \
            else contextlib.nullcontext()
        with uncaptured:
            reporter.write_line(line)

    return write


def _ended_by_safeguard(request: pytest.FixtureRequest, drill: Drill) -> None:
    """An aborted drill is its own outcome, and no further drill runs in this session."""
    if drill.aborted is None:
        return
    request.node.stash[SAFEGUARD_ABORT] = drill.aborted
    ABORTED.append(f"{request.node.nodeid}: {drill.aborted}")
    request.session.shouldstop = f"aborted by safeguard: {drill.aborted}"


def never_confirmed(item: pytest.Item, drill: Drill) -> list[str]:
    """A scenario that otherwise passed fails if it left a fault unconfirmed (one line, after
    the undo): the collection check refuses such a scenario, and this catches what it cannot
    see, such as a fault injected by a step of a conftest."""
    missing = drill.unconfirmed()
    if not missing or drill.aborted is not None or outcome(item).result != "passed":
        return []
    names = ", ".join(f"{a.fault.name} on {a.fault.target.name}" for a in missing)
    return [f"fault not confirmed: {names} injected and never confirmed; a drill confirms every "
            f"fault it injects (\"the faults are confirmed within N seconds\" confirms them all)"]


@pytest.fixture(scope="session")
def stackdrill_registries(pytestconfig: pytest.Config) -> Registries:
    return registries(pytestconfig)


@pytest.fixture(scope="session")
def inventory(pytestconfig: pytest.Config) -> Inventory:
    return resolve_inventory(pytestconfig)


@pytest.fixture(scope="session")
def targets(pytestconfig: pytest.Config) -> Targets:
    return session_targets(pytestconfig)


@pytest.fixture(scope="session")
def journal(pytestconfig: pytest.Config, inventory: Inventory) -> Journal:
    return session_journal(pytestconfig, inventory)


@pytest.fixture
def drill(request: pytest.FixtureRequest, targets: Targets, stackdrill_registries: Registries,
          journal: Journal, redactor: Redactor, cloud_access: CloudAccess | None
          ) -> Iterator[Drill]:
    """A drill for one scenario; every fault it injected is undone when the scenario ends."""
    check_lock(request.config)
    evidence = allure_bdd.AllureEvidence(redactor)
    guards = Guards.for_inventory(targets.inventory, limits_from_tags(limit_tags(request.node)),
                                  request.config.getoption("confirm"))
    current = Drill(request.node.name, targets, stackdrill_registries, journal, evidence,
                    guards=guards, cloud=cloud_access,
                    safeguard_interval=float(request.config.getoption("safeguard_interval")))
    current.expected_paths = unchanged_patterns(rendered_steps(request.node) or [])
    if request.config.getoption("full_api_polls"):
        current.snapshot_settings = SnapshotSettings(incremental_api=False)
    LIVE_DRILLS.add(current)
    progress = WaitProgress(terminal_line(request.config), redact=redactor)
    try:
        with observing(progress):
            yield current
    finally:
        current.result.mark("steps-ended")
        errors = current.undo_all()
        current.result.mark("undone")
        current.close()  # its tenant observers stop: their figures go to the record
        current.result.mark("observers-stopped")
        report_tenant_figures(current)
        errors += never_confirmed(request.node, current)
        LIVE_DRILLS.discard(current)
        _ended_by_safeguard(request, current)
        if journal.refusal is not None:  # the mirror cannot be written: nothing more is run
            request.session.shouldstop = journal.refusal
        evidence.attach_text("timeline", current.timeline.render())
        evidence.attach_json("timeline.json", current.timeline.to_json())
        history = request.config.getoption("history")
        record_drill(request.node, current, Path(history) if history else
                     default_state_dir() / "history.jsonl", cloud_access, errors)
        if errors:
            pytest.fail("; ".join(errors), pytrace=False)


@pytest.fixture
def baseline(request: pytest.FixtureRequest, drill: Drill,
             tenant_observers: list[TenantObserver], alert_watch: AlertWatch | None) -> Any:
    """The verified state, recorded before anything is broken; the observers of what the
    tenants feel, and the watch on the cloud's alerts, start then."""
    try:
        recorded = drill.record_baseline(settle=float(request.config.getoption("settle")),
                                         observers=tenant_observers)
    except DrillError as exc:
        message = str(exc)
    else:
        if alert_watch is not None:
            alert_watch.start()
        return recorded
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def drill_seed(pytestconfig: pytest.Config) -> int:
    """The run's seed for hosts chosen at random (``--seed``, or drawn and printed)."""
    return seed_of(pytestconfig)


@pytest.fixture
def budget_scale(pytestconfig: pytest.Config) -> float:
    return float(pytestconfig.getoption("budget_scale"))
