"""The runs of each drill, grouped per drill and cloud, and which of them compare: a time to
recover is compared only with those measured from the same kind of moment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stackdrill.reporting.charts import seconds
from stackdrill.reporting.history import Run
from stackdrill.reporting.tenant_figures import FigureRegression, regressions
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

    @property
    def figure_regressions(self) -> list[FigureRegression]:
        """The tenant-visible figures whose latest value regressed (same rule as the time to
        recover, over the passing runs that reported them)."""
        return regressions(self.runs)

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
