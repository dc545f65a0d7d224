"""The alerting rules an alert step may name: read from Prometheus rule files (``groups``, each
with ``rules``, an alerting rule being one with an ``alert`` key) or from a Prometheus's
``GET /api/v1/rules?type=alert``. A step that names an alert no rule defines can never pass,
and is refused before anything runs when the rules can be read."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stackdrill.cloud.alerts import AlertError
from stackdrill.cloud.alerts.alertmanager import DEFAULT_TIMEOUT, Fetch, _urlopen, get

__all__ = ["RuleNames", "names_in_file", "names_in_files", "names_in_rules",
           "prometheus_rule_names"]


@dataclass(frozen=True)
class RuleNames:
    """The alert names the rules define, and where they were read (for the refusal's line)."""

    names: frozenset[str]
    source: str

    def problem(self, name: str) -> str | None:
        """Why a step may not name ``name`` (one line), or None."""
        if name in self.names:
            return None
        known = ", ".join(sorted(self.names)) or "none"
        return (f"no alerting rule defines the alert \"{name}\" ({len(self.names)} alerts in "
                f"{self.source}: {known})")


def names_in_rules(data: Any, where: str) -> frozenset[str]:
    """The ``alert`` names of a rule file's content; :class:`AlertError` when it is not one."""
    if data is None:
        return frozenset()
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, list):
        raise AlertError(f"{where}: not a Prometheus rule file (expected a mapping with groups)")
    names: set[str] = set()
    for group in groups:
        rules = group.get("rules") if isinstance(group, dict) else None
        if not isinstance(rules, list):
            raise AlertError(f"{where}: a group without a list of rules")
        names.update(str(rule["alert"]) for rule in rules
                     if isinstance(rule, dict) and "alert" in rule)
    return frozenset(names)


def names_in_file(path: Path) -> frozenset[str]:
    """The alert names ``path`` defines; :class:`AlertError` when it cannot be read."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise AlertError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        first = " ".join(str(exc).split())
        raise AlertError(f"{path}: not YAML: {first}") from None
    return names_in_rules(data, str(path))


def names_in_files(paths: Iterable[Path]) -> RuleNames:
    paths = list(paths)
    names: frozenset[str] = frozenset()
    for path in paths:
        names |= names_in_file(path)
    return RuleNames(names, ", ".join(str(p) for p in paths))


def prometheus_rule_names(url: str, timeout: float = DEFAULT_TIMEOUT,
                          fetch: Fetch = _urlopen) -> RuleNames:
    """The alerting rules a Prometheus at ``url`` has loaded."""
    base = url.rstrip("/")
    body = get(f"{base}/api/v1/rules?type=alert", timeout, fetch, what="Prometheus")
    try:
        data = json.loads(body)
        groups = data["data"]["groups"]
        names = {str(rule["name"]) for group in groups for rule in group["rules"]
                 if rule.get("type", "alerting") == "alerting"}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise AlertError(f"Prometheus at {base}: cannot read its rules") from None
    return RuleNames(frozenset(names), f"the rules Prometheus at {base} has loaded")
