"""A drill's watch on the cloud's monitoring: what its Alertmanager listed from the verified
state to the end of the scenario (:class:`~stackdrill.cloud.alerts.sampler.AlertSampler`), and
the scenario's alert expectations judged against it:

- **fires**: an alert of that name, seen ``active`` (someone was paged: not silenced nor
  inhibited), began firing at or after the drill's first injection (less :data:`SKEW`) and was
  listed before the deadline, which runs from that injection. The step samples Alertmanager at
  once and then polls it; what the background sampler saw earlier counts too.
- **clears**: every alert of that name that fired during the drill is gone from Alertmanager's
  list by the deadline, which runs from the end of the drill's last recovery step (or the end
  of a fault the scenario ended).
- **no other critical alert**: from the first injection to this step, no alert labelled
  ``severity: critical`` but those the scenario names began firing and paged.

Every alert seen goes on the drill's timeline (``alert-firing`` when Prometheus says it began,
``alert-cleared`` when it was first seen gone) and into the evidence (``alerts seen``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from stackdrill.cloud.alerts import AlertError
from stackdrill.cloud.alerts.sampler import AlertSampler, Sighting, clock_text
from stackdrill.core.errors import DrillError
from stackdrill.core.evidence import Evidence, Timeline
from stackdrill.core.waiting import SYSTEM_CLOCK, Clock, WaitTimeout, poll
from stackdrill.engine.drill import Drill

__all__ = ["SKEW", "AlertWatch", "Moment", "first_injection", "others_message", "recovery_end"]

SKEW = 2.0
"""Seconds an alert's start may precede the first injection and still count as the drill's:
Prometheus's clock against the drill host's."""
SEVERITY = "critical"
RECOVERY_KINDS = ("recovery-step", "fault-ended")
"""Timeline events that end a recovery: a runbook's step, a fault the scenario ended."""


@dataclass(frozen=True)
class Moment:
    """A moment of the drill an expectation is timed from, and what happened then."""

    at: float
    what: str


def first_injection(drill: Drill) -> Moment:
    """When the drill's first fault was injected."""
    injected = [active for active in drill.faults if active.injected_at]
    if not injected:
        raise DrillError("no fault was injected before this step: an alert is timed from the "
                         "drill's first injection")
    first = injected[0]
    return Moment(first.injected_at, f"the injection of fault {first.fault.name} on "
                                     f"{first.fault.target.name}")


def recovery_end(drill: Drill) -> Moment:
    """The end of the drill's last recovery step, or of the last fault it ended."""
    ends = [event for event in drill.timeline.events if event.kind in RECOVERY_KINDS]
    if not ends:
        raise DrillError("no recovery ran, and no fault was ended, before this step: an alert "
                         "clears within N seconds of the recovery")
    last = ends[-1]
    return Moment(last.at, f"the end of the recovery ({last.title}, {clock_text(last.at)} UTC)")


def _since(sighting: Sighting, moment: Moment) -> str:
    return f"{sighting.alert.starts_at - moment.at:+.1f} s"


