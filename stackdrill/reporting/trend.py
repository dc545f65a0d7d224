"""The regression rule: when a drill's time to recover is slower than its own history allows.

A run is compared with the drill's earlier passing runs timed from the same kind of moment
(the caller, :class:`stackdrill.reporting.drill_runs.DrillRuns`, leaves the others out), the
latest :data:`WINDOW` of them, and nothing is called before there are :data:`MIN_HISTORY` of
them: a median of one or two runs says little of a drill whose time varies by itself. The
limit is the median of those runs plus the largest of:

- :data:`K` scaled median absolute deviations (``1.4826 * MAD`` estimates the standard
  deviation of normally spread times; unlike the standard deviation, one slow run among the
  earlier ones does not widen it): the drill's own spread;
- :data:`MIN_FRACTION` of the median: a drill that has always taken the same time is not
  flagged for a few percent;
- :data:`MIN_SECONDS`: the verification polls every 0.2 to 1 s, so a second is noise.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MIN_HISTORY = 5
WINDOW = 20
K = 3.0
MAD_TO_SIGMA = 1.4826
MIN_FRACTION = 0.25
MIN_SECONDS = 1.0
RULE = (f"a drill has regressed when its time to recover exceeds the median of its earlier "
        f"passing runs timed from the same kind of moment (a fault's injection, or the start "
        f"of a procedure; at least {MIN_HISTORY}, the latest {WINDOW}) by more than the largest "
        f"of {K:g} scaled median absolute deviations of those runs ({K:g} x {MAD_TO_SIGMA} x "
        f"MAD, about {K:g} standard deviations of the drill's own spread), "
        f"{MIN_FRACTION:.0%} of the median, and {MIN_SECONDS:g} s")


@dataclass(frozen=True)
class Baseline:
    """What the earlier passing runs of a drill allow."""

    median: float
    mad: float  # median absolute deviation from the median
    previous: int  # how many earlier runs make it

    @property
    def margin(self) -> float:
        return max(K * MAD_TO_SIGMA * self.mad, MIN_FRACTION * self.median, MIN_SECONDS)

    @property
    def limit(self) -> float:
        return self.median + self.margin


@dataclass(frozen=True)
class Regression:
    latest: float
    baseline: Baseline

    @property
    def median(self) -> float:
        return self.baseline.median

    @property
    def previous(self) -> int:
        return self.baseline.previous

    @property
    def threshold(self) -> float:
        return self.baseline.limit

    def describe(self) -> str:
        base = self.baseline
        above = (f"{(self.latest / base.median - 1) * 100:.0f}% above" if base.median > 0
                 else "above")
        return (f"time to recover {self.latest:.1f} s is {above} the median {base.median:.1f} s "
                f"of the {base.previous} previous passing runs, beyond their limit "
                f"{base.limit:.1f} s (median + {base.margin:.1f} s; MAD {base.mad:.1f} s)")


def earlier(ttrs: Sequence[float | None]) -> list[float]:
    """The times of the runs before the latest that passed, the latest :data:`WINDOW`."""
    return [t for t in ttrs[:-1] if t is not None][-WINDOW:]


def previous_median(ttrs: Sequence[float | None]) -> float | None:
    """The median time to recover of the earlier passing runs (however few)."""
    times = earlier(ttrs)
    return statistics.median(times) if times else None


def baseline(ttrs: Sequence[float | None]) -> Baseline | None:
    """``ttrs``: a drill's times to recover, oldest first, None where a run did not pass; what
    the runs before the latest allow, or None with fewer than :data:`MIN_HISTORY` of them."""
    times = earlier(ttrs)
    if len(times) < MIN_HISTORY:
        return None
    median = statistics.median(times)
    mad = statistics.median(abs(t - median) for t in times)
    return Baseline(median, mad, len(times))


def regression(ttrs: Sequence[float | None]) -> Regression | None:
    """Whether the latest run (the last of ``ttrs``) regressed against the earlier ones."""
    if not ttrs or ttrs[-1] is None:
        return None
    found = baseline(ttrs)
    if found is None or ttrs[-1] <= found.limit:
        return None
    return Regression(ttrs[-1], found)
