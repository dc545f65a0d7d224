"""A drill's verdicts and records: the :class:`DrillError` family a failed drill raises (each
one line for the operator), what the drill keeps about each fault it injected, and its result.

:mod:`stackdrill.engine.drill` re-exports every name here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from stackdrill.api._fault import Fault
from stackdrill.api._runbook import RunbookRecord
from stackdrill.cloud.tenant_view import Outage
from stackdrill.core.errors import ActionFailed, DrillError
from stackdrill.core.waiting import Attempt, PollRecord
from stackdrill.engine.journal import JournalEntry

__all__ = [
    "ABORT_PREFIX",
    "ActiveFault",
    "BudgetExceeded",
    "ClaimsRepair",
    "DrillError",
    "DrillResult",
    "FaultNotConfirmed",
    "GuardRefused",
    "NotRepaired",
    "PreflightFailed",
    "SafeguardAborted",
]

ABORT_PREFIX = "aborted by safeguard: "


class FaultNotConfirmed(DrillError):
    """A fault's effect was not observed in time, or a step came before it was confirmed."""


class BudgetExceeded(DrillError):
    """The cloud was not back to its verified state within the scenario's budget."""


class NotRepaired(DrillError):
    """The verified state is back, but damage the scenario says its recovery repairs is not."""


class GuardRefused(DrillError):
    """A blast-radius guard refused a fault or a recovery; nothing was journalled or run."""


class PreflightFailed(DrillError):
    """Before the drill's first fault, the cloud did not match its verified state; nothing was
    journalled or injected."""


class SafeguardAborted(DrillError):
    """A safeguard tripped; the drill stops here and its faults are undone."""


@runtime_checkable
class ClaimsRepair(Protocol):
    """A fault whose parameters can say that the drill's recovery repairs its damage (a hard
    reboot re-creates a removed domain XML). Once the verified state is back, ``unrepaired``
    observes that damage again: one line naming what is still broken, or None. The drill fails
    on that line (:class:`NotRepaired`), before the fault's undo would put it back."""

    def unrepaired(self, facts: Mapping[str, Any]) -> str | None: ...


@dataclass
class ActiveFault:
    """A fault the drill injected: its journal entry, the facts its undo needs, and when it was
    injected and confirmed."""

    fault: Fault
    entry: JournalEntry
    facts: dict[str, Any]
    injected_at: float
    confirmed_at: float | None = None
    evidence: str | None = None
    undone: bool = False


@dataclass
class DrillResult:
    """What a drill measured: its time to recover against its budget, its runbooks, and what
    its tenants felt (the observers' figures and outages when they stopped)."""

    name: str
    time_to_recover: float | None = None
    budget: float | None = None
    recoveries: list[RunbookRecord] = field(default_factory=list)
    #: What the time to recover and the budget run from, as in "measured from <this>": the
    #: first fault's injection, or, in a drill without a fault, its first procedure's start.
    measured_from: str | None = None
    tenant_figures: dict[str, float] = field(default_factory=dict)
    outages: list[Outage] = field(default_factory=list)
    #: Seconds stackdrill spent observing inside the waits that time the cloud: the fault's
    #: confirmation (``confirm``) and the wait for the verified state (``verify``), each the
    #: sum of its attempts' durations up to the moment the wait's goal was first seen. The
    #: harness's own time, not the cloud's.
    observing: dict[str, float] = field(default_factory=dict)
    #: When (epoch seconds) the phases after the verified state ended, to account for
    #: stackdrill's own time there: ``confirmed`` (the full snapshot confirming the verified
    #: state), ``steps-ended`` (the scenario's last step), ``undone`` (the faults' undo),
    #: ``observers-stopped`` (the tenant observers' last reads).
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, moment: str) -> None:
        self.marks[moment] = time.time()

    def observed(self, wait: str, record: PollRecord, until: float | None = None) -> None:
        """Add the attempts of ``record`` to the observing time of ``wait``: only their part
        before ``until`` seconds after the wait began, when given. The verified state is first
        seen at the start of the snapshot that shows it, and the timed wait ends there; the
        rest of that attempt (the full snapshot confirming it) comes after the wait."""
        spent = sum(_clipped(attempt, until) for attempt in record.attempts)
        self.observing[wait] = self.observing.get(wait, 0.0) + spent


def _clipped(attempt: Attempt, until: float | None) -> float:
    if until is None:
        return attempt.duration
    return max(0.0, min(attempt.at + attempt.duration, until) - attempt.at)


def still_unrepaired(faults: list[ActiveFault]) -> str | None:
    """The first damage a fault's scenario says its recovery repairs (:class:`ClaimsRepair`)
    that is still there, as the reason the drill fails; None when all of it is repaired."""
    for active in faults:
        if active.undone or not isinstance(active.fault, ClaimsRepair):
            continue
        try:
            left = active.fault.unrepaired(active.facts)
        except ActionFailed as exc:
            left = f"cannot observe it: {exc}"
        if left:
            return (f"the verified state is back, but not what the recovery was to repair "
                    f"after {active.fault.name} on {active.fault.target.name}: {left}")
    return None
