"""The canary guest under plain qemu: heartbeats on the serial console, the same records in the
ring log on its disk, a boot counter that survives a reboot, and a failing disk that shows as
I/O errors and a stalled ``ack`` while the heartbeat goes on. Three boots in all."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stackdrill.cloud.heartbeat import HEARTBEAT_TAG, IO_ERROR_TAG, SLOT_BYTES, Record, parse_ring
from stackdrill.lab.guest.builder import GuestImage
from stackdrill.lab.guest.qemu import QemuGuest, QemuSpec, failing_sector

from .conftest import BOOT_SECONDS

FIRST_BEAT_SECONDS = 12.0
"""Heartbeats must reach the console this soon after qemu starts (about 4 s when the machine
is idle: the kernel's boot under TCG, then the init's first beat)."""


@dataclass
class Boot:
    first_beat: float
    records: list[Record]


def boot(guest: GuestImage, disk: Path, console: Path,
         until: Callable[[list[Record]], bool], disk_errors: Path | None = None) -> Boot:
    """Boots the guest, waits for its first heartbeat and then for ``until``, and kills qemu
    (a power cut) at the latest :data:`BOOT_SECONDS` after its start."""
    spec = QemuSpec(guest.kernel, guest.initrd, guest.command_line, console, disk,
                    disk_errors=disk_errors)
    with QemuGuest(spec) as running:
        first = running.wait_for(lambda records: any(r.kind == HEARTBEAT_TAG for r in records),
                                 FIRST_BEAT_SECONDS)
        running.wait_for(until, BOOT_SECONDS - (time.monotonic() - running.started))
        time.sleep(0.3)
    return Boot(first, running.records())


def acked(records: list[Record]) -> set[tuple[int, int]]:
    return {(r.boot, r.ack) for r in records if r.kind == HEARTBEAT_TAG and r.ack}


def test_heartbeats_reach_console_and_ring_and_a_reboot_counts(
        guest: GuestImage, blank_disk: Path, tmp_path: Path) -> None:
    first = boot(guest, blank_disk, tmp_path / "console1.log",
                 until=lambda records: len(acked(records)) >= 10)
    assert first.first_beat < FIRST_BEAT_SECONDS
    beats = [r for r in first.records if r.kind == HEARTBEAT_TAG]
    # beats before the ring log is open (in the background) carry boot 0, then boot 1
    boots = [r.boot for r in beats]
    assert set(boots) <= {0, 1} and boots == sorted(boots) and boots[-1] == 1
    assert [r.seq for r in beats] == list(range(1, len(beats) + 1))
    assert all(a.up_cs < b.up_cs for a, b in itertools.pairwise(beats))

    ring = parse_ring(blank_disk.read_bytes())
    assert ring.header is not None and ring.header.boot == 1
    assert ring.header.slots == (2 << 20) // SLOT_BYTES - 1
    assert ring.unreadable == ()
    on_disk = [record for _, record in ring.records]
    assert [r.seq for r in on_disk] == sorted(r.seq for r in on_disk)
    console = {r.key: r for r in first.records}
    assert on_disk and all(console[r.key] == r for r in on_disk)
    assert acked(first.records) <= ring.by_key().keys()
    last_slot, _ = ring.newest() or (0, None)

    second = boot(guest, blank_disk, tmp_path / "console2.log",
                  until=lambda records: len(acked(records)) >= 3)
    assert {r.boot for r in second.records} <= {0, 2}
    assert second.records[-1].boot == 2
    ring = parse_ring(blank_disk.read_bytes())
    assert ring.header is not None and ring.header.boot == 2
    assert acked(first.records) | acked(second.records) <= ring.by_key().keys()
    later = [slot for slot, record in ring.records if record.boot == 2]
    assert later and min(later) == last_slot + 1


def test_a_failing_disk_shows_io_errors_and_a_stalled_ack_while_the_beat_goes_on(
        guest: GuestImage, blank_disk: Path, tmp_path: Path) -> None:
    bad_slot = 4
    errors = tmp_path / "blkdebug.conf"
    errors.write_text(failing_sector(bad_slot * SLOT_BYTES // 512))

    def failed_twice(records: list[Record]) -> bool:
        return sum("ring write" in r.message for r in records) >= 2

    run = boot(guest, blank_disk, tmp_path / "console.log", failed_twice, errors)
    messages = [r.message for r in run.records if r.kind == IO_ERROR_TAG]
    assert any("I/O error, dev vda" in m and "WRITE" in m for m in messages)
    # A direct write fails in write() itself; a buffered one would only fail at fsync.
    assert any("error writing '/dev/vda'" in m for m in messages)
    beats = [r for r in run.records if r.kind == HEARTBEAT_TAG]
    stalled = beats[-1].ack
    assert stalled and beats[-1].seq > stalled + 1
    ring = parse_ring(blank_disk.read_bytes())
    assert [slot for slot, _ in ring.records] == list(range(1, bad_slot))
    assert (1, stalled) in ring.by_key()
