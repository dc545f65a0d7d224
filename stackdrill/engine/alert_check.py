"""The alert steps' checks before anything runs, on the scenarios a run or a plan selected (the
plugin calls :func:`check_alerts` once collection is accepted):

- A real run (not a plan) of a scenario with an alert step needs the cloud's Alertmanager: an
  inventory without the ``alerts`` key is refused, before anything is injected (a drill that
  injects its fault and then cannot ask the monitoring wastes the fault).
- When the rules can be read, a step naming an alert no rule defines is refused: the rule files
  the inventory's ``alerts.rule_files`` lists (on the drill host), else, in a real run, the
  rules the inventory's Prometheus has loaded (a Prometheus that does not answer leaves the
  names unchecked). A rule file that cannot be read refuses the run or the plan.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stackdrill.cloud.alerts import AlertError
from stackdrill.cloud.alerts.rules import RuleNames, names_in_files, prometheus_rule_names
from stackdrill.cloud.alerts.vocabulary import is_alert_step, named_alert
from stackdrill.inventory.model import AlertsSpec

__all__ = ["alert_steps", "check_alerts", "rule_names"]


def alert_steps(scenarios: Iterable[tuple[str, Iterable[Any]]]) -> list[tuple[str, str | None]]:
    """``(<feature>:<line>, alert name or None)`` of each alert step, once each, from
    ``(feature, steps)`` pairs."""
    found: dict[str, str | None] = {}
    for location, steps in scenarios:
        for step in steps:
            if is_alert_step(step.name):
                found.setdefault(f"{location}:{step.line_number}", named_alert(step.name))
    return list(found.items())


def rule_names(spec: AlertsSpec, running: bool) -> RuleNames | None:
    """The alert names the cloud's rules define, or None when they cannot be read; raises
    :class:`AlertError` for a rule file that cannot be read."""
    if spec.rule_files:
        return names_in_files(spec.rule_files)
    if running and spec.prometheus:
        try:
            return prometheus_rule_names(spec.prometheus)
        except AlertError:
            return None
    return None


def check_alerts(scenarios: Iterable[tuple[str, Iterable[Any]]], spec: AlertsSpec,
                 running: bool) -> list[str]:
    """What keeps the alert steps of ``scenarios`` from running, one line each."""
    steps = alert_steps(scenarios)
    if not steps:
        return []
    first = steps[0][0]
    if spec.alertmanager is None:
        if not running:
            return []
        return [f"{first}: the alert steps need the cloud's Alertmanager: the inventory names "
                f"none (alerts: {{alertmanager: URL}})"]
    try:
        names = rule_names(spec, running)
    except AlertError as exc:
        return [f"{first}: {exc}"]
    if names is None:
        return []
    return [f"{where}: {problem}" for where, name in steps
            if name is not None and (problem := names.problem(name)) is not None]
