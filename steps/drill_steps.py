"""The drill vocabulary. Each step parses its text and calls :mod:`stackdrill.engine.drill`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from pytest_bdd import given, parsers, then, when

from stackdrill.api import RecoveryFailed, Registries
from stackdrill.api._registry import UnknownName
from stackdrill.core.params import table_params
from stackdrill.core.state import Rule
from stackdrill.engine.choice import choice_key, choose, choose_by_vip
from stackdrill.engine.drill import (
    ActiveFault,
    Drill,
    DrillError,
    check_deviates,
    check_unchanged,
)
from stackdrill.engine.grammar import (
    BACK_TO_VERIFIED,
    CHOOSE_BY_VIP,
    CHOOSE_FIRST,
    CONFIRM_ALL,
    CONFIRM_ONE,
    FAULT_ENDS,
    INJECT,
    INJECT_EVERYWHERE,
    INJECT_ONE_CHOSEN,
    INJECT_SOME_CHOSEN,
    RECOVER,
    RECOVER_CHOSEN,
    TOLERATES,
    TOLERATES_FROM_NOW,
    UNCHANGED,
    parse_choice,
    path_cells,
    rule_cells,
)
from stackdrill.engine.guards import changes_the_cloud
from stackdrill.engine.preflight import check_running_domains
from stackdrill.engine.safeguards import SAFEGUARD_STEP, parse_safeguards
from stackdrill.hosts.target import Target, Targets

T = TypeVar("T")


def optional_seconds(text: str | None) -> float | None:
    return None if text is None else float(text)


def attempt(action: Callable[..., T], *args: Any) -> T:
    """Run a drill action; a drill error fails the step with its one-line message."""
    try:
        return action(*args)
    except (DrillError, RecoveryFailed, UnknownName) as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)


@pytest.fixture
def chosen() -> dict[str, Target]:
    """The host each ``Given a <role> host`` step of the scenario chose, by role."""
    return {}


@given(parsers.re(CHOOSE_FIRST))
def choose_host(role: str, targets: Targets, chosen: dict[str, Target],
                stackdrill_registries: Registries, domains: str | None = None) -> None:
    """The first host of the role by name (the host the plan shows); with "running qemu
    domains", it must run at least one."""
    try:
        hosts = targets.with_role(role)
    except ValueError as exc:
        pytest.fail(str(exc), pytrace=False)
    if not hosts:
        pytest.fail(f"the inventory has no {role} host", pytrace=False)
    problem = check_running_domains(hosts[0], stackdrill_registries) if domains else None
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    chosen[role] = hosts[0]


@given(parsers.re(CHOOSE_BY_VIP))
def choose_host_by_vip(role: str, vip: str, targets: Targets, chosen: dict[str, Target],
                       drill: Drill) -> None:
    """The host of the role that holds the inventory's virtual IP now ("not holding the VIP":
    the first by name of those seen not holding it); the evidence says which and why."""
    found = attempt(choose_by_vip, targets, role, not vip.strip().startswith("not"))
    drill.record_choice(found.note)
    chosen[role] = found.hosts[0]


def chosen_host(chosen: dict[str, Target], role: str) -> Target:
    if role not in chosen:
        pytest.fail(f"no earlier step 'Given a {role} host' chose the {role} host",
                    pytrace=False)
    return chosen[role]


@pytest.fixture
def choices_made() -> dict[str, int]:
    """How many steps of the scenario made each choice so far (the key of a random choice)."""
    return {}


def choose_for(request: pytest.FixtureRequest, drill: Drill, targets: Targets,
               chosen: dict[str, Target], choices_made: dict[str, int], seed: int,
               kind: str, name: str, text: str) -> list[Target]:
    """The hosts a step's choice names (at random with the run's seed, the first N by name,
    where a server runs), recorded in the evidence; the first becomes "the <role> host" of the
    steps after it."""
    choice = parse_choice(text)
    assert choice is not None  # the step's pattern matched a choice
    key = choice_key(request.node.nodeid, kind, name, choice, choices_made)
    cloud = drill.cloud.access if drill.cloud is not None else None
    found = attempt(lambda: choose(choice, targets, seed=seed, key=key, cloud=cloud))
    drill.record_choice(found.note)
    chosen[choice.role] = found.hosts[0]
    return found.hosts


@given("the cloud is in its verified state")
def verified_state(baseline: Any) -> None:
    """The ``baseline`` fixture records it and refuses an unhealthy start."""


@changes_the_cloud
@when(parsers.re(INJECT), target_fixture="active_fault")
def inject(drill: Drill, chosen: dict[str, Target], fault: str, role: str,
           datatable: list[list[str]] | None = None) -> ActiveFault:
    return attempt(drill.inject, fault, chosen_host(chosen, role),
                   table_params(datatable or []))


