"""The canary guest's heartbeat records: their one format, the console and ring-log parsers, and
the shell side generated from the same definition (run here with the machine's sh and awk)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stackdrill.cloud import heartbeat
from stackdrill.cloud.heartbeat import (
    HEARTBEAT_TAG,
    IO_ERROR_TAG,
    SLOT_BYTES,
    Record,
    RingHeader,
    format_record,
    header_slot,
    parse_console,
    parse_line,
    parse_ring,
    record_slot,
)
from stackdrill.core.errors import BadInput

BEAT = Record(HEARTBEAT_TAG, boot=2, seq=41, up_cs=1234, ack=40)
IO_ERROR = Record(IO_ERROR_TAG, boot=2, seq=42, up_cs=1251,
                  message="I/O error, dev vda, sector 2056 op 0x1:(WRITE) flags 0x8800")


def test_records_read_back_as_written() -> None:
    assert format_record(BEAT) == "SDHB boot=2 seq=41 up=12.34 ack=40"
    assert format_record(IO_ERROR).startswith("SDIO boot=2 seq=42 up=12.51 msg=I/O error, dev")
    for record in (BEAT, IO_ERROR, Record(HEARTBEAT_TAG, 0, 1, 5, 0)):
        assert parse_line(format_record(record) + "\n") == record
    assert Record(HEARTBEAT_TAG, 0, 1, 5).uptime == 0.05


def test_console_parser_keeps_whole_records_only() -> None:
    text = ("[    1.234] virtio_blk virtio1: [vda] 4096 512-byte logical blocks\r\n"
            "SDLOG ring log on /dev/vda: boot 2, 511 slots, next slot 20\r\n"
            "SDHB boot=2 seq=40 up=12.11 ack=39\r\n"
            "[    12.2] kernel text, then SDHB boot=2 seq=41 up=12.34 ack=40\n"
            "SDHB boot=2 seq=4 up=1x.00 ack=3\n"
            f"{format_record(IO_ERROR)}\n"
            "SDHB boot=2 seq=43 up=12.77 ack=4")
    records = parse_console(text)
    assert [r.seq for r in records] == [40, 41, 42]
    assert records[1] == BEAT and records[2] == IO_ERROR


def test_ring_parser_reads_header_records_blanks_and_junk() -> None:
    blank = bytes(SLOT_BYTES)
    torn = record_slot(Record(HEARTBEAT_TAG, 1, 9, 300, 8))[:512] + bytes(SLOT_BYTES - 512)
    data = (header_slot(RingHeader(1, 2, 6)) + record_slot(BEAT) + blank
            + record_slot(IO_ERROR) + b"garbage".ljust(SLOT_BYTES, b"\0") + torn
            + record_slot(Record(HEARTBEAT_TAG, 2, 50, 2000, 49)) + record_slot(BEAT))
    ring = parse_ring(data)
    assert ring.header == RingHeader(1, 2, 6)
    assert [slot for slot, _ in ring.records] == [1, 3, 5, 6]
    assert ring.unreadable == (4,)
    assert ring.by_key()[(2, 42)] == IO_ERROR
    assert ring.by_key()[(1, 9)].ack == 8
    assert ring.newest() == (6, Record(HEARTBEAT_TAG, 2, 50, 2000, 49))


def test_a_disk_without_header_holds_no_ring() -> None:
    assert parse_ring(bytes(4 * SLOT_BYTES)) == heartbeat.RingLog(None, (), ())
    assert parse_ring(record_slot(BEAT) * 3).header is None


def test_a_record_must_fit_its_slot() -> None:
    with pytest.raises(BadInput, match="at most 4095 bytes"):
        record_slot(Record(IO_ERROR_TAG, 1, 1, 1, message="x" * SLOT_BYTES))
    assert len(record_slot(BEAT)) == SLOT_BYTES and record_slot(BEAT).endswith(b" \n")


def _shell_record(function: str, **values: str) -> str:
    assignments = "".join(f"{name}='{value}'\n" for name, value in values.items())
    script = f"{heartbeat.shell_functions()}\n{assignments}{function}\nprintf '%s' \"$rec\""
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True,
                          check=True).stdout


def test_the_shell_writes_what_the_parser_reads() -> None:
    beat = _shell_record("sd_heartbeat", boot="2", seq="41", up="12.34", ack="40")
    assert beat == format_record(BEAT)
    io_error = _shell_record("sd_io_error", boot="2", seq="42", up="12.51",
                             msg=IO_ERROR.message)
    assert parse_line(io_error + "\n") == IO_ERROR
    header = _shell_record("sd_header", boot="3", slots="4096")
    assert heartbeat.parse_header(header.encode()) == RingHeader(1, 3, 4096)


def _resume_slot(tmp_path: Path, ring_slots: bytes) -> int:
    """What the guest's bisection makes of a ring's slots (read with the machine's dd)."""
    disk = tmp_path / "ring.raw"
    disk.write_bytes(header_slot(RingHeader(1, 1, len(ring_slots) // SLOT_BYTES)) + ring_slots)
    script = (f"{heartbeat.shell_resume(read_flags='')}\n"
              f"dev='{disk}' slots={len(ring_slots) // SLOT_BYTES}\nsd_resume")
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    return int(done.stdout)


def beat(boot: int, seq: int) -> bytes:
    return record_slot(Record(HEARTBEAT_TAG, boot, seq, seq * 20, seq - 1))


def test_a_new_boot_resumes_after_the_newest_record(tmp_path: Path) -> None:
    blank = bytes(SLOT_BYTES)
    assert _resume_slot(tmp_path, blank * 5) == 1
    assert _resume_slot(tmp_path, beat(1, 1) + beat(1, 2) + blank * 3) == 3
    assert _resume_slot(tmp_path, b"".join(beat(1, seq) for seq in range(1, 6))) == 1
    # Boot 2 went round the ring and stopped in slot 2; the records after it are older.
    assert _resume_slot(tmp_path, beat(2, 6) + beat(2, 7) + beat(1, 9) + beat(2, 4)
                        + beat(2, 5)) == 3
    assert _resume_slot(tmp_path, beat(3, 1) + beat(3, 2) + beat(2, 50) + beat(2, 51)
                        + blank) == 3
    lap = b"".join(beat(4, seq) for seq in range(100, 137))
    older = b"".join(beat(3, seq) for seq in range(37, 100))
    assert _resume_slot(tmp_path, lap + older) == 38
    assert _resume_slot(tmp_path, blank + beat(1, 1) + blank) == 1
