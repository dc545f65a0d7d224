"""What tenants felt during a drill: the contract of the observers that measure it from the
tenant's side, and the figures and outages they report.

An observer runs in the background from the verified state to the end of the drill. Two kinds
exist: the API availability sampler (:mod:`stackdrill.cloud.api_sampler`), which does what a
tenant does against each API every second or so, and the canary workload monitor
(:mod:`stackdrill.cloud.workload`), which reads the heartbeats the canary guests write to their
console and ring log.

**Figures** are numbers under ``<subject>/<figure>`` names, where the subject is ``api:<name>``
(``api:identity``, ``api:compute``, ``api:block-storage``, ``api:image``, ``api:object-store``)
or ``canary:<compute host>``:

- ``api:<name>/unavailable_s``: the longest continuous outage, in seconds; ``failures`` and
  ``samples``: failed and total requests.
- ``canary:<host>/stall_s``: the longest gap between two heartbeats, in the guest's own time,
  beyond the beat period; ``io_stall_s``: the longest time the ring log's acknowledged record
  stood still while the heartbeat went on; ``reboots``: guest boots after the first one seen;
  ``lost_writes``: acknowledged ring-log records missing on the volume after recovery;
  ``io_errors``: guest-kernel I/O errors; ``silent_s``: seconds since the newest heartbeat,
  when the observer stopped.

**Outages** are the intervals behind the figures, in wall-clock time, for the report's lanes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

API_PREFIX = "api:"
CANARY_PREFIX = "canary:"


@dataclass(frozen=True)
class Outage:
    """One interval a tenant felt: on ``lane`` (a subject such as ``api:compute`` or
    ``canary:compute1``), of ``kind`` (``unavailable``, ``stall``, ``io-stall``, ``reboot``),
    from ``start`` to ``end`` (epoch seconds)."""

    lane: str
    kind: str
    start: float
    end: float
    detail: str = ""

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)


class TenantObserver(Protocol):
    """An observer of what tenants feel; the drill starts it at the verified state and stops
    it when the scenario ends. ``figures`` and ``outages`` may be read while it runs."""

    def start(self) -> None:
        """Begin observing in the background; return at once."""

    def stop(self) -> None:
        """Stop observing; idempotent, and must return within a few seconds."""

    def subjects(self) -> frozenset[str]:
        """The subjects this observer reports on (``api:compute``, ``canary:compute1``)."""

    def figures(self) -> Mapping[str, float]:
        """The figures so far, under ``<subject>/<figure>`` names."""

    def outages(self) -> list[Outage]:
        """The intervals behind the figures so far."""


@runtime_checkable
class KeepsLog(Protocol):
    """An observer that also keeps one line for each thing that went wrong (every failed
    request, say), already redacted. Optional: the drill attaches the lines to its evidence
    when it stops the observer."""

    def log(self) -> list[str]:
        """The lines so far, oldest first."""