@changes_the_cloud
@when(parsers.re(INJECT_ONE_CHOSEN), target_fixture="active_fault")
def inject_on_chosen(request: pytest.FixtureRequest, drill: Drill, targets: Targets,
                     chosen: dict[str, Target], choices_made: dict[str, int], drill_seed: int,
                     fault: str, choice: str, datatable: list[list[str]] | None = None
                     ) -> ActiveFault:
    [host] = choose_for(request, drill, targets, chosen, choices_made, drill_seed, "fault",
                        fault, choice)
    return attempt(drill.inject, fault, host, table_params(datatable or []))


@changes_the_cloud
@when(parsers.re(INJECT_SOME_CHOSEN), target_fixture="active_faults")
def inject_on_some(request: pytest.FixtureRequest, drill: Drill, targets: Targets,
                   chosen: dict[str, Target], choices_made: dict[str, int], drill_seed: int,
                   fault: str, choice: str, datatable: list[list[str]] | None = None
                   ) -> list[ActiveFault]:
    hosts = choose_for(request, drill, targets, chosen, choices_made, drill_seed, "fault",
                       fault, choice)
    return attempt(drill.inject_each, fault, hosts, table_params(datatable or []))


@then(parsers.re(CONFIRM_ONE), converters={"seconds": float})
def confirmed(drill: Drill, active_fault: ActiveFault, seconds: float,
              budget_scale: float) -> None:
    attempt(drill.confirm, active_fault, seconds * budget_scale)


@changes_the_cloud
@when(parsers.re(INJECT_EVERYWHERE), target_fixture="active_faults")
def inject_everywhere(drill: Drill, targets: Targets, fault: str, role: str | None = None,
                      datatable: list[list[str]] | None = None) -> list[ActiveFault]:
    hosts = targets.with_role(role) if role else list(targets)
    if not hosts:
        pytest.fail(f"the inventory has no {role + ' ' if role else ''}host", pytrace=False)
    return attempt(drill.inject_each, fault, hosts, table_params(datatable or []))


@then(parsers.re(CONFIRM_ALL), converters={"seconds": float})
def all_confirmed(drill: Drill, seconds: float, budget_scale: float) -> None:
    attempt(drill.confirm_all, seconds * budget_scale)


@changes_the_cloud
@when(parsers.re(FAULT_ENDS))
def fault_ends(drill: Drill, fault: str) -> None:
    """The scenario ends the fault itself (power returns): its undo runs before recovery."""
    attempt(drill.end_faults, fault)


@then(parsers.re(r"the state deviates from the verified state"
                 r"(?: within (?P<seconds>\d+(?:\.\d+)?) seconds?)? at:"),
      converters={"seconds": optional_seconds})
def deviates(drill: Drill, datatable: list[list[str]], seconds: float | None = None,
             budget_scale: float = 1.0) -> None:
    attempt(check_deviates, drill, path_cells(datatable), (seconds or 0.0) * budget_scale)


@given(TOLERATES)
@when(TOLERATES_FROM_NOW)
def tolerates(drill: Drill, datatable: list[list[str]]) -> None:
    attempt(parse_rules_into, drill, [text for _, text in rule_cells(datatable)])


def parse_rules_into(drill: Drill, texts: list[str]) -> None:
    try:
        rules = [Rule.parse(text) for text in texts]
    except ValueError as exc:
        raise DrillError(str(exc)) from None
    drill.tolerate(rules)


@given(SAFEGUARD_STEP)
def safeguards(drill: Drill, datatable: list[list[str]]) -> None:
    """Checks watched from the first fault to the end; one that fails beyond its grace aborts
    the drill (see :mod:`stackdrill.engine.safeguards`)."""
    attempt(guard_from_table, drill, datatable)


def guard_from_table(drill: Drill, datatable: list[list[str]]) -> None:
    try:
        found = parse_safeguards(datatable)
    except ValueError as exc:
        raise DrillError(str(exc)) from None
    drill.guard_with(found)


@then(UNCHANGED)
def unchanged(drill: Drill, datatable: list[list[str]]) -> None:
    attempt(check_unchanged, drill, path_cells(datatable))


@changes_the_cloud
@when(parsers.re(RECOVER))
def recover(drill: Drill, chosen: dict[str, Target], recovery: str, role: str,
            datatable: list[list[str]] | None = None) -> None:
    attempt(drill.recover, recovery, chosen_host(chosen, role), table_params(datatable or []))


@changes_the_cloud
@when(parsers.re(RECOVER_CHOSEN))
def recover_on_chosen(request: pytest.FixtureRequest, drill: Drill, targets: Targets,
                      chosen: dict[str, Target], choices_made: dict[str, int], drill_seed: int,
                      kind: str, recovery: str, choice: str,
                      datatable: list[list[str]] | None = None) -> None:
    [host] = choose_for(request, drill, targets, chosen, choices_made, drill_seed, kind,
                        recovery, choice)
    attempt(drill.recover, recovery, host, table_params(datatable or []))


@then(parsers.re(BACK_TO_VERIFIED), converters={"seconds": float})
def back_to_verified(drill: Drill, seconds: float, budget_scale: float) -> None:
    ttr = attempt(drill.wait_verified, seconds * budget_scale)
    drill.evidence.time_to_recover(ttr, seconds * budget_scale)
