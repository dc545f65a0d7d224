"""Waiting for the verified state with a time-to-recover resolution under a second.

A full snapshot (every probe, every host, the cloud's APIs) can take seconds on a large cloud;
polling it alone would measure recovery only to within that time plus the pause. So the watch
takes a full snapshot, then re-observes only what deviated (the probes that produced the
deviating paths, on their hosts: one cheap round trip) at a short, cost-aware pace. When the
focused poll finds those paths back, that poll's time is when the state was restored, and a
full snapshot confirms that nothing else deviates; if something does, the watch focuses on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from stackdrill.core.state import Deviation, Snapshot, Tolerance, compare
from stackdrill.core.waiting import SYSTEM_CLOCK, Attempt, Clock, PollRecord, poll

__all__ = ["FOCUS_CEILING", "FOCUS_FLOOR", "RecoveryWatch", "Restored", "pace"]

#: The shortest pause between polls, and the longest; between them a pause is as long as the
#: last poll took, so polling costs at most half of the observed systems' time.
FOCUS_FLOOR = 0.2
FOCUS_CEILING = 0.75

SnapshotTaker = Callable[[frozenset[str] | None], Snapshot]


def pace(cost: float) -> float:
    """The pause before a poll that last cost ``cost`` seconds."""
    return min(max(cost, FOCUS_FLOOR), FOCUS_CEILING)


@dataclass(frozen=True)
class Restored:
    """The verified state is back: first seen at ``restored_at`` (a snapshot's wall-clock
    start), confirmed by the full snapshot ``confirmed``."""

    restored_at: float
    confirmed: Snapshot


class _NotYet:
    """A failed check with a readable record line."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return self.text


@dataclass
class RecoveryWatch:
    """``current``, when given, is the latest snapshot taken during the fault: the watch then
    starts focused on what deviated in it instead of with a full snapshot."""

    baseline: Snapshot
    tolerance: Tolerance
    take: SnapshotTaker
    current: Snapshot | None = None
    focus: frozenset[str] | None = None
    last: list[Deviation] = field(default_factory=list)
    full_snapshots: int = 0
    focused_polls: int = 0
    costs: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.current is not None and self.focus is None:
            found = compare(self.baseline, self.current, self.tolerance)
            self.focus = self.current.focus_on(found, self.baseline) if found else None

    def check(self) -> Restored | _NotYet:
        if self.current is None or not self.focus:
            return self._full(restored_at=None)
        clock = time.monotonic()
        partial = self.take(self.focus)
        self.costs["focused"] = time.monotonic() - clock
        self.focused_polls += 1
        merged = self.current.merged(partial, self.focus)
        found = compare(self.baseline, merged, self.tolerance)
        if found:
            return self._not_yet(merged, found, "focused on " + ", ".join(sorted(self.focus)))
        return self._full(restored_at=partial.taken_at)

    def _full(self, restored_at: float | None) -> Restored | _NotYet:
        clock = time.monotonic()
        snap = self.take(None)
        self.costs["full"] = time.monotonic() - clock
        self.full_snapshots += 1
        found = compare(self.baseline, snap, self.tolerance)
        if not found:
            self.last = []
            return Restored(snap.taken_at if restored_at is None else restored_at, snap)
        label = "full snapshot" if restored_at is None else "confirmation found more"
        return self._not_yet(snap, found, label)

    def _not_yet(self, snap: Snapshot, found: list[Deviation], label: str) -> _NotYet:
        self.current = snap
        self.last = found
        self.focus = snap.focus_on(found, self.baseline)
        return _NotYet(f"{label}: {len(found)} deviation(s), first: {found[0]}")

    def pause(self, attempt: Attempt) -> float:
        """Paced by the cost of the kind of poll that comes next (a focused poll after a slow
        full snapshot is still cheap)."""
        upcoming = "focused" if self.current is not None and self.focus else "full"
        return pace(self.costs.get(upcoming, 0.0))

    def wait(self, timeout: float, clock: Clock = SYSTEM_CLOCK,
             ignore: tuple[type[BaseException], ...] = ()) -> tuple[Restored, PollRecord]:
        """Poll until restored; :class:`~stackdrill.core.waiting.WaitTimeout` at the deadline."""
        result, record = poll(self.check, timeout=timeout, description="back to the verified "
                              "state", pacing=self.pause, ignore=ignore, clock=clock)
        assert isinstance(result, Restored)
        return result, record
