"""Safeguards: checks that must keep holding while a drill has the cloud broken.

A safeguard is a probe path pattern with a check against the verified state (one of the
tolerance kinds: ``exact``, ``abs 2``, ``min 1``, ...) and a grace period: how long the check may
keep failing before the drill is aborted. A feature declares them as a table::

    Given the safeguards:
      | path                     | check  | grace |
      | cloud/server:*/status    | exact  | 0     |
      | host:*/domain:*/qemu_pid | exact  | 0     |
      | cloud/service:*/state    | exact  | 90    |

From the first injection to the end of the scenario a background poller observes the paths
(only the hosts they name, and the cloud only when a ``cloud/`` path is guarded). A value that
cannot be observed counts as failing. When a check has failed for longer than its grace, the
monitor trips: the drill's running step stops at its next wait (:func:`stackdrill.core.waiting.poll`
asks the monitor before each pause), every fault is undone, and the drill ends as aborted.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from stackdrill.core.errors import DrillError, InvalidValue
from stackdrill.core.state import Rule, Snapshot

__all__ = [
    "DEFAULT_INTERVAL",
    "SAFEGUARD_STEP",
    "Safeguard",
    "SafeguardMonitor",
    "SafeguardTripped",
    "parse_safeguards",
]

SAFEGUARD_STEP = "the safeguards:"
DEFAULT_INTERVAL = 2.0
_HEADER = ("path", "check", "grace")
_UNSUITABLE = frozenset({"ignore"})


class SafeguardTripped(DrillError):
    """A safeguard failed beyond its grace; ``str()`` is one line."""


@dataclass(frozen=True)
class Safeguard:
    rule: Rule
    grace: float

    @property
    def text(self) -> str:
        return f"{self.rule.text} (grace {self.grace:g}s)"

    def failures(self, baseline: Snapshot, current: Snapshot) -> list[str]:
        """What violates this safeguard in ``current``: one entry per guarded path."""
        found = []
        for path in sorted(p for p in baseline.values if self.rule.matches(p)):
            before = baseline.values[path]
            if path not in current.values:
                found.append(f"{path}: unobserved{_error_for(path, current)}")
            elif not self.rule.allows(before, current.values[path]):
                found.append(f"{path}: {before!r} -> {current.values[path]!r}")
        return found

    def guarded_paths(self, baseline: Snapshot) -> list[str]:
        return [path for path in baseline.values if self.rule.matches(path)]


def _error_for(path: str, snapshot: Snapshot) -> str:
    """The probe error that explains a missing value (same host, or the cloud), if any."""
    scope = path.split("/", 1)[0] + "/"
    errors = [message for key, message in sorted(snapshot.errors.items())
              if key.startswith(scope)]
    return f" ({errors[0]})" if errors else ""


def _grace(text: str, where: str) -> float:
    raw = text.strip().removesuffix("seconds").removesuffix("s").strip()
    try:
        value = float(raw)
    except ValueError:
        raise InvalidValue(f"{where}: grace {text.strip()!r}: expected seconds, "
                           f"e.g. 0 or 30") from None
    if not math.isfinite(value) or value < 0:
        raise InvalidValue(f"{where}: grace {text.strip()!r}: expected seconds >= 0")
    return value


def parse_safeguards(rows: Sequence[Sequence[str]]) -> list[Safeguard]:
    """The ``the safeguards:`` table: a ``path | check | grace`` header, then one row each.

    Raises InvalidValue with one line naming the row for anything malformed.
    """
    cells = [[str(cell).strip() for cell in row] for row in rows]
    if not cells or tuple(c.lower() for c in cells[0]) != _HEADER:
        raise InvalidValue(f"safeguards: expected a table with the header "
                           f"| {' | '.join(_HEADER)} |")
    if len(cells) < 2:
        raise InvalidValue("safeguards: the table lists no safeguard")
    safeguards = []
    for number, row in enumerate(cells[1:], start=1):
        where = f"safeguards row {number}"
        if len(row) != len(_HEADER) or not all(row):
            raise InvalidValue(f"{where}: expected a path, a check and a grace")
        path, check, grace = row
        if len(path.split()) != 1:
            raise InvalidValue(f"{where}: path {path!r}: expected one path pattern")
        try:
            rule = Rule.parse(f"{path} {check}")
        except InvalidValue as exc:
            raise InvalidValue(f"{where}: {exc}") from None
        if rule.kind in _UNSUITABLE:
            raise InvalidValue(f"{where}: check {check!r} guards nothing; expected exact, abs, "
                               f"rel, min, max, subset, superset or present")
        safeguards.append(Safeguard(rule, _grace(grace, where)))
    return safeguards


class SafeguardMonitor:
    """Evaluates safeguards against the verified state, in a background thread or by ``tick``.

    ``observe`` takes a snapshot of what the safeguards guard. A check failing continuously for
    longer than its grace trips the monitor; :meth:`check` then raises :class:`SafeguardTripped`
    in whichever thread asks.
    """

    def __init__(self, safeguards: Iterable[Safeguard], baseline: Snapshot,
                 observe: Callable[[], Snapshot], interval: float = DEFAULT_INTERVAL,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.safeguards = list(safeguards)
        self.baseline = baseline
        self.observe = observe
        self.interval = interval
        self.monotonic = monotonic
        self.tripped: str | None = None
        self.ticks = 0
        self._failing_since: dict[Safeguard, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def unguarded(self) -> list[Safeguard]:
        """Safeguards that match no path of the verified state (a check that cannot fail)."""
        return [s for s in self.safeguards if not s.guarded_paths(self.baseline)]

    def tick(self) -> str | None:
        """One observation and evaluation; the reason if the monitor has tripped."""
        if self.tripped is not None:
            return self.tripped
        try:
            snapshot = self.observe()
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}".splitlines()[0]
            snapshot = Snapshot(taken_at=time.time(), values={}, errors={"probes": problem})
        now = self.monotonic()
        with self._lock:
            self.ticks += 1
            for safeguard in self.safeguards:
                failures = safeguard.failures(self.baseline, snapshot)
                if not failures:
                    self._failing_since.pop(safeguard, None)
                    continue
                since = self._failing_since.setdefault(safeguard, now)
                if now - since >= safeguard.grace:
                    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
                    self.tripped = (f"safeguard {safeguard.text} failed for {now - since:.1f}s: "
                                    f"{failures[0]}{more}")
                    break
        return self.tripped

    def check(self) -> None:
        if self.tripped is not None:
            raise SafeguardTripped(self.tripped)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="stackdrill-safeguards",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self.tick() is None and not self._stop.wait(self.interval):
            pass

    def stop(self, timeout: float = 30.0) -> None:
        """Stop polling; waits for an observation in progress to finish (up to ``timeout``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
