"""The stackdrill pytest plugin: options, pre-flight checks, fixtures, and crash-safe undo."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from stackdrill.api import hookspecs
from stackdrill.api.registry import Registries, entry_point_plugins
from stackdrill.cloud.access import CloudAccess
from stackdrill.core.evidence import Redactor
from stackdrill.core.waiting import observing
from stackdrill.engine.drill import Drill, DrillError
from stackdrill.engine.guards import (
    LIMIT_MARK,
    LIMIT_TAG_PREFIX,
    Guards,
    limits_from_tags,
    marked_as_changing,
    unknown_limit_names,
)
from stackdrill.engine.interrupts import InterruptGuard
from stackdrill.engine.journal import Journal, JournalError
from stackdrill.engine.lock import DrillLock, LockError, lock_for, lock_name
from stackdrill.engine.preflight import (
    NAMED,
    check_every_role,
    check_hosts,
    check_steps,
    one_line,
    unchanged_patterns,
)
from stackdrill.engine.progress import WaitProgress
from stackdrill.hosts.secrets import inventory_redactor
from stackdrill.hosts.target import Targets
from stackdrill.inventory.model import Inventory, InventoryError, load_inventory
from stackdrill.pytest_plugin import allure_bdd
from stackdrill.pytest_plugin.cloud_fixtures import session_redactor
from stackdrill.reporting.allure_files import write_allure_files
from stackdrill.reporting.history import (
    API_VERSIONS,
    SERVICE_VERSIONS,
    VERSION_SETTINGS,
    record_drill,
    stackdrill_version,
)
from stackdrill.reporting.outcome import SAFEGUARD_ABORT, outcome
from stackdrill.reporting.service_versions import DEFAULT_DIRECTORIES, VersionSettings

pytest_plugins = ["stackdrill.pytest_plugin.cloud_fixtures", "stackdrill.reporting.outcome",
                  "stackdrill.reporting.redacted", "stackdrill.reporting.runs",
                  "stackdrill.engine.schedule", "stackdrill.reporting.notify",
                  "stackdrill.engine.upgrade"]

REGISTRIES = pytest.StashKey[Registries]()
INVENTORY = pytest.StashKey[Inventory]()
LOCK = pytest.StashKey[DrillLock]()
_INTERRUPTS = pytest.StashKey[InterruptGuard]()
LIVE_DRILLS: set[Drill] = set()
ABORTED: list[str] = []
"""Every drill a safeguard aborted in the current session, as ``<test id>: <reason>``."""


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
    group.addoption("--history", default=None,
                    help="append one JSON record per drill scenario to this file (default: "
                         "$XDG_STATE_HOME/stackdrill/history.jsonl)")
    group.addoption("--openstack-bin-dir", action="append", metavar="DIR",
                    default=[d for d in os.environ.get("STACKDRILL_OPENSTACK_BIN_DIRS",
                                                       "").split(":") if d],
                    help="a directory on the hosts holding the OpenStack services' commands "
                         "(nova-manage, ...) besides PATH, for their versions in the reports; "
                         "repeatable (env STACKDRILL_OPENSTACK_BIN_DIRS, colon-separated)")
    group.addoption("--settle", type=float, default=180.0,
                    help="seconds a drill waits for the cloud to be healthy before it records "
                         "the verified state and refuses to start (default 180)")
    group.addoption("--budget-scale", type=float, default=1.0,
                    help="multiply every time budget written in the features by this factor")
    group.addoption("--safeguard-interval", type=float, default=2.0,
                    help="seconds between two observations of a drill's safeguards (default 2)")
    group.addoption("--confirm", metavar="CLOUD", default=None,
                    help="allow faults and recoveries on a production inventory; CLOUD must "
                         "be its cloud name")
    group.addoption("--stackdrill-plan", action="store_true", default=False,
                    help="dry run: print each scenario's faults, recoveries, target hosts and "
                         "commands, and run nothing")


def planning(config: pytest.Config) -> bool:
    return bool(config.getoption("stackdrill_plan", False))


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_apply_tag(tag: str, function: Callable[..., object]) -> object:
    """``@allow_down_<role>_<n>`` becomes ``allow_down(tag)``: one registered marker, checked
    at collection, rather than a marker per role and count."""
    if not tag.startswith(LIMIT_TAG_PREFIX):
        return None
    getattr(pytest.mark, LIMIT_MARK)(tag)(function)
    return True


def limit_tags(item: pytest.Item) -> list[str]:
    return [str(mark.args[0]) for mark in item.iter_markers(LIMIT_MARK) if mark.args]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    ABORTED.clear()
    config.addinivalue_line("markers", f"{LIMIT_MARK}(tag): a role limit raised by a feature's "
                                       f"@allow_down_<role>_<n> tag")
    if planning(config) and getattr(config.option, "allure_report_dir", None):
        config.option.allure_report_dir = None
    for name, plugin in entry_point_plugins():
        if not config.pluginmanager.is_registered(plugin):
            config.pluginmanager.register(plugin, name=name)
    config.pluginmanager.register(allure_bdd, "stackdrill.pytest_plugin.allure_bdd")

    config.stash[VERSION_SETTINGS] = version_settings(config)

    if not hasattr(config, "workerinput"):
        guard = InterruptGuard(functools.partial(_say_past_capture, config))
        if guard.install():
            config.stash[_INTERRUPTS] = guard


def version_settings(config: pytest.Config) -> VersionSettings:
    """Where the OpenStack services' commands are looked for on the hosts besides PATH: the
    given directories, DevStack's virtualenv, and with ``--lab`` the lab's virtualenv."""
    directories = [str(d) for d in config.getoption("openstack_bin_dir", None) or []]
    if config.getoption("lab", False):
        from stackdrill.lab.cloud.layout import VENV

        directories.append(str(VENV / "bin"))
    return VersionSettings(directories=tuple(dict.fromkeys([*directories,
                                                             *DEFAULT_DIRECTORIES])))


def _say_past_capture(config: pytest.Config, text: str) -> None:
    """A line for the operator's terminal now, not in a test's captured output."""
    capture = config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(text, file=sys.stderr, flush=True)


def registries(config: pytest.Config) -> Registries:
    if REGISTRIES not in config.stash:
        found = Registries()
        config.hook.pytest_stackdrill_register(registries=found)
        config.stash[REGISTRIES] = found
    return config.stash[REGISTRIES]


def _template(item: pytest.Item) -> Any:
    from pytest_bdd.scenario import scenario_wrapper_template_registry

    function = getattr(item, "obj", None)
    return scenario_wrapper_template_registry.get(function) if callable(function) else None


def _scenario_steps(item: pytest.Item) -> tuple[str, list[Any]] | None:
    template = _template(item)
    if template is None:
        return None
    return template.feature.rel_filename, template.steps


def _rendered_steps(item: pytest.Item) -> list[Any] | None:
    """The scenario's steps with its example's values, as they will run; None for a test that
    is not a scenario."""
    template = _template(item)
    if template is None:
        return None
    callspec = getattr(item, "callspec", None)
    example = callspec.params.get("_pytest_bdd_example", {}) if callspec is not None else {}
    return list(template.render(example or {}).steps)


def _step_definitions(step: Any, item: pytest.Item) -> list[Callable[..., object]]:
    """The step functions whose parsers match ``step``, as seen from ``item``."""
    from pytest_bdd.scenario import find_fixturedefs_for_step
    from pytest_bdd.steps import step_function_context_registry

    manager = getattr(item.session, "_fixturemanager", None)
    if manager is None:
        return []
    found = []
    for fixturedef in find_fixturedefs_for_step(step, manager, item):
        context = step_function_context_registry.get(fixturedef.func)
        if context is not None:
            found.append(context.step_func)
    return found


def scenario_changes_the_cloud(item: pytest.Item) -> bool:
    """Whether running ``item`` may change the cloud, so that a production inventory refuses
    it without ``--confirm``: a ``@drill``, or a scenario with a step that names a fault, a
    recovery or a procedure, or whose definition is marked with
    :func:`stackdrill.engine.guards.changes_the_cloud`."""
    if item.get_closest_marker("drill"):
        return True
    steps = _rendered_steps(item)
    if steps is None:
        return False
    return any(NAMED.search(step.name) is not None
               or any(marked_as_changing(f) for f in _step_definitions(step, item))
               for step in steps)


_COLLECT_ERRORS = pytest.StashKey[list[str]]()


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector
                               ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """A module that cannot be collected (a malformed feature file, a missing one, broken step
    code) is bad input: remembered here, refused with one line once collection ends."""
    report = yield
    call = getattr(report, "call", None)
    if report.failed and call is not None and call.excinfo is not None:
        problem = collect_problem(collector, call.excinfo)
        collector.config.stash.setdefault(_COLLECT_ERRORS, []).append(problem)
        report.longrepr = problem  # no traceback: the line says what to fix
    return report


def collect_problem(collector: pytest.Collector, excinfo: pytest.ExceptionInfo[BaseException]
                    ) -> str:
    """One line: a Gherkin error as ``file:line: message: the line``; anything else with the
    feature file being read, or the module, and the exception's first line."""
    from pytest_bdd.exceptions import GherkinParseError

    error = excinfo.value
    if isinstance(error, GherkinParseError):
        message = " ".join(error.message.split()).removeprefix("Unknown parsing error: ")
        return (f"{error.filename}:{error.line}: {message.rstrip('.')}: "
                f"{error.line_content.strip()!r}")
    where = str(collector.path)
    for entry in excinfo.traceback:
        feature = entry.locals.get("abs_filename")
        if isinstance(feature, str):
            where = feature
    text = excinfo.exconly().strip().splitlines()
    return f"{where}: {text[0] if text else type(error).__name__}"


