"""Progress of long waits on the operator's terminal (not in the report: the evidence keeps the
full record of every attempt).

A wait that has gone on for ``after`` seconds prints one line, then one more every ``every``
seconds, e.g.::

    stackdrill: waiting 45s of 300s for back to the verified state (attempt 31): False
"""

from __future__ import annotations

from collections.abc import Callable

from stackdrill.core.waiting import PollRecord

__all__ = ["WaitProgress"]

_DETAIL = 120


class WaitProgress:
    """A :data:`stackdrill.core.waiting.PollObserver` that writes progress lines through
    ``write``."""

    def __init__(self, write: Callable[[str], None], after: float = 10.0, every: float = 15.0,
                 redact: Callable[[str], str] = str) -> None:
        self.write = write
        self.after = after
        self.every = every
        self.redact = redact
        self._due: dict[int, tuple[PollRecord, float]] = {}

    def __call__(self, record: PollRecord, remaining: float) -> None:
        held = self._due.get(id(record))
        due = held[1] if held is not None and held[0] is record else self.after
        if record.elapsed < due:
            return
        if len(self._due) > 32:
            self._due.clear()
        self._due[id(record)] = (record, record.elapsed + self.every)
        detail = record.attempts[-1].detail if record.attempts else ""
        if len(detail) > _DETAIL:
            detail = detail[:_DETAIL - 3] + "..."
        self.write(self.redact(
            f"stackdrill: waiting {record.elapsed:.0f}s of {record.timeout:g}s for "
            f"{record.description} (attempt {len(record.attempts)}): {detail}"))
