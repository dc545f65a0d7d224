"""One canary's heartbeats followed across console reads: what its tenant felt.

A console read returns the log's tail; successive reads overlap. The first read only marks
where observing began (:meth:`HeartbeatTrack.prime`): the console keeps minutes of history, and
what it shows from before counts for nothing. :meth:`HeartbeatTrack.feed` then takes each read's
records, keeps only those after the newest one already seen, and folds them
into the figures of :mod:`stackdrill.cloud.tenant_view`:

- **stall**: the longest gap between two consecutive records of one boot, in the guest's own
  time (a guest whose vCPU stops, or whose host stops qemu, sees its clock jump), less the beat
  period; across a reboot, the wall-clock gap from the old boot's last record to the new
  boot's first;
- **I/O stall**: the longest time during which ``ack`` stood still while the beat went on
  (from the first acknowledged write of a boot), counting at most :data:`SHOWN_STALL` of each
  gap between two beats, so that a frozen guest is a stall and not an I/O stall as well;
- **reboots**: a record whose ``seq`` or uptime goes back, or whose boot counter changes;
- **acknowledged writes**: every ``(boot, ack)`` seen, for the ring log check;
- **I/O errors**: ``SDIO`` records.

Records of one boot are consecutive (``seq`` + 1). A read that does not overlap the last one
(the console was truncated by a domain restart, or too much was written between reads) may
have missed records: a ``seq`` jump is then not a stall, since what happened in between was not
seen. Wall-clock times come from the reads: a record is never newer than the read that returned
it, so each boot's offset (wall clock minus guest uptime) is the smallest seen over its reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stackdrill.cloud.heartbeat import HEARTBEAT_TAG, IO_ERROR_TAG, Record
from stackdrill.cloud.tenant_view import Outage

BEAT_PERIOD = 0.2
"""Seconds between the guest's beats (its ``/init`` sleeps this long between two)."""
SHOWN_STALL = 1.0
"""Stalls at least this long become outages on the report's lane."""


@dataclass
class _Boot:
    first: Record
    last: Record
    offset: float  # wall clock minus guest uptime, smallest seen
    ack_since_cs: int | None = None  # uptime when ack last moved (None: no ack yet)
    last_beat: Record | None = None  # the newest heartbeat (not I/O error) record
    io_stalled: float = 0.0  # guest seconds lived since ack last moved


