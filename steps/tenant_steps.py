"""The vocabulary of what the tenants may feel. Each step states an expectation
(:mod:`stackdrill.engine.tenant_expectations`) and judges the figures the drill's tenant
observers report so far; a broken one fails the step with the measured figure."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytest_bdd import parsers, then

from stackdrill.core.errors import DrillError, InvalidValue
from stackdrill.engine.drill import Drill
from stackdrill.engine.grammar import (
    API_UNAVAILABLE,
    CANARY_REBOOTED,
    HEARTBEATS_STALLED,
    NO_CANARY_REBOOTED,
    TENANTS_SAW,
)
from stackdrill.engine.tenant_expectations import (
    Expectation,
    api_expectation,
    reboots_expectation,
    saw_expectation,
    stall_expectation,
)
from stackdrill.hosts.target import Targets


def compute_hosts(targets: Targets) -> list[str]:
    """The compute hosts, each of which runs a canary."""
    try:
        return [target.name for target in targets.with_role("compute")]
    except (AttributeError, ValueError):  # hosts without roles (a test's fakes)
        return []


def expect(drill: Drill, targets: Targets, budget_scale: float,
           build: Callable[[], Expectation]) -> None:
    """Judge the expectation ``build`` reads; fail the step with its one-line message."""
    try:
        drill.tenants.check(build(), compute_hosts(targets), budget_scale)
    except (DrillError, InvalidValue) as exc:
        message = str(exc)
    else:
        return
    pytest.fail(message, pytrace=False)


@then(parsers.re(API_UNAVAILABLE), converters={"seconds": float})
def api_unavailable(drill: Drill, targets: Targets, budget_scale: float, seconds: float,
                    api: str | None = None) -> None:
    """``the compute API was unavailable for at most 90 seconds`` (``every API``)."""
    expect(drill, targets, budget_scale, lambda: api_expectation(api, seconds))


@then(parsers.re(TENANTS_SAW))
def tenants_saw(drill: Drill, targets: Targets, budget_scale: float, claims: str,
                host: str | None = None) -> None:
    """``the tenants saw at most 45 seconds of volume I/O stall and no lost write``."""
    expect(drill, targets, budget_scale, lambda: saw_expectation(host, claims))


@then(NO_CANARY_REBOOTED)
def no_canary_rebooted(drill: Drill, targets: Targets, budget_scale: float) -> None:
    expect(drill, targets, budget_scale, lambda: reboots_expectation(None, None))


@then(parsers.re(CANARY_REBOOTED))
def canary_rebooted(drill: Drill, targets: Targets, budget_scale: float, times: str,
                    host: str | None = None) -> None:
    """``each canary rebooted at most once`` (``at most N times``; ``the canary on <host>``)."""
    expect(drill, targets, budget_scale, lambda: reboots_expectation(host, times))


@then(parsers.re(HEARTBEATS_STALLED), converters={"seconds": float})
def heartbeats_stalled(drill: Drill, targets: Targets, budget_scale: float,
                       seconds: float) -> None:
    expect(drill, targets, budget_scale, lambda: stall_expectation(seconds))