def _undefined_steps(item: pytest.Item, location: str) -> list[str]:
    """Steps no step definition matches, found now rather than in the middle of a drill."""
    from pytest_bdd.scenario import find_fixturedefs_for_step

    template = _template(item)
    manager = getattr(item.session, "_fixturemanager", None)
    steps = _rendered_steps(item)
    if template is None or manager is None or steps is None:
        return []
    if not steps:
        return [f"{location}:{template.line_number}: scenario {template.name!r} has no steps"]
    return [f"{location}:{step.line_number}: no step definition matches "
            f"'{step.keyword.strip()} {step.name}'"
            for step in steps
            if not any(True for _ in find_fixturedefs_for_step(step, manager, item))]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    found = registries(config)
    collect_errors: list[str] = config.stash.get(_COLLECT_ERRORS, [])
    problems = list(collect_errors)
    for item in items:
        scenario = _scenario_steps(item)
        steps = _rendered_steps(item)
        if scenario is None or steps is None:
            continue
        found_here = check_steps(scenario[0], steps, found) + _undefined_steps(item, scenario[0])
        problems += [p for p in dict.fromkeys(found_here) if p not in problems]
    for item in items:
        try:
            limits_from_tags(limit_tags(item))
        except ValueError as exc:
            scenario = _scenario_steps(item)
            problem = f"{scenario[0] if scenario else item.nodeid}: {exc}"
            if problem not in problems:
                problems.append(problem)
    if problems:
        raise pytest.UsageError(one_line(problems))


