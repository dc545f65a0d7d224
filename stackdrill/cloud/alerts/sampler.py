"""What Alertmanager held during a drill: a sampler asks it every couple of seconds, from the
verified state until the drill ends, and keeps one :class:`Sighting` per alert (by
fingerprint): when Prometheus says it began firing, when it was first and last seen listed, the
states it was seen in, and when it was first seen gone. An alert step may also sample at once
(:meth:`AlertSampler.sample`), into the same record.

An alert lasts in Alertmanager's list at least one rule evaluation, and resolved alerts leave
it at once; a sample every 2 s therefore sees every alert that fired, with its start time
from Prometheus, and when it cleared to within one sample."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from stackdrill.cloud.alerts import AlertError
from stackdrill.cloud.alerts.alertmanager import Alert, AlertSource

__all__ = ["DEFAULT_INTERVAL", "AlertSampler", "Sighting", "clock_text"]

DEFAULT_INTERVAL = 2.0
"""Seconds between two samples of Alertmanager."""
MAX_PROBLEMS = 50
"""Failed samples kept (the first ones; the count goes on)."""


def clock_text(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%H:%M:%S")


@dataclass
class Sighting:
    """One alert (a fingerprint) across the samples that listed it."""

    alert: Alert
    first_seen: float
    last_seen: float
    states: set[str] = field(default_factory=set)
    gone_at: float | None = None
    """The first sample that no longer listed it, after the last that did; None while listed."""

    @property
    def name(self) -> str:
        return self.alert.name

    @property
    def paged(self) -> bool:
        """Seen ``active`` at least once: not silenced nor inhibited, someone was paged."""
        return "active" in self.states

    def line(self) -> str:
        """``NovaComputeDown{hostname="compute1"} critical, firing since 12:01:02 UTC, seen
        12:01:04 to 12:02:10, cleared by 12:02:12 (active)``."""
        alert = self.alert
        gone = f", cleared by {clock_text(self.gone_at)}" if self.gone_at is not None \
            else ", still listed"
        return (f"{alert.name}{alert.label_text()} {alert.severity or 'no severity'}, firing "
                f"since {clock_text(alert.starts_at)} UTC, seen {clock_text(self.first_seen)} "
                f"to {clock_text(self.last_seen)}{gone} ({', '.join(sorted(self.states))})")


class AlertSampler:
    """Samples ``source`` every ``interval`` seconds in a thread of its own once started; every
    sample, the sampler's or a step's, goes into :attr:`sightings`."""

    def __init__(self, source: AlertSource, interval: float = DEFAULT_INTERVAL,
                 now: Callable[[], float] = time.time) -> None:
        self.source = source
        self.interval = interval
        self.now = now
        self.sightings: list[Sighting] = []
        self._current: dict[str, Sighting] = {}
        self.samples = 0
        self.failures = 0
        self.problems: list[str] = []
        self.last_ok: float | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="alert-sampler")
        self._thread.start()

    def _run(self) -> None:
        while True:
            with contextlib.suppress(AlertError):  # counted and kept by sample()
                self.sample()
            if self._stopping.wait(self.interval):
                return

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 10.0)

    def sample(self) -> list[Alert]:
        """Ask the source now and record what it lists; :class:`AlertError` when it cannot be
        asked (counted, and its line kept)."""
        at = self.now()
        try:
            alerts = self.source.alerts()
        except AlertError as exc:
            with self._lock:
                self.samples += 1
                self.failures += 1
                if len(self.problems) < MAX_PROBLEMS:
                    self.problems.append(f"{clock_text(at)} UTC: {exc}")
            raise
        with self._lock:
            self._record(at, alerts)
        return alerts

    def _record(self, at: float, alerts: list[Alert]) -> None:
        self.samples += 1
        self.last_ok = at
        listed = set()
        for alert in alerts:
            key = alert.fingerprint or f"{alert.name}{alert.label_text()}"
            listed.add(key)
            seen = self._current.get(key)
            if seen is None:  # new, or back after it cleared: a sighting of its own
                seen = self._current[key] = Sighting(alert, at, at)
                self.sightings.append(seen)
            seen.alert, seen.last_seen = alert, at
            seen.states.add(alert.state)
        for key in [key for key in self._current if key not in listed]:
            self._current.pop(key).gone_at = at

    def snapshot(self) -> list[Sighting]:
        """Every sighting so far, by the time it began firing."""
        with self._lock:
            return sorted(self.sightings, key=lambda s: (s.alert.starts_at, s.name))

    def render(self) -> str:
        """Every sighting, one line each, then the samples and failures."""
        lines = [s.line() for s in self.snapshot()] or ["no alert listed"]
        lines.append(f"{self.samples} samples of {self.source.describe()}, {self.failures} "
                     f"failed")
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)
