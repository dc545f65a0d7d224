"""Following a canary's heartbeats across overlapping console reads: stalls, I/O stalls,
reboots and acknowledged writes, and the ring log's lost writes."""

from __future__ import annotations

from stackdrill.cloud.heartbeat import (
    HEARTBEAT_TAG,
    IO_ERROR_TAG,
    SLOT_BYTES,
    Record,
    RingHeader,
    header_slot,
    parse_ring,
    record_slot,
)
from stackdrill.cloud.heartbeat_track import HeartbeatTrack
from stackdrill.cloud.workload import RING_MARGIN, lost_writes

T0 = 1_000_000.0


def beats(boot: int, first_seq: int, count: int, up_cs: int, step_cs: int = 20,
          ack_lag: int = 1) -> list[Record]:
    return [Record(HEARTBEAT_TAG, boot, seq, up_cs + i * step_cs, max(0, seq - ack_lag))
            for i, seq in enumerate(range(first_seq, first_seq + count))]


def test_overlapping_reads_count_each_record_once() -> None:
    track = HeartbeatTrack("canary:c1")
    records = beats(1, 1, 50, 200)
    assert track.feed(records[:30], T0 + 8.0) == 30
    assert track.feed(records[20:], T0 + 12.0) == 20
    assert track.reboots == 0 and track.missed_reads == 0
    assert track.stall_s < 0.05
    assert track.io_stall_s < 0.5
    assert (1, 49) in track.acked and len(track.acked) == 49


def test_a_jump_in_the_guest_clock_is_a_stall_with_its_outage() -> None:
    track = HeartbeatTrack("canary:c1")
    first = beats(1, 1, 10, 200)
    later = beats(1, 11, 10, first[-1].up_cs + 1020)  # 10.2 s later, guest time
    track.feed(first, T0 + 4.0)
    track.feed(later, T0 + 16.0)
    assert round(track.stall_s, 2) == 10.0
    assert track.io_stall_s < 1.5  # a frozen guest is a stall, not an I/O stall as well
    (stall,) = [o for o in track.open_outages() if o.kind == "stall"]
    assert round(stall.seconds, 2) == 10.0


def test_an_ack_that_stands_still_while_the_beat_goes_on_is_an_io_stall() -> None:
    track = HeartbeatTrack("canary:c1")
    moving = beats(1, 1, 10, 200)
    stuck = [Record(HEARTBEAT_TAG, 1, seq, moving[-1].up_cs + 20 * (seq - 10), 9)
             for seq in range(11, 61)]
    track.feed(moving + stuck, T0 + 15.0)
    assert 9.5 <= track.io_stall_s <= 10.5
    assert track.stall_s < 0.05
    assert [o.kind for o in track.open_outages()] == ["io-stall"]


def test_a_reboot_is_counted_once_and_its_down_time_is_a_stall() -> None:
    track = HeartbeatTrack("canary:c1")
    track.feed(beats(1, 1, 20, 200), T0 + 6.0)  # last beat at guest 5.80 s: wall T0 + 6.0
    # the domain restarts: the console starts again, with a new boot
    track.feed(beats(0, 1, 3, 190, ack_lag=99) + beats(2, 4, 10, 250), T0 + 40.0)
    track.feed(beats(2, 10, 10, 250 + 6 * 20), T0 + 42.0)
    assert track.reboots == 1
    (reboot,) = [o for o in track.outages if o.kind == "reboot"]
    assert reboot.start == T0 + 6.0
    assert 25.0 <= track.stall_s <= 40.0


def test_io_errors_and_missed_reads_are_counted() -> None:
    track = HeartbeatTrack("canary:c1")
    track.feed(beats(1, 1, 10, 200), T0 + 3.0)
    error = Record(IO_ERROR_TAG, 1, 40, 1000, message="I/O error, dev vdb, sector 8")
    track.feed([error, *beats(1, 41, 5, 1020)], T0 + 12.0)
    assert track.io_errors == 1
    assert track.missed_reads == 1
    assert track.stall_s < 0.05  # records were missed, not a stall seen


def ring_of(records: list[Record], slots: int = 64) -> bytes:
    data = bytearray(header_slot(RingHeader(1, 1, slots)))
    data += b"\0" * (slots * SLOT_BYTES)
    for slot, record in enumerate(records, start=1):
        data[slot * SLOT_BYTES:(slot + 1) * SLOT_BYTES] = record_slot(record)
    return bytes(data)


def test_lost_writes_are_the_acknowledged_records_missing_from_the_ring() -> None:
    written = beats(1, 1, 30, 200)
    acked = {(1, seq) for seq in range(1, 30)}
    whole = parse_ring(ring_of(written, slots=RING_MARGIN + 64))
    assert lost_writes(acked, whole) == []
    holed = ring_of(written, slots=RING_MARGIN + 64)
    holed = holed[:5 * SLOT_BYTES] + b"\0" * 3 * SLOT_BYTES + holed[8 * SLOT_BYTES:]
    assert lost_writes(acked, parse_ring(holed)) == [(1, 5), (1, 6), (1, 7)]
    assert lost_writes(acked, parse_ring(b"\0" * SLOT_BYTES)) == sorted(acked)


def test_what_the_console_showed_before_observing_began_counts_for_nothing() -> None:
    track = HeartbeatTrack("canary:c1")
    history = beats(1, 1, 10, 200) + beats(2, 1, 10, 200)  # an earlier reboot, on the console
    stalled = [Record(HEARTBEAT_TAG, 2, seq, 400 + 20 * seq, 10) for seq in range(11, 40)]
    track.prime(history + stalled, T0 + 10.0)
    assert (track.reboots, track.stall_s, track.io_stall_s, track.acked) == (0, 0.0, 0.0, set())
    track.feed(history + stalled + beats(2, 40, 5, 400 + 20 * 40, ack_lag=1), T0 + 12.0)
    assert track.reboots == 0 and track.io_stall_s < 0.5
    assert (2, 43) in track.acked