_COLLECTED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, specname="pytest_collection_modifyitems")
def pytest_collection_accepted(session: pytest.Session, config: pytest.Config,
                               items: list[pytest.Item]) -> Iterator[None]:
    """Marks a collection every plugin accepted: pytest calls ``pytest_collection_finish`` even
    after a refusal, and then nothing may be planned, locked or contacted."""
    result = yield
    config.stash[_COLLECTED] = True
    return result


def resolve_inventory(config: pytest.Config) -> Inventory:
    if INVENTORY in config.stash:
        return config.stash[INVENTORY]
    path = config.getoption("inventory")
    if config.getoption("lab") and planning(config):
        from stackdrill.lab.topology import LabPaths

        path = str(LabPaths.default().inventory)
        if not Path(path).is_file():
            raise pytest.UsageError(f"lab: no inventory at {path}; the lab is not up "
                                    f"(stackdrill lab up)")
    elif config.getoption("lab"):
        from stackdrill.lab.lab import Lab
        from stackdrill.lab.system import LabError

        try:
            path = str(Lab().ensure_up(journal=_journal_path(config)))
        except (LabError, OSError, JournalError) as exc:
            raise pytest.UsageError(f"lab: {exc}") from None
    if not path:
        raise pytest.UsageError("drills need an inventory: pass --inventory FILE or --lab")
    try:
        inventory = load_inventory(path)
    except InventoryError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[INVENTORY] = inventory
    inventory_redactor(inventory, session_redactor(config))
    return inventory


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if not config.stash.get(_COLLECTED, False):
        return
    if planning(config):
        _check_limit_names(session)
        _check_roles(session)
        _print_plan(session)
        return
    needs_hosts = [item for item in session.items if item.get_closest_marker("drill")]
    destructive = [item for item in session.items if scenario_changes_the_cloud(item)]
    if config.option.collectonly or not (needs_hosts or destructive):
        return
    if needs_hosts and config.getoption("lab"):
        # before the lab may be rebuilt under another run's drill
        existing = _existing_lab_inventory()
        if existing is not None:
            _take_lock(config, existing)
    inventory = resolve_inventory(config)
    _check_limit_names(session)
    _check_roles(session)
    refusal = Guards.for_inventory(inventory, confirm=config.getoption("confirm")) \
        .production_refusal()
    if refusal is not None:
        raise pytest.UsageError(refusal)
    if needs_hosts:
        _take_lock(config, inventory)
        _refuse_leftovers(config, inventory)
        targets = _targets(config)
        problems = check_hosts(targets)
        if problems:
            raise pytest.UsageError(one_line(problems))


