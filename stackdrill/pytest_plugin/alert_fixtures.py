"""A drill's watch on the cloud's monitoring (:class:`stackdrill.engine.alert_watch.AlertWatch`),
built for a scenario that holds an alert step when the inventory names an Alertmanager; the
``baseline`` fixture starts it with the verified state, and it stops when the scenario ends,
before the drill's undo: the alerts it saw go into the evidence and on the timeline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stackdrill.cloud.alerts.alertmanager import Alertmanager
from stackdrill.cloud.alerts.sampler import AlertSampler
from stackdrill.cloud.alerts.vocabulary import is_alert_step, named_alerts
from stackdrill.engine.alert_watch import AlertWatch
from stackdrill.engine.drill import Drill
from stackdrill.inventory.model import AlertsSpec
from stackdrill.pytest_plugin.scenarios import rendered_steps

__all__ = ["alert_watch"]


@pytest.fixture
def alert_watch(request: pytest.FixtureRequest, drill: Drill) -> Iterator[AlertWatch | None]:
    """The scenario's watch on its cloud's Alertmanager (not started), or None when the
    scenario has no alert step or the inventory names no Alertmanager."""
    texts = [step.name for step in rendered_steps(request.node) or []]
    spec = getattr(getattr(drill.targets, "inventory", None), "alerts", AlertsSpec())
    if not any(map(is_alert_step, texts)) or spec.alertmanager is None:
        yield None
        return
    watch = AlertWatch(AlertSampler(Alertmanager(spec.alertmanager)), drill.timeline,
                       drill.evidence, expected=named_alerts(texts))
    try:
        yield watch
    finally:
        watch.stop()
