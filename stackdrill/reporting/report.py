"""``stackdrill report``: the history grouped per drill, a regression check, and the HTML file.

The report of one run (``stackdrill report RUN``, and the one written after each run) holds the
drills of that run, each with its history up to that run, and calls regressions for them alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from stackdrill.reporting import ReportError, release_comparison
from stackdrill.reporting.drill_runs import DrillRuns, group
from stackdrill.reporting.history import Run, load_runs

__all__ = ["DrillRuns", "group", "of_run", "read_history", "summary", "write_report"]


def summary(groups: Sequence[DrillRuns]) -> list[str]:
    lines = [group.line() for group in groups]
    for item in groups:
        found = item.regression
        if found is not None:
            lines.append(f"REGRESSION: {item.drill}: {found.describe()}")
        lines += [f"REGRESSION: {item.drill}: {figure.describe()}"
                  for figure in item.figure_regressions]
    return lines


def across_releases(groups: Sequence[DrillRuns]) -> list[str]:
    """When the runs name two releases or more, one line counting the drills of the section
    "Before and after the upgrade" by flag."""
    comparison = release_comparison.across_upgrade(groups)
    if comparison is None:
        return []
    return [f"{comparison.before.label} -> {comparison.after.label}: "
            f"{comparison.count_line()} (stackdrill report --releases)"]


def of_run(runs: Sequence[Run], run: str, history: Path) -> list[Run]:
    """The records of the drills that ``run`` ran, up to that run: its own and their earlier
    ones."""
    own = [r for r in runs if r.run == run]
    if not own:
        raise ReportError(f"run {run}: no drill of it in {history}")
    drills = {(r.drill, r.cloud) for r in own}
    last = max(r.started for r in own)
    return [r for r in runs if (r.drill, r.cloud) in drills and r.started <= last]


def read_history(history: Path, run: str | None = None) -> tuple[list[Run], int]:
    """The history's runs (only ``run``'s drills, up to it, if given) and how many lines
    could not be read."""
    if not history.is_file():
        raise ReportError(f"no drill history at {history}")
    runs, unreadable = load_runs(history)
    if not runs:
        raise ReportError(f"{history}: no drill runs recorded")
    return (of_run(runs, run, history) if run else runs), unreadable


def write_report(history: Path, output: Path, last: int | None = None,
                 now: dt.datetime | None = None, run: str | None = None) -> list[str]:
    """Render the history (or one run's drills) into ``output``; return the lines for the
    operator."""
    from stackdrill.reporting.html import render

    runs, unreadable = read_history(history, run)
    groups = group(runs, last)
    output.parent.mkdir(parents=True, exist_ok=True)
    source = str(history) if run is None else f"{history}, the drills of run {run}"
    output.write_text(render(groups, source=source, now=now), encoding="utf-8")
    lines = summary(groups) + across_releases(groups)
    if unreadable:
        lines.append(f"skipped {unreadable} unreadable line(s) in {history}")
    lines.append(f"report: {output}")
    return lines
