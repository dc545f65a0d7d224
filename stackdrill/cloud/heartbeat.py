"""The heartbeat a canary guest writes, defined once: its records on the serial console and in the
ring log on its volume, their parsers, and the shell that writes them (the guest's ``/init``
is generated from this module, so the two sides cannot drift apart).

**Console.** One line per record, every 200 ms or so::

    SDHB boot=2 seq=41 up=12.34 ack=40
    SDIO boot=2 seq=42 up=12.51 msg=I/O error, dev vda, sector 2056 op 0x1:(WRITE) ...

``boot`` counts the guest's boots on its disk (0: no usable disk, so no counter), ``seq``
numbers the records of one boot from 1, ``up`` is the guest's monotonic time (``/proc/uptime``,
seconds with two decimals) and ``ack`` the ``seq`` of the last record whose write to the ring
log was acknowledged: written with ``O_DIRECT`` and flushed (``fsync``), and the write returned
success. A record whose ``seq`` appears as an ``ack`` must be on the disk: only acknowledged
writes count. ``SDIO`` records carry a guest-kernel I/O error line (``msg``), as the kernel
logged it, or the writer's own failure ("ring write of seq N failed: ...").
``SDLOG`` lines are the init's free-text diagnostics, not records.

**Ring log.** The disk is cut into 4096-byte slots. Slot 0 is the header, ``SDRING v=1 boot=2
slots=4096``, which keeps the boot counter across reboots; slots 1 to ``slots`` hold records,
each the console line padded with spaces to 4095 bytes and a newline. A slot never written reads
as zeros. The writer goes round the ring, and a new boot continues after the newest record of
the previous ones. A slot is a page, not a sector, because busybox ``dd`` page-aligns its buffer
only from 4096 bytes on; with a smaller, unaligned buffer the kernel refuses ``O_DIRECT`` and
busybox silently falls back to a buffered write. The record sits in the slot's first sector, and
the rest of every slot is the same padding, so a slot torn by a power cut reads as its old or
its new record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stackdrill.core.errors import InvalidValue

SLOT_BYTES = 4096
RING_SLOTS_MAX = 4096
"""At 5 records a second, 4096 slots (16 MiB) hold the last 13 minutes."""
FORMAT_VERSION = 1
HEADER_TAG = "SDRING"
HEARTBEAT_TAG = "SDHB"
IO_ERROR_TAG = "SDIO"
LOG_TAG = "SDLOG"
MESSAGE_MAX = 300
"""An ``SDIO`` message is cut to this many characters, so that a record fits in its slot."""

_NUMBER = r"\d+"
_UPTIME = r"\d+\.\d\d"
_MESSAGE = r"[ -~]*"


@dataclass(frozen=True)
class Field:
    """One ``name=value`` field: the value's pattern, and the shell expression that writes it."""

    name: str
    pattern: str
    shell: str


HEARTBEAT_FIELDS = (Field("boot", _NUMBER, "$boot"), Field("seq", _NUMBER, "$seq"),
                    Field("up", _UPTIME, "$up"), Field("ack", _NUMBER, "$ack"))
IO_ERROR_FIELDS = (*HEARTBEAT_FIELDS[:3], Field("msg", _MESSAGE, "$msg"))
HEADER_FIELDS = (Field("v", _NUMBER, str(FORMAT_VERSION)), Field("boot", _NUMBER, "$boot"),
                 Field("slots", _NUMBER, "$slots"))
RECORD_FIELDS = {HEARTBEAT_TAG: HEARTBEAT_FIELDS, IO_ERROR_TAG: IO_ERROR_FIELDS}


@dataclass(frozen=True)
class Record:
    """One heartbeat (``SDHB``) or guest-kernel I/O error (``SDIO``); ``up_cs`` is the guest's
    uptime in hundredths of a second, exactly as ``/proc/uptime`` gave it."""

    kind: str
    boot: int
    seq: int
    up_cs: int
    ack: int = 0
    message: str = ""

    @property
    def uptime(self) -> float:
        return self.up_cs / 100

    @property
    def key(self) -> tuple[int, int]:
        return self.boot, self.seq


@dataclass(frozen=True)
class RingHeader:
    version: int
    boot: int
    slots: int


