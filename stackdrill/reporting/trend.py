"""The regression rule: a drill regressed when its latest time to recover exceeds the median of
its previous runs' by more than 25%."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

THRESHOLD = 1.25


@dataclass(frozen=True)
class Regression:
    latest: float
    median: float
    previous: int  # how many earlier runs recovered, and so make the median

    @property
    def threshold(self) -> float:
        return self.median * THRESHOLD

    def describe(self) -> str:
        above = (f"{(self.latest / self.median - 1) * 100:.0f}% above" if self.median > 0
                 else "above")
        runs = "run" if self.previous == 1 else "runs"
        return (f"time to recover {self.latest:.1f} s is {above} the median {self.median:.1f} s "
                f"of the {self.previous} previous {runs} (limit +25%)")


def previous_median(ttrs: Sequence[float | None]) -> float | None:
    """The median time to recover of every run but the latest, counting runs that recovered."""
    previous = [t for t in ttrs[:-1] if t is not None]
    return statistics.median(previous) if previous else None


def regression(ttrs: Sequence[float | None]) -> Regression | None:
    """``ttrs``: a drill's times to recover, oldest first, None where a run did not recover."""
    if not ttrs or ttrs[-1] is None:
        return None
    median = previous_median(ttrs)
    if median is None or ttrs[-1] <= median * THRESHOLD:
        return None
    return Regression(ttrs[-1], median, sum(t is not None for t in ttrs[:-1]))