@dataclass
class HeartbeatTrack:
    """The heartbeats of one canary (its ``lane``, such as ``canary:compute1``)."""

    lane: str
    boots: list[_Boot] = field(default_factory=list)
    stall_s: float = 0.0
    io_stall_s: float = 0.0
    reboots: int = 0
    io_errors: int = 0
    missed_reads: int = 0
    acked: set[tuple[int, int]] = field(default_factory=set)
    outages: list[Outage] = field(default_factory=list)
    last_read: float | None = None

    def prime(self, records: list[Record], read_at: float) -> None:
        """Start from the newest of ``records`` (the console as it was when observing began):
        what they show happened before and counts for nothing."""
        if self.boots or not records:
            return
        last = records[-1]
        boot = _Boot(last, last, read_at - last.uptime)
        beats = [r for r in records if r.kind == HEARTBEAT_TAG and r.boot == last.boot]
        if beats and beats[-1].ack > 0:
            boot.last_beat, boot.ack_since_cs = beats[-1], beats[-1].up_cs
        self.boots.append(boot)
        self.last_read = read_at

    def feed(self, records: list[Record], read_at: float) -> int:
        """Fold in the records of a console read made at ``read_at`` (epoch seconds); returns
        how many were new."""
        new = self._after_last(records)
        for record in new:
            self._add(record, read_at)
        if self.boots and new:
            boot = self.boots[-1]
            boot.offset = min(boot.offset, read_at - boot.last.uptime)
        self.last_read = read_at
        return len(new)

    def _after_last(self, records: list[Record]) -> list[Record]:
        if not self.boots:
            return records
        last = self.boots[-1].last
        for index in range(len(records) - 1, -1, -1):
            if records[index] == last:
                return records[index + 1:]
        if records:
            self.missed_reads += 1
        return records

    def _add(self, record: Record, read_at: float) -> None:
        if record.kind == IO_ERROR_TAG:
            self.io_errors += 1
        boot = self.boots[-1] if self.boots else None
        if boot is None or _new_boot(boot.last, record):
            self._start_boot(boot, record, read_at)
            return
        if record.seq == boot.last.seq + 1:
            self._gap(boot, record)
        previous = boot.last_beat
        boot.last = record
        if record.kind == HEARTBEAT_TAG:
            self._ack(boot, record, previous)
            boot.last_beat = record

    def _start_boot(self, previous: _Boot | None, record: Record, read_at: float) -> None:
        offset = read_at - record.uptime
        boot = _Boot(record, record, offset)
        self.boots.append(boot)
        if record.kind == HEARTBEAT_TAG:
            self._ack(boot, record, None)
            boot.last_beat = record
        if previous is None:
            return
        self.reboots += 1
        down_from = previous.offset + previous.last.uptime
        down_to = offset + record.uptime
        self.stall_s = max(self.stall_s, down_to - down_from)
        self.outages.append(Outage(self.lane, "reboot", down_from, max(down_from, down_to),
                                   f"boot {previous.last.boot} -> {record.boot}"))

    def _gap(self, boot: _Boot, record: Record) -> None:
        gap = (record.up_cs - boot.last.up_cs) / 100 - BEAT_PERIOD
        self.stall_s = max(self.stall_s, gap)
        if gap >= SHOWN_STALL:
            start = boot.offset + boot.last.uptime
            self.outages.append(Outage(self.lane, "stall", start, start + gap,
                                       f"no heartbeat for {gap:.1f} s (guest time)"))

    def _ack(self, boot: _Boot, record: Record, previous: Record | None) -> None:
        if record.ack <= 0:
            return
        self.acked.add((record.boot, record.ack))
        if boot.ack_since_cs is None or previous is None or record.ack != previous.ack:
            self._close_io_stall(boot)
            boot.ack_since_cs, boot.io_stalled = record.up_cs, 0.0
            return
        # only the beats the guest lived through count: a frozen guest is a stall, not an I/O one
        gap = (record.up_cs - previous.up_cs) / 100
        boot.io_stalled += min(gap, SHOWN_STALL)
        self.io_stall_s = max(self.io_stall_s, boot.io_stalled)

    def _close_io_stall(self, boot: _Boot) -> None:
        if boot.ack_since_cs is not None and boot.io_stalled >= SHOWN_STALL:
            start = boot.offset + boot.ack_since_cs / 100
            self.outages.append(Outage(self.lane, "io-stall", start, start + boot.io_stalled,
                                       f"no acknowledged write for {boot.io_stalled:.1f} s"))

    def silent_s(self) -> float | None:
        """How old the newest record was at the last console read (None: no read yet): the
        guest's silence as last seen. A console that cannot be read is not a silent guest, so
        the time since the last read does not count."""
        if not self.boots or self.last_read is None:
            return None
        boot = self.boots[-1]
        return max(0.0, self.last_read - (boot.offset + boot.last.uptime))

    def open_outages(self) -> list[Outage]:
        """The outages so far, with a still-open I/O stall and silence as last seen."""
        found = list(self.outages)
        if not self.boots:
            return found
        boot = self.boots[-1]
        if boot.ack_since_cs is not None and boot.io_stalled >= SHOWN_STALL:
            start = boot.offset + boot.ack_since_cs / 100
            found.append(Outage(self.lane, "io-stall", start, start + boot.io_stalled,
                                f"no acknowledged write for {boot.io_stalled:.1f} s, still"))
        silent = self.silent_s() or 0.0
        if silent >= SHOWN_STALL + BEAT_PERIOD + 5.0 and self.last_read is not None:
            start = self.last_read - silent
            found.append(Outage(self.lane, "silent", start, self.last_read,
                                f"no heartbeat seen for {silent:.1f} s"))
        return found


def _new_boot(last: Record, record: Record) -> bool:
    return (record.seq <= last.seq or record.up_cs < last.up_cs
            or (last.boot > 0 and record.boot > 0 and record.boot != last.boot))