@dataclass(frozen=True)
class RingLog:
    """What a disk's ring log holds: its header (None when the disk has none), its records by
    slot, and the slots that hold bytes that are neither zeros nor a record."""

    header: RingHeader | None
    records: tuple[tuple[int, Record], ...]
    unreadable: tuple[int, ...]

    def by_key(self) -> dict[tuple[int, int], Record]:
        return {record.key: record for _, record in self.records}

    def newest(self) -> tuple[int, Record] | None:
        return max(self.records, key=lambda item: item[1].key, default=None)


def _pattern(tag: str, fields: tuple[Field, ...]) -> re.Pattern[str]:
    body = "".join(rf" {field.name}=(?P<{field.name}>{field.pattern})" for field in fields)
    return re.compile(re.escape(tag) + body + r" *\r?$")


_RECORD_PATTERNS = {tag: _pattern(tag, fields) for tag, fields in RECORD_FIELDS.items()}
_HEADER_PATTERN = _pattern(HEADER_TAG, HEADER_FIELDS)


def _up_text(up_cs: int) -> str:
    return f"{up_cs // 100}.{up_cs % 100:02d}"


def format_record(record: Record) -> str:
    """The record's line, without its newline: what the guest prints and writes."""
    values = {"boot": str(record.boot), "seq": str(record.seq), "up": _up_text(record.up_cs),
              "ack": str(record.ack), "msg": record.message}
    fields = RECORD_FIELDS[record.kind]
    return " ".join([record.kind, *(f"{field.name}={values[field.name]}" for field in fields)])


def format_header(header: RingHeader) -> str:
    values = {"v": header.version, "boot": header.boot, "slots": header.slots}
    fields = (f"{field.name}={values[field.name]}" for field in HEADER_FIELDS)
    return " ".join([HEADER_TAG, *fields])


def parse_line(line: str) -> Record | None:
    """The record a line ends with, or None. Text before the tag is ignored (a console line may
    follow the kernel's output on the same line); the record must reach the end of the line."""
    line = line.rstrip("\n")
    for tag, pattern in _RECORD_PATTERNS.items():
        found = next(filter(None, (pattern.match(line, start.start())
                                   for start in re.finditer(re.escape(tag + " "), line))), None)
        if found is None:
            continue
        seconds, hundredths = found["up"].split(".")
        return Record(kind=tag, boot=int(found["boot"]), seq=int(found["seq"]),
                      up_cs=int(seconds) * 100 + int(hundredths),
                      ack=int(found["ack"]) if tag == HEARTBEAT_TAG else 0,
                      message=found["msg"].rstrip() if tag == IO_ERROR_TAG else "")
    return None


def parse_console(text: str) -> list[Record]:
    """The records in a console log, in order. A last line without its newline is still being
    written and is left out, so that a cut ``ack=4`` of ``ack=41`` is never read."""
    records = []
    for line in text.splitlines(keepends=True):
        if line.endswith("\n") and (record := parse_line(line)) is not None:
            records.append(record)
    return records


def parse_header(slot: bytes) -> RingHeader | None:
    text = slot.rstrip(b"\0").decode("ascii", errors="replace").rstrip("\n")
    found = _HEADER_PATTERN.fullmatch(text)
    if found is None:
        return None
    return RingHeader(int(found["v"]), int(found["boot"]), int(found["slots"]))


