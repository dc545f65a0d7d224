"""``stackdrill report``: the history grouped per drill, a regression check, and the HTML file.

The report of one run (``stackdrill report RUN``, and the one written after each run) holds the
drills of that run, each with its history up to that run, and calls regressions for them alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stackdrill.reporting import ReportError
from stackdrill.reporting.charts import seconds
from stackdrill.reporting.history import Run, load_runs
from stackdrill.reporting.trend import Baseline, Regression, baseline, regression

INJECTION = "the injection of"
PROCEDURE = "the start of procedure"


def clock(run: Run) -> str | None:
    """What kind of moment a run's time to recover runs from: :data:`INJECTION` (a fault's),
    :data:`PROCEDURE` (a drill without a fault, timed whole since its first procedure), else
    the record's own words. A record without ``measured_from`` (written before it was kept)
    counts from the injection if it injected a fault; else it timed only the final check, and
    None says it compares with nothing."""
    if run.measured_from is None:
        return INJECTION if run.faults else None
    return next((kind for kind in (INJECTION, PROCEDURE) if run.measured_from.startswith(kind)),
                run.measured_from)


def comparable(runs: Sequence[Run], reference: Run) -> list[Run]:
    """``reference`` and the runs whose time to recover runs from the same kind of moment."""
    kind = clock(reference)
    return [run for run in runs if run is reference or (kind is not None and clock(run) == kind)]


@dataclass(frozen=True)
class DrillRuns:
    """The runs of one drill against one cloud, oldest first."""

    drill: str
    feature: str
    scenario: str
    cloud: str | None
    runs: tuple[Run, ...]

    @property
    def latest(self) -> Run:
        return self.runs[-1]

    @property
    def comparable_ttrs(self) -> list[float | None]:
        """Each run's time to recover, None where the run did not pass or its clock started at
        another kind of moment than the latest run's (see :func:`clock`)."""
        same = comparable(self.runs, self.latest)
        return [run.time_to_recover if run.result == "passed" and run in same else None
                for run in self.runs]

    @property
    def regression(self) -> Regression | None:
        return regression(self.comparable_ttrs)

    @property
    def baseline(self) -> Baseline | None:
        return baseline(self.comparable_ttrs)

    def line(self) -> str:
        run = self.latest
        ttr = seconds(run.time_to_recover) if run.time_to_recover is not None else "none"
        budget = f" of {seconds(run.budget)}" if run.budget is not None else ""
        count = f"{len(self.runs)} run" + ("" if len(self.runs) == 1 else "s")
        where = f" on {self.cloud}" if self.cloud else ""
        return f"{self.drill}{where}: {count}, latest {run.result}, time to recover {ttr}{budget}"


def group(runs: Sequence[Run], last: int | None = None) -> list[DrillRuns]:
    """One entry per drill and cloud, by feature and scenario; ``last`` keeps each drill's N
    most recent runs."""
    keyed: dict[tuple[str, str | None], list[Run]] = {}
    for run in sorted(runs, key=lambda r: r.started):
        keyed.setdefault((run.drill, run.cloud), []).append(run)
    groups = [DrillRuns(drill, items[-1].feature, items[-1].scenario, cloud,
                        tuple(items[-last:] if last else items))
              for (drill, cloud), items in keyed.items()]
    return sorted(groups, key=lambda g: (g.feature, g.scenario, g.cloud or ""))


def summary(groups: Sequence[DrillRuns]) -> list[str]:
    lines = [group.line() for group in groups]
    for item in groups:
        found = item.regression
        if found is not None:
            lines.append(f"REGRESSION: {item.drill}: {found.describe()}")
    return lines


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
    lines = summary(groups)
    if unreadable:
        lines.append(f"skipped {unreadable} unreadable line(s) in {history}")
    lines.append(f"report: {output}")
    return lines
