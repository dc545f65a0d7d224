"""What the cloud's monitoring must do during a drill: an alert fires within N seconds of the
first injection, clears within N seconds of the recovery, and no other critical alert fires.
Each step reads the drill's watch on the cloud's Alertmanager
(:mod:`stackdrill.engine.alert_watch`); a step naming an alert no rule defines, or a run without
an Alertmanager, is refused before anything runs (:mod:`stackdrill.engine.alert_check`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest
from pytest_bdd import parsers, then

from stackdrill.cloud.alerts.vocabulary import ALERT_CLEARS, ALERT_FIRES, NO_OTHER_ALERT
from stackdrill.core.errors import DrillError
from stackdrill.engine.alert_watch import (
    AlertWatch,
    first_injection,
    others_message,
    recovery_end,
)
from stackdrill.engine.drill import Drill

T = TypeVar("T")


def judged(watch: AlertWatch | None, drill: Drill, action: Callable[[AlertWatch], T]) -> T:
    """Run an expectation on the watch; its failure fails the step with one line."""
    if watch is None:
        pytest.fail("the alert steps need the cloud's Alertmanager: the inventory names none",
                    pytrace=False)
    try:
        return action(watch)
    except DrillError as exc:
        message = drill.evidence.redact(str(exc))
    pytest.fail(message, pytrace=False)


@then(parsers.re(ALERT_FIRES), converters={"seconds": float})
def alert_fires(name: str, seconds: float, drill: Drill, alert_watch: AlertWatch | None,
                budget_scale: float) -> None:
    """``the alert "NovaComputeDown" fires within 120 seconds`` of the first injection."""
    judged(alert_watch, drill,
           lambda watch: watch.fires(name, seconds * budget_scale, first_injection(drill)))


@then(parsers.re(ALERT_CLEARS), converters={"seconds": float})
def alert_clears(seconds: float, drill: Drill, alert_watch: AlertWatch | None,
                 budget_scale: float, name: str | None = None) -> None:
    """``it clears within 120 seconds of the recovery`` (``it``: the alert named last)."""
    judged(alert_watch, drill,
           lambda watch: watch.clears(name, seconds * budget_scale, recovery_end(drill)))


@then(NO_OTHER_ALERT)
def no_other_alert(drill: Drill, alert_watch: AlertWatch | None) -> None:
    """From the first injection to this step, no critical alert but those the scenario
    names fired (silenced and inhibited alerts paged nobody, and do not count)."""
    window = judged(alert_watch, drill, lambda _: first_injection(drill))
    others = judged(alert_watch, drill, lambda watch: watch.no_other_critical(window))
    if others:
        pytest.fail(drill.evidence.redact(others_message(
            others, window, alert_watch.sampler.failures if alert_watch else 0)), pytrace=False)