def _journal_path(config: pytest.Config) -> Path:
    path = config.getoption("journal")
    return Path(path) if path else default_state_dir() / "journal.jsonl"


def _refuse_leftovers(config: pytest.Config, inventory: Inventory) -> None:
    """Nothing is drilled on a cloud that a dead run left broken: the guards count only the
    faults of the live run, so a second controller could go down."""
    try:
        left = Journal(_journal_path(config)).left_behind(lock_name(inventory), inventory.hosts)
    except JournalError as exc:
        raise pytest.UsageError(str(exc)) from None
    if left:
        first = left[0]
        raise pytest.UsageError(
            f"{len(left)} {'entry' if len(left) == 1 else 'entries'} left pending on this cloud "
            f"by a run that is gone (first: {first.kind} {first.fault} on {first.target}, "
            f"pid {first.pid}): run `stackdrill recover --pending` first")


def _check_roles(session: pytest.Session) -> None:
    """A fault on every host of a role needs a host of that role in the inventory."""
    scenarios = [(scenario[0], steps) for scenario, steps in
                 ((_scenario_steps(item), _rendered_steps(item)) for item in session.items)
                 if scenario is not None and steps is not None]
    if not scenarios:
        return
    inventory = resolve_inventory(session.config)
    problems: list[str] = []
    for location, steps in scenarios:
        problems += [p for p in check_every_role(location, steps, inventory) if p not in problems]
    if problems:
        raise pytest.UsageError(one_line(problems))


def _check_limit_names(session: pytest.Session) -> None:
    """Every raised limit names a role or one of the inventory's clusters."""
    raised = [limits for limits in (limits_from_tags(limit_tags(item)) for item in session.items)
              if limits]
    if not raised:
        return
    inventory = resolve_inventory(session.config)
    for limits in raised:
        problem = unknown_limit_names(limits, inventory)
        if problem is not None:
            raise pytest.UsageError(problem)


def _existing_lab_inventory() -> Inventory | None:
    from stackdrill.lab.topology import LabPaths

    path = LabPaths.default().inventory
    try:
        return load_inventory(path) if path.is_file() else None
    except InventoryError:
        return None


def _take_lock(config: pytest.Config, inventory: Inventory) -> None:
    if hasattr(config, "workerinput") or LOCK in config.stash:
        return
    lock = lock_for(inventory, default_state_dir())
    try:
        note = lock.acquire()
    except LockError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[LOCK] = lock
    if note:
        print(f"stackdrill: {note}", file=sys.stderr, flush=True)


def _planned(item: pytest.Item, rootpath: Path) -> Any:
    from stackdrill.engine.plan import PlannedScenario

    template = _template(item)
    if template is None:
        return None
    callspec = getattr(item, "callspec", None)
    example = callspec.params.get("_pytest_bdd_example", {}) if callspec is not None else {}
    scenario = template.render(example or {})
    filename = Path(template.feature.filename)
    try:
        location = str(filename.relative_to(rootpath))
    except ValueError:
        location = str(filename)
    return PlannedScenario(location=f"{location}:{template.line_number}", name=scenario.name,
                           steps=scenario.steps, limits=limits_from_tags(limit_tags(item)),
                           changes_the_cloud=scenario_changes_the_cloud(item))