def parse_ring(data: bytes) -> RingLog:
    """The ring log in a disk's first bytes (at least its header and the slots it names). A slot's
    record is its text up to the first newline or zero byte: a slot whose first sector was
    written but whose other sectors were not (a torn write) still shows its record."""
    header = parse_header(data[:SLOT_BYTES])
    if header is None:
        return RingLog(None, (), ())
    records: list[tuple[int, Record]] = []
    unreadable: list[int] = []
    last = min(header.slots, len(data) // SLOT_BYTES - 1)
    for slot in range(1, last + 1):
        raw = data[slot * SLOT_BYTES:(slot + 1) * SLOT_BYTES]
        if raw.count(0) == SLOT_BYTES:
            continue
        text = raw.partition(b"\n")[0].partition(b"\0")[0].decode("ascii", errors="replace")
        record = parse_line(text)
        if record is None or not text.startswith(record.kind):
            unreadable.append(slot)
        else:
            records.append((slot, record))
    return RingLog(header, tuple(records), tuple(unreadable))


def _slot_bytes(line: str) -> bytes:
    data = line.encode("ascii")
    if len(data) >= SLOT_BYTES:
        raise InvalidValue(f"a ring record is at most {SLOT_BYTES - 1} bytes: {line[:40]!r}...")
    return data.ljust(SLOT_BYTES - 1, b" ") + b"\n"


def record_slot(record: Record) -> bytes:
    """The 512 bytes the guest writes for ``record``."""
    return _slot_bytes(format_record(record))


def header_slot(header: RingHeader) -> bytes:
    return _slot_bytes(format_header(header))


def _shell_function(name: str, tag: str, fields: tuple[Field, ...]) -> str:
    body = " ".join([tag, *(f"{field.name}={field.shell}" for field in fields)])
    return f'{name}() {{ rec="{body}"; }}'


def shell_functions() -> str:
    """sh functions that set ``$rec`` to a record, from shell variables named as the fields:
    ``sd_heartbeat`` (``$boot $seq $up $ack``), ``sd_io_error`` (``$msg`` too) and
    ``sd_header`` (``$boot $slots``)."""
    return "\n".join([_shell_function("sd_heartbeat", HEARTBEAT_TAG, HEARTBEAT_FIELDS),
                      _shell_function("sd_io_error", IO_ERROR_TAG, IO_ERROR_FIELDS),
                      _shell_function("sd_header", HEADER_TAG, HEADER_FIELDS)])


_RESUME = r"""sd_slot_key() {
  line=$(dd if="$dev" bs=@SLOT@ skip="$1" count=1 @READ@ status=none | tr -d '\000' | head -n 1)
  key_boot=-1 key_seq=-1
  case $line in
    @TAGS@)
      rest=${line#* boot=}; key_boot=${rest%% *}
      rest=${line#* seq=}; key_seq=${rest%% *}
      case $key_boot.$key_seq in *[!0-9.]*|.*|*.) key_boot=-1 key_seq=-1 ;; esac ;;
  esac
}
sd_resume() {
  sd_slot_key 1
  first_boot=$key_boot first_seq=$key_seq
  if [ "$first_boot" -lt 0 ]; then echo 1; return; fi
  lo=1 hi=$slots
  while [ "$lo" -lt "$hi" ]; do
    mid=$(((lo + hi + 1) / 2))
    sd_slot_key "$mid"
    if [ "$key_boot" -gt "$first_boot" ] \
        || { [ "$key_boot" -eq "$first_boot" ] && [ "$key_seq" -ge "$first_seq" ]; }; then
      lo=$mid
    else
      hi=$((mid - 1))
    fi
  done
  echo $((lo % slots + 1))
}"""


def shell_resume(read_flags: str = "iflag=direct") -> str:
    """sh functions that print (``sd_resume``) the slot after the newest record of the ring on
    ``$dev``, which has ``$slots`` slots, reading about log2(slots) of them.

    The writer fills slots in order from slot 1 and moves on only after a successful write, so
    along the ring the records' ``(boot, seq)`` rise from slot 1 to the newest, and every slot
    after it holds an older record or none: the newest is the last slot whose record is not
    older than slot 1's, found by bisection. An empty slot 1 means an empty ring. A slot
    overwritten from outside (say, by a test of lost writes) can only move where the guest
    goes on writing; the ring's reader (:func:`parse_ring`) reads every slot by its offset."""
    names = [field.name for field in HEARTBEAT_FIELDS]
    if names[:2] != ["boot", "seq"] or [f.name for f in IO_ERROR_FIELDS][:2] != names[:2]:
        raise InvalidValue("records must start with boot= and seq= for the guest's resume")
    values = {"@SLOT@": str(SLOT_BYTES), "@READ@": read_flags,
              "@TAGS@": "|".join(f"'{tag} '*" for tag in RECORD_FIELDS)}
    text = _RESUME
    for marker, value in values.items():
        text = text.replace(marker, value)
    return text
