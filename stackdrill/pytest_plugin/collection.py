"""The checks at collection: a feature or step module that cannot be collected, a step nothing
matches, a raised limit or a role the inventory cannot satisfy, a production inventory without
``--confirm``; the scenarios skipped, with the reason, that the inventory cannot run (an
``@ha`` drill without the clusters and the VIP it drills); and, once collection is accepted,
the Tempest steps against the Tempest they run from (a regex that selects no test; a real run
without Tempest installed), the alert steps against the inventory's monitoring (an alert no rule
defines; a real run without an Alertmanager), the lock, the leftovers of dead runs and the
hosts' reachability before anything runs."""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator

import pytest

from stackdrill.engine.alert_check import alert_steps, check_alerts
from stackdrill.engine.grammar import step_choice
from stackdrill.engine.guards import (
    Guards,
    limits_from_tags,
    unknown_limit_names,
)
from stackdrill.engine.preflight import (
    check_choices,
    check_every_role,
    check_fault_inventory,
    check_hosts,
    check_steps,
    one_line,
)
from stackdrill.engine.requirements import HA_TAG, unmet
from stackdrill.engine.tempest_check import check_tempest, run_venv
from stackdrill.engine.tenant_expectations import canary_problems
from stackdrill.pytest_plugin.disk_space import refuse_unwritable
from stackdrill.pytest_plugin.dry_run import print_plan
from stackdrill.pytest_plugin.options import planning, seed_of
from stackdrill.pytest_plugin.scenarios import (
    limit_tags,
    rendered_steps,
    scenario_changes_the_cloud,
    scenario_steps,
    undefined_steps,
)
from stackdrill.pytest_plugin.session import (
    existing_lab_inventory,
    refuse_leftovers,
    registries,
    resolve_inventory,
    session_targets,
    take_lab_lock,
    take_lock,
)

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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    found = registries(config)
    collect_errors: list[str] = config.stash.get(_COLLECT_ERRORS, [])
    problems = list(collect_errors)
    for item in items:
        scenario = scenario_steps(item)
        steps = rendered_steps(item)
        if scenario is None or steps is None:
            continue
        found_here = check_steps(scenario[0], steps, found) + undefined_steps(item, scenario[0])
        problems += [p for p in dict.fromkeys(found_here) if p not in problems]
    for item in items:
        try:
            limits_from_tags(limit_tags(item))
        except ValueError as exc:
            scenario = scenario_steps(item)
            problem = f"{scenario[0] if scenario else item.nodeid}: {exc}"
            if problem not in problems:
                problems.append(problem)
    if problems:
        raise pytest.UsageError(one_line(problems))