def _print_plan(session: pytest.Session) -> None:
    from stackdrill.engine.plan import render_plan

    config = session.config
    scenarios = [p for p in (_planned(item, config.rootpath) for item in session.items) if p]
    if not scenarios:
        return
    text = render_plan(scenarios, resolve_inventory(config), registries(config),
                       config.getoption("confirm"))
    sys.stdout.write(text)
    sys.stdout.flush()


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    """In a dry run nothing runs: the plan was printed when collection finished."""
    if not planning(session.config):
        return None
    if session.testsfailed:
        raise session.Interrupted(f"{session.testsfailed} errors during collection")
    return True


_TARGETS = pytest.StashKey[dict[str, Targets]]()


def _targets(config: pytest.Config) -> Targets:
    holder = config.stash.setdefault(_TARGETS, {})
    if "targets" not in holder:
        holder["targets"] = Targets(resolve_inventory(config))
    return holder["targets"]


def pytest_unconfigure(config: pytest.Config) -> None:
    lock = config.stash.get(LOCK, None)
    if lock is not None:
        _undo_live_drills()
    holder = config.stash.get(_TARGETS, {})
    if "targets" in holder:
        holder["targets"].close()
    if lock is not None:
        lock.release()
    guard = config.stash.get(_INTERRUPTS, None)
    if guard is not None:
        guard.restore()


def _undo_live_drills() -> None:
    for drill in list(LIVE_DRILLS):
        drill.undo_all()
        LIVE_DRILLS.discard(drill)


def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    _undo_live_drills()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _undo_live_drills()
    config = session.config
    directory = getattr(config.option, "allure_report_dir", None)
    if directory and not planning(config):
        inventory = config.stash.get(INVENTORY, None)
        write_allure_files(Path(directory), cloud=inventory.cloud if inventory else None,
                           stackdrill=stackdrill_version(),
                           openstack=config.stash.get(API_VERSIONS, None),
                           services=config.stash.get(SERVICE_VERSIONS, None))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int,
                            config: pytest.Config) -> None:
    if ABORTED:
        terminalreporter.section("aborted by safeguard", red=True)
        for line in ABORTED:
            terminalreporter.write_line(line)


def aborted_drills() -> list[str]:
    """The drills a safeguard aborted in the last session (``stackdrill run`` exits 3 if any)."""
    return list(ABORTED)


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
def journal(pytestconfig: pytest.Config, inventory: Inventory) -> Journal:
    return Journal(_journal_path(pytestconfig), cloud=lock_name(inventory))


@pytest.fixture
def drill(request: pytest.FixtureRequest, targets: Targets, stackdrill_registries: Registries,
          journal: Journal, redactor: Redactor, cloud_access: CloudAccess | None
          ) -> Iterator[Drill]:
    """A drill for one scenario; every fault it injected is undone when the scenario ends."""
    evidence = allure_bdd.AllureEvidence(redactor)
    guards = Guards.for_inventory(targets.inventory, limits_from_tags(limit_tags(request.node)),
                                  request.config.getoption("confirm"))
    current = Drill(request.node.name, targets, stackdrill_registries, journal, evidence,
                    guards=guards, cloud=cloud_access,
                    safeguard_interval=float(request.config.getoption("safeguard_interval")))
    current.expected_paths = unchanged_patterns(_rendered_steps(request.node) or [])
    LIVE_DRILLS.add(current)
    progress = WaitProgress(terminal_line(request.config), redact=redactor)
    try:
        with observing(progress):
            yield current
    finally:
        errors = current.undo_all()
        errors += never_confirmed(request.node, current)
        LIVE_DRILLS.discard(current)
        _ended_by_safeguard(request, current)
        evidence.attach_text("timeline", current.timeline.render())
        evidence.attach_json("timeline.json", current.timeline.to_json())
        current.close()
        history = request.config.getoption("history")
        record_drill(request.node, current, Path(history) if history else
                     default_state_dir() / "history.jsonl", cloud_access, errors)
        if errors:
            pytest.fail("; ".join(errors), pytrace=False)


@pytest.fixture
def baseline(request: pytest.FixtureRequest, drill: Drill) -> Any:
    """The verified state, recorded before anything is broken."""
    try:
        return drill.record_baseline(settle=float(request.config.getoption("settle")))
    except DrillError as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)


@pytest.fixture
def budget_scale(pytestconfig: pytest.Config) -> float:
    return float(pytestconfig.getoption("budget_scale"))
