"""A drill's watch on what its tenants feel: the tenant observers
(:class:`~stackdrill.cloud.tenant_view.TenantObserver`) it starts once its verified state is
recorded and stops when it closes, their figures and outages so far, and the expectations the
scenario states about them (:mod:`stackdrill.engine.tenant_expectations`).

An observer never fails the drill by itself: one that cannot start, report or stop leaves a line
in the timeline and the evidence, and its figures missing, so an expectation on them fails.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stackdrill.cloud.tenant_view import KeepsLog, Outage, TenantObserver
from stackdrill.core.errors import DrillError
from stackdrill.core.evidence import Evidence, Timeline
from stackdrill.engine.tenant_expectations import Expectation, Observed, judge

FIGURES = "tenant figures"
OUTAGES = "tenant outages"


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _observer_name(observer: TenantObserver) -> str:
    return type(observer).__name__


def outage_line(outage: Outage) -> str:
    start = dt.datetime.fromtimestamp(outage.start, dt.UTC).strftime("%H:%M:%S.%f")[:-3]
    detail = f": {outage.detail}" if outage.detail else ""
    return f"{start} UTC +{outage.seconds:.1f} s {outage.lane} {outage.kind}{detail}"


@dataclass(frozen=True)
class TenantView:
    """What the observers reported: figures (``<subject>/<figure>``), outages, the subjects
    they watch, how many observers ran, and what went wrong with them."""

    figures: Mapping[str, float]
    outages: tuple[Outage, ...]
    subjects: frozenset[str]
    observers: int
    problems: tuple[str, ...] = ()


@dataclass
class TenantWatch:
    """Starts, reads and stops a drill's tenant observers; records them in its timeline and
    evidence."""

    timeline: Timeline
    evidence: Evidence
    observers: list[TenantObserver] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    stopped: TenantView | None = None

    def start(self, observers: Sequence[TenantObserver]) -> None:
        """Start each observer (at once: each runs in the background)."""
        for observer in observers:
            try:
                observer.start()
            except Exception as exc:  # an observer never breaks the drill
                self._problem(f"{_observer_name(observer)} did not start: {_why(exc)}")
                continue
            self.observers.append(observer)
        if self.observers:
            subjects = sorted(self._subjects())
            self.timeline.add("tenant-watch", f"watching what the tenants feel: "
                                              f"{', '.join(subjects) or 'no subject'}")

    def _problem(self, line: str) -> None:
        self.problems.append(line)
        self.timeline.add("tenant-watch-problem", line)

    def _subjects(self) -> set[str]:
        found: set[str] = set()
        for observer in self.observers:
            with contextlib.suppress(Exception):
                found |= set(observer.subjects())
        return found

    def view(self) -> TenantView:
        """The figures and outages so far (those at the stop, once stopped)."""
        if self.stopped is not None:
            return self.stopped
        figures: dict[str, float] = {}
        outages: list[Outage] = []
        problems = list(self.problems)
        for observer in self.observers:
            try:
                figures.update(observer.figures())
                outages.extend(observer.outages())
            except Exception as exc:  # its figures are missing, and say so
                problems.append(f"{_observer_name(observer)} did not report: {_why(exc)}")
        return TenantView(figures, tuple(sorted(outages, key=lambda o: (o.start, o.lane))),
                          frozenset(self._subjects()), len(self.observers), tuple(problems))

    def stop(self) -> TenantView | None:
        """Stop every observer, keep and record their last figures; None if none ran."""
        if self.stopped is not None or not self.observers:
            return self.stopped
        for observer in self.observers:
            try:
                observer.stop()
            except Exception as exc:
                self._problem(f"{_observer_name(observer)} did not stop: {_why(exc)}")
        final = self.view()
        self.stopped = final
        self._record(final)
        return final

    def _record(self, final: TenantView) -> None:
        self.evidence.attach_json(FIGURES, dict(sorted(final.figures.items())))
        lines = [outage_line(outage) for outage in final.outages]
        self.evidence.attach_text(OUTAGES, "\n".join(lines) or "no outage")
        for observer in self.observers:
            if isinstance(observer, KeepsLog):
                with contextlib.suppress(Exception):
                    log = observer.log()
                    if log:
                        self.evidence.attach_text(f"tenant log: {_observer_name(observer)}",
                                                  "\n".join(log))
        self.timeline.add("tenant-watch-stopped",
                          f"{len(final.figures)} tenant figure(s), {len(final.outages)} "
                          f"interval(s) felt", "\n".join(lines), at=time.time())

    def check(self, expectation: Expectation, canary_hosts: Sequence[str],
              scale: float = 1.0) -> None:
        """Raise :class:`DrillError` with every way the figures so far break ``expectation``
        (one line), and the observers' own problems when a figure is missing."""
        current = self.view()
        observed = Observed(current.figures, current.outages, current.subjects, current.observers)
        problems = judge(expectation, observed, canary_hosts, scale)
        self.evidence.attach_text(f"tenant expectation: {expectation.describe()}",
                                  "\n".join(problems) or "kept")
        if not problems:
            return
        notes = f" [{'; '.join(current.problems)}]" if current.problems else ""
        raise DrillError("; ".join(problems) + notes)