@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def pytest_collection_deselect_wip(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drills tagged ``@wip`` (written, not yet run on the lab) are deselected unless the
    marker expression names ``wip``: a plain ``pytest features`` runs nothing untested either.
    They were checked for bad input above all the same."""
    if re.search(r"\bwip\b", config.option.markexpr or ""):
        return
    kept = [item for item in items if item.get_closest_marker("wip") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


_COLLECTED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, specname="pytest_collection_modifyitems")
def pytest_collection_accepted(session: pytest.Session, config: pytest.Config,
                               items: list[pytest.Item]) -> Iterator[None]:
    """Marks a collection every plugin accepted: pytest calls ``pytest_collection_finish`` even
    after a refusal, and then nothing may be planned, locked or contacted."""
    result = yield
    config.stash[_COLLECTED] = True
    return result


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if not config.stash.get(_COLLECTED, False):
        return
    if planning(config):
        runnable = _skip_unmet(session)
        _check_limit_names(session, runnable)
        _check_roles(session, runnable)
        _check_tempest(config, runnable, running=False)
        _check_alerts(session, runnable, running=False)
        print_plan(session, runnable, skipped_reasons(config))
        return
    _announce_seed(session)
    needs_hosts = [item for item in session.items if item.get_closest_marker("drill")]
    destructive = [item for item in session.items if scenario_changes_the_cloud(item)]
    if config.option.collectonly or not (needs_hosts or destructive):
        return
    # before the lab is brought up or locked: the check needs no inventory
    _check_tempest(config, session.items, running=True)
    if needs_hosts and config.getoption("lab"):
        # before the lab may be rebuilt under another run's drill
        existing = existing_lab_inventory()
        if existing is not None:
            take_lab_lock(config, existing)
    inventory = resolve_inventory(config)
    runnable = _skip_unmet(session)
    _check_limit_names(session, runnable)
    _check_roles(session, runnable)
    _check_alerts(session, runnable, running=True)
    refusal = Guards.for_inventory(inventory, confirm=config.getoption("confirm")) \
        .production_refusal()
    if refusal is not None:
        raise pytest.UsageError(refusal)
    refuse_unwritable(config, inventory)  # a full disk: before the journal or the lock is written
    if any(item in runnable for item in needs_hosts):
        take_lock(config, inventory)
        refuse_leftovers(config, inventory)
        targets = session_targets(config)
        problems = check_hosts(targets)
        if problems:
            raise pytest.UsageError(one_line(problems))


_SKIPPED = pytest.StashKey[list[str]]()


def _skip_unmet(session: pytest.Session) -> list[pytest.Item]:
    """Marks skipped, with the reason, each scenario the inventory cannot give what it needs
    (an ``@ha`` drill without an HA inventory: :mod:`stackdrill.engine.requirements`); the
    others are returned, for the checks against the inventory and the plan."""
    if not any(item.get_closest_marker(HA_TAG) for item in session.items):
        return list(session.items)
    inventory = resolve_inventory(session.config)
    runnable, skipped = [], []
    for item in session.items:
        reason = unmet([mark.name for mark in item.iter_markers()], inventory)
        if reason is None:
            runnable.append(item)
            continue
        item.add_marker(pytest.mark.skip(reason=reason))
        skipped.append(reason)
    session.config.stash[_SKIPPED] = skipped
    return runnable


def skipped_reasons(config: pytest.Config) -> list[str]:
    """The reason of each scenario :func:`_skip_unmet` skipped (the plan counts them)."""
    return config.stash.get(_SKIPPED, [])


def _check_roles(session: pytest.Session, items: list[pytest.Item]) -> None:
    """A fault on every host of a role needs a host of that role in the inventory, a tenant
    expectation on a canary a compute host to run it, and each fault's parameters must hold
    against the inventory."""
    scenarios = [(scenario[0], steps) for scenario, steps in
                 ((scenario_steps(item), rendered_steps(item)) for item in items)
                 if scenario is not None and steps is not None]
    if not scenarios:
        return
    inventory = resolve_inventory(session.config)
    found = registries(session.config)
    problems: list[str] = []
    for location, steps in scenarios:
        here = check_every_role(location, steps, inventory) \
            + canary_problems(location, steps, inventory) \
            + check_choices(location, steps, inventory) \
            + check_fault_inventory(location, steps, inventory, found)
        problems += [p for p in here if p not in problems]
    if problems:
        raise pytest.UsageError(one_line(problems))


def _check_tempest(config: pytest.Config, items: list[pytest.Item], running: bool) -> None:
    """The Tempest steps of ``items`` against the Tempest they run from: a regex that selects
    no test is refused, and so is a real run (``running``) without Tempest installed
    (:mod:`stackdrill.engine.tempest_check`)."""
    scenarios = [(scenario[0], steps) for scenario, steps in
                 ((scenario_steps(item), rendered_steps(item)) for item in items)
                 if scenario is not None and steps is not None]
    problems = check_tempest(scenarios, run_venv(config.getoption("tempest_venv", None)),
                             running)
    if problems:
        raise pytest.UsageError(one_line(problems))


def _check_alerts(session: pytest.Session, items: list[pytest.Item], running: bool) -> None:
    """The alert steps of ``items`` against the inventory's ``alerts``: a run needs an
    Alertmanager, and a step may name only an alert the rules define, when they can be read
    (:mod:`stackdrill.engine.alert_check`)."""
    scenarios = [(scenario[0], steps) for scenario, steps in
                 ((scenario_steps(item), rendered_steps(item)) for item in items)
                 if scenario is not None and steps is not None]
    if not scenarios:
        return
    if not alert_steps(scenarios):
        return
    problems = check_alerts(scenarios, resolve_inventory(session.config).alerts, running)
    if problems:
        raise pytest.UsageError(one_line(problems))


def _announce_seed(session: pytest.Session) -> None:
    """A run whose scenarios choose hosts at random says its seed before anything runs."""
    if not any(choice is not None and choice.random
               for steps in (rendered_steps(item) for item in session.items) if steps
               for choice in (step_choice(step.name) for step in steps)):
        return
    seed = seed_of(session.config)
    reporter = session.config.pluginmanager.getplugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"stackdrill: seed {seed} chooses the hosts taken at random "
                            f"(--seed {seed} chooses them again)")


def _check_limit_names(session: pytest.Session, items: list[pytest.Item]) -> None:
    """Every raised limit names a role or one of the inventory's clusters."""
    raised = [limits for limits in (limits_from_tags(limit_tags(item)) for item in items)
              if limits]
    if not raised:
        return
    inventory = resolve_inventory(session.config)
    for limits in raised:
        problem = unknown_limit_names(limits, inventory)
        if problem is not None:
            raise pytest.UsageError(problem)
