"""The drill vocabulary. Each step parses its text and calls :mod:`stackdrill.drill`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from pytest_bdd import given, parsers, then, when

from stackdrill.drill import (
    ActiveFault,
    Drill,
    DrillError,
    check_deviates,
    check_unchanged,
)
from stackdrill.guards import changes_the_cloud
from stackdrill.hosts.target import Target, Targets
from stackdrill.params import table_params
from stackdrill.registry import UnknownName
from stackdrill.runbook import RecoveryFailed
from stackdrill.safeguards import SAFEGUARD_STEP, parse_safeguards
from stackdrill.state import Rule

T = TypeVar("T")


def optional_seconds(text: str | None) -> float | None:
    return None if text is None else float(text)


def _column(datatable: list[list[str]], header: str = "path") -> list[str]:
    return [row[0].strip() for row in datatable if row and row[0].strip() != header]


def attempt(action: Callable[..., T], *args: Any) -> T:
    """Run a drill action; a drill error fails the step with its one-line message."""
    try:
        return action(*args)
    except (DrillError, RecoveryFailed, UnknownName) as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)


@given(parsers.re(r"an? (?P<role>[\w-]+) host(?: running qemu domains)?"),
       target_fixture="chosen")
def choose_host(role: str, targets: Targets) -> dict[str, Target]:
    hosts = targets.with_role(role)
    if not hosts:
        pytest.fail(f"the inventory has no {role} host", pytrace=False)
    return {role: hosts[0]}


@given("the cloud is in its verified state")
def verified_state(baseline: Any) -> None:
    """The ``baseline`` fixture records it and refuses an unhealthy start."""


@changes_the_cloud
@when(parsers.re(r'the fault "(?P<fault>[^"]+)" is injected on the (?P<role>[\w-]+) host:?'),
      target_fixture="active_fault")
def inject(drill: Drill, chosen: dict[str, Target], fault: str, role: str,
           datatable: list[list[str]] | None = None) -> ActiveFault:
    return attempt(drill.inject, fault, chosen[role], table_params(datatable or []))


@then(parsers.re(r"the fault is confirmed within (?P<seconds>\d+(?:\.\d+)?) seconds?"),
      converters={"seconds": float})
def confirmed(drill: Drill, active_fault: ActiveFault, seconds: float,
              budget_scale: float) -> None:
    attempt(drill.confirm, active_fault, seconds * budget_scale)


@changes_the_cloud
@when(parsers.re(r'the fault "(?P<fault>[^"]+)" is injected on every (?:(?P<role>[\w-]+) )?host:?'),
      target_fixture="active_faults")
def inject_everywhere(drill: Drill, targets: Targets, fault: str, role: str | None = None,
                      datatable: list[list[str]] | None = None) -> list[ActiveFault]:
    chosen = targets.with_role(role) if role else list(targets)
    return attempt(drill.inject_each, fault, chosen, table_params(datatable or []))


@then(parsers.re(r"the faults are confirmed within (?P<seconds>\d+(?:\.\d+)?) seconds?"),
      converters={"seconds": float})
def all_confirmed(drill: Drill, seconds: float, budget_scale: float) -> None:
    attempt(drill.confirm_all, seconds * budget_scale)


@changes_the_cloud
@when(parsers.re(r'the fault "(?P<fault>[^"]+)" ends'))
def fault_ends(drill: Drill, fault: str) -> None:
    """The scenario ends the fault itself (power returns): its undo runs before recovery."""
    attempt(drill.end_faults, fault)


@then(parsers.re(r"the state deviates from the verified state"
                 r"(?: within (?P<seconds>\d+(?:\.\d+)?) seconds?)? at:"),
      converters={"seconds": optional_seconds})
def deviates(drill: Drill, datatable: list[list[str]], seconds: float | None = None,
             budget_scale: float = 1.0) -> None:
    attempt(check_deviates, drill, _column(datatable), (seconds or 0.0) * budget_scale)


@given("the verified state tolerates:")
@when("the verified state from now on tolerates:")
def tolerates(drill: Drill, datatable: list[list[str]]) -> None:
    attempt(parse_rules_into, drill, _column(datatable, header="rule"))


def parse_rules_into(drill: Drill, texts: list[str]) -> None:
    try:
        rules = [Rule.parse(text) for text in texts]
    except ValueError as exc:
        raise DrillError(str(exc)) from None
    drill.tolerate(rules)


@given(SAFEGUARD_STEP)
def safeguards(drill: Drill, datatable: list[list[str]]) -> None:
    """Checks watched from the first fault to the end; one that fails beyond its grace aborts
    the drill (see :mod:`stackdrill.safeguards`)."""
    attempt(guard_from_table, drill, datatable)


def guard_from_table(drill: Drill, datatable: list[list[str]]) -> None:
    try:
        found = parse_safeguards(datatable)
    except ValueError as exc:
        raise DrillError(str(exc)) from None
    drill.guard_with(found)


@then("the state still matches the verified state at:")
def unchanged(drill: Drill, datatable: list[list[str]]) -> None:
    attempt(check_unchanged, drill, _column(datatable))


@changes_the_cloud
@when(parsers.re(r'the (?:recovery|procedure) "(?P<recovery>[^"]+)" runs on the '
                 r'(?P<role>[\w-]+) host:?'))
def recover(drill: Drill, chosen: dict[str, Target], recovery: str, role: str,
            datatable: list[list[str]] | None = None) -> None:
    attempt(drill.recover, recovery, chosen[role], table_params(datatable or []))


@then(parsers.re(r"the cloud is back to its verified state within (?P<seconds>\d+(?:\.\d+)?) "
                 r"seconds?"), converters={"seconds": float})
def back_to_verified(drill: Drill, seconds: float, budget_scale: float) -> None:
    ttr = attempt(drill.wait_verified, seconds * budget_scale)
    drill.evidence.time_to_recover(ttr, seconds * budget_scale)
