"""What the tenants felt, as the reports show it beside the time to recover: a few headline
figures per run (each the worst over its subjects), their trend and regressions across runs.

A run whose observers never reported a headline figure shows "—", never 0: no figure is not a
good figure. A heartbeat stall counts a canary still silent when its observer stopped, as the
expectations do (:func:`stackdrill.engine.tenant_expectations.figure_value`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stackdrill.cloud.tenant_view import API_PREFIX, CANARY_PREFIX
from stackdrill.engine.tenant_expectations import (
    IO_ERRORS,
    IO_STALL,
    LOST_WRITES,
    REBOOTS,
    STALL,
    UNAVAILABLE,
    Measure,
    figure_value,
)
from stackdrill.reporting.history import Run
from stackdrill.reporting.trend import Regression, regression

NONE = "—"


@dataclass(frozen=True)
class Headline:
    """A column of the reports: the worst value of ``measure`` over the subjects of ``scope``."""

    title: str
    scope: str
    measure: Measure


HEADLINES = (Headline("API unavailable", API_PREFIX, UNAVAILABLE),
             Headline("heartbeat stall", CANARY_PREFIX, STALL),
             Headline("volume I/O stall", CANARY_PREFIX, IO_STALL),
             Headline("reboots", CANARY_PREFIX, REBOOTS),
             Headline("lost writes", CANARY_PREFIX, LOST_WRITES))
#: Every figure of a subject the per-run tables show, in order, with its title.
API_COLUMNS = ((UNAVAILABLE.figure, "longest outage"), ("failures", "failed samples"),
               ("samples", "samples"))
CANARY_COLUMNS = ((STALL.figure, "heartbeat stall"), ("silent_s", "silent at the end"),
                  (IO_STALL.figure, "volume I/O stall"), (REBOOTS.figure, "reboots"),
                  (LOST_WRITES.figure, "lost writes"), (IO_ERRORS.figure, "I/O errors"))


def subjects(figures: Mapping[str, float], scope: str) -> list[str]:
    return sorted({name.split("/", 1)[0] for name in figures if name.startswith(scope)})


def worst_of(figures: Mapping[str, float], headline: Headline) -> tuple[float, str] | None:
    """The headline's worst value among ``figures`` and the subject it came from; None when
    no subject reported it."""
    found = [(value, subject) for subject in subjects(figures, headline.scope)
             if (value := figure_value(figures, subject, headline.measure)) is not None]
    return max(found, key=lambda pair: pair[0]) if found else None


def worst(run: Run, headline: Headline) -> tuple[float, str] | None:
    return worst_of(run.tenant_figures or {}, headline)


def amount(value: float, measure: Measure) -> str:
    if measure.seconds:
        return f"{value:.1f} s" if value < 100 else f"{value:.0f} s"
    return f"{value:g}"


def cell_of(figures: Mapping[str, float], headline: Headline) -> str:
    """``62.1 s (compute)``; ``0`` (no subject named for a 0), or "—" when none reported."""
    found = worst_of(figures, headline)
    if found is None:
        return NONE
    value, subject = found
    name = subject.split(":", 1)[1]
    return amount(value, headline.measure) + (f" ({name})" if value else "")


def cell(run: Run, headline: Headline) -> str:
    return cell_of(run.tenant_figures or {}, headline)


def summary_of(figures: Mapping[str, float] | None) -> str:
    """Every headline reported, for a summary: ``API unavailable 62.1 s (compute) · reboots
    0``; "—" when no observer ran."""
    if figures is None:
        return NONE
    parts = [f"{h.title} {cell_of(figures, h)}" for h in HEADLINES
             if worst_of(figures, h) is not None]
    return " · ".join(parts) or "no figure reported"


def felt_line(run: Run) -> str:
    return summary_of(run.tenant_figures)


@dataclass(frozen=True)
class FigureRegression:
    headline: Headline
    found: Regression

    def describe(self) -> str:
        base, measure = self.found.baseline, self.headline.measure
        above = (f"{(self.found.latest / base.median - 1) * 100:.0f}% above" if base.median > 0
                 else "above")
        return (f"{self.headline.title} {amount(self.found.latest, measure)} is {above} the "
                f"median {amount(base.median, measure)} of the {base.previous} previous "
                f"passing runs that reported it, beyond their limit "
                f"{amount(base.limit, measure)}")


def series(runs: Sequence[Run], headline: Headline) -> list[float | None]:
    """The headline's value in each run, oldest first; None where the run did not pass or
    did not report it."""
    values: list[float | None] = []
    for run in runs:
        found = worst(run, headline) if run.result == "passed" else None
        values.append(found[0] if found is not None else None)
    return values


def regressions(runs: Sequence[Run]) -> list[FigureRegression]:
    """Each headline whose latest value regressed against the earlier passing runs, by the
    rule the time to recover follows (:mod:`stackdrill.reporting.trend`)."""
    found = []
    for headline in HEADLINES:
        regressed = regression(series(runs, headline))
        if regressed is not None:
            found.append(FigureRegression(headline, regressed))
    return found