@dataclass
class AlertWatch:
    """The scenario's alert expectations against what ``sampler`` saw. ``expected``: the alerts
    the scenario names (never counted as "other")."""

    sampler: AlertSampler
    timeline: Timeline
    evidence: Evidence
    expected: list[str] = field(default_factory=list)
    now: Callable[[], float] = time.time
    clock: Clock = SYSTEM_CLOCK
    last_named: str | None = None
    window: Moment | None = None
    _placed: set[tuple[int, str]] = field(default_factory=set)

    def start(self) -> None:
        self.sampler.start()
        self.timeline.add("alert-watch", f"watching the alerts of "
                                         f"{self.sampler.source.describe()}")

    def stop(self) -> None:
        """Stop sampling; every alert that began firing in the window goes on the timeline,
        and every alert seen into the evidence."""
        self.sampler.stop()
        for sighting in self.sampler.snapshot():
            if self.window is None or sighting.alert.starts_at >= self.window.at - SKEW:
                self._place(sighting)
        self.evidence.attach_text("alerts seen", self.sampler.render())

    def _place(self, sighting: Sighting) -> None:
        alert = sighting.alert
        name = f"{alert.name}{alert.label_text()}"
        if (id(sighting), "firing") not in self._placed:
            self._placed.add((id(sighting), "firing"))
            self.timeline.add("alert-firing", f"{name} firing ({alert.severity or 'no severity'}"
                                              f", {alert.state})",
                              f"first listed {clock_text(sighting.first_seen)} UTC",
                              at=alert.starts_at)
        if sighting.gone_at is not None and (id(sighting), "cleared") not in self._placed:
            self._placed.add((id(sighting), "cleared"))
            self.timeline.add("alert-cleared", f"{name} cleared", at=sighting.gone_at)

    def _sample(self) -> bool:
        try:
            self.sampler.sample()
        except AlertError:
            return False
        return True

    def _of(self, name: str, window: Moment) -> list[Sighting]:
        return [s for s in self.sampler.snapshot()
                if s.name == name and s.alert.starts_at >= window.at - SKEW]

    def fires(self, name: str, seconds: float, window: Moment) -> Sighting:
        """Wait until ``name`` fires, at most ``seconds`` after ``window``; the sighting."""
        self.last_named, self.window = name, window
        deadline = window.at + seconds

        def fired() -> Sighting | None:
            self._sample()
            found = [s for s in self._of(name, window) if s.paged and s.first_seen <= deadline]
            return min(found, key=lambda s: s.first_seen) if found else None

        try:
            found, record = poll(fired, timeout=max(0.0, deadline - self.now()), interval=1.0,
                                 max_interval=2.0, description=f'the alert "{name}" firing',
                                 clock=self.clock)
        except WaitTimeout as exc:
            self.evidence.attach_text(f"alert {name}: attempts", exc.record.render())
            raise DrillError(f'the alert "{name}" did not fire within {seconds:g} s of '
                             f"{window.what}: {self._why_not(name, window)}") from None
        self._place(found)
        self.evidence.attach_text(f"alert {name}: fired", f"{found.line()}\nbegan firing "
                                  f"{_since(found, window)} after {window.what}\n\n"
                                  f"{record.render()}")
        return found

    def _why_not(self, name: str, window: Moment) -> str:
        sampler = self.sampler
        named = [s for s in sampler.snapshot() if s.name == name]
        before = [s for s in named if s.alert.starts_at < window.at - SKEW]
        muted = [s for s in self._of(name, window) if not s.paged]
        if muted:
            seen = f"listed only {'/'.join(sorted(muted[0].states))} (silenced or inhibited)"
        elif before:
            seen = f"listed only since {clock_text(before[0].alert.starts_at)} UTC, before it"
        else:
            seen = f"never listed by {sampler.source.describe()}"
        return f"{seen}; {sampler.samples} samples, {sampler.failures} failed"

    def clears(self, name: str | None, seconds: float, recovery: Moment) -> float:
        """Wait until every ``name`` alert of the drill is gone, at most ``seconds`` after
        ``recovery``; the seconds from ``recovery`` to the sample that saw it gone."""
        name = name or self.last_named
        if name is None:
            raise DrillError('"it clears": no earlier step of the scenario named an alert')
        self.last_named = name
        window = self.window or recovery
        self._sample()
        if not self._of(name, window):
            raise DrillError(f'the alert "{name}" never fired during the drill: nothing to clear')
        deadline = recovery.at + seconds

        def cleared() -> float | None:
            self._sample()
            mine = self._of(name, window)
            ends = [s.gone_at for s in mine]
            if any(end is None or end > deadline for end in ends):
                return None
            return max(end for end in ends if end is not None)

        try:
            gone, record = poll(cleared, timeout=max(0.0, deadline - self.now()), interval=1.0,
                                max_interval=2.0, description=f'the alert "{name}" cleared',
                                clock=self.clock)
        except WaitTimeout as exc:
            self.evidence.attach_text(f"alert {name}: attempts", exc.record.render())
            listed = [s.line() for s in self._of(name, window) if s.gone_at is None]
            raise DrillError(f'the alert "{name}" did not clear within {seconds:g} s of '
                             f"{recovery.what}: {listed[0] if listed else 'still listed'}") \
                from None
        for sighting in self._of(name, window):
            self._place(sighting)
        after = gone - recovery.at
        self.evidence.attach_text(f"alert {name}: cleared",
                                  f"gone from Alertmanager {after:+.1f} s after {recovery.what}"
                                  f"\n\n{record.render()}")
        return after

    def no_other_critical(self, window: Moment) -> list[Sighting]:
        """The critical alerts the scenario does not name that paged during the window;
        :class:`DrillError` when Alertmanager was not asked since the window began."""
        self.window = self.window or window
        self._sample()
        sampler = self.sampler
        if sampler.last_ok is None or sampler.last_ok < window.at:
            raise DrillError(f"no other critical alert: {sampler.source.describe()} was not "
                             f"asked since {window.what} ({sampler.samples} samples, "
                             f"{sampler.failures} failed)")
        others = [s for s in sampler.snapshot()
                  if s.alert.severity == SEVERITY and s.paged and s.name not in self.expected
                  and s.alert.starts_at >= window.at - SKEW]
        for sighting in others:
            self._place(sighting)
        return others


def others_message(others: list[Sighting], window: Moment, failures: int) -> str:
    """The one line of an ``no other critical alert fires`` that failed."""
    first = others[0]
    more = f" and {len(others) - 1} more" if len(others) > 1 else ""
    return (f"{len(others)} other critical alert(s) fired during the drill: {first.line()}, "
            f"{_since(first, window)} after {window.what}{more}"
            + (f" ({failures} samples failed)" if failures else ""))
