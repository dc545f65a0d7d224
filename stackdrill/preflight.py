"""Checks run before anything is injected: feature vocabulary, inventory, and host access."""

from __future__ import annotations

import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import Targets
from stackdrill.params import ParamError, table_params
from stackdrill.registry import Registries, UnknownName
from stackdrill.safeguards import SAFEGUARD_STEP, parse_safeguards

# A procedure (a backup, planned maintenance) is a runbook like a recovery, in the same registry.
NAMED = re.compile(r'\b(?P<kind>fault|recovery|procedure) "(?P<name>[^"]+)"')


def _table(step: Any) -> list[list[str]]:
    rows = step.datatable.raw() if step.datatable is not None else []
    return [[str(cell) for cell in row] for row in rows]


def check_steps(location: str, steps: Iterable[Any], registries: Registries) -> list[str]:
    """Every fault or recovery a scenario names must be registered and take its parameters;
    a safeguards table must parse."""
    problems = []
    for step in steps:
        if step.name.strip() == SAFEGUARD_STEP:
            try:
                parse_safeguards(_table(step))
            except ValueError as exc:
                problems.append(f"{location}:{step.line_number}: {exc}")
            continue
        match = NAMED.search(step.name)
        if match is None:
            continue
        kind, name = match["kind"], match["name"]
        registry = registries.faults if kind == "fault" else registries.recoveries
        where = f"{location}:{step.line_number}"
        try:
            registry.get(name).validate(table_params(_table(step)))
        except (UnknownName, ParamError) as exc:
            problems.append(f"{where}: {exc}")
    return problems


def check_hosts(targets: Targets) -> list[str]:
    """Connect to every host once, in parallel; each failure is one line."""

    def connect(name: str) -> str | None:
        try:
            targets.get(name).connection.connect()
        except HostError as exc:
            return str(exc)
        return None

    names = sorted(targets.inventory.hosts)
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(names)))) as pool:
        return [problem for problem in pool.map(connect, names) if problem]


def one_line(problems: list[str]) -> str:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0] + more
