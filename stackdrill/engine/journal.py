"""Crash-safe on-disk journal of fault undo actions.

Before a fault is injected, an ``armed`` record describing how to undo it is
appended to a JSON-lines file and fsynced.  After the undo ran, an ``undone``
record is appended.  A later run (or a cleanup command after a crash) reads the
journal and undoes whatever is still pending.

Appends are serialised between processes with ``fcntl.flock``.  A last line
without its newline is what a crash in mid-write leaves behind: readers ignore
it, and the next append removes it before writing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import time
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackdrill.api.origin import Origin, OriginError
from stackdrill.core.errors import HarnessError

__all__ = ["Journal", "JournalEntry", "JournalError"]

_FILE_MODE = 0o600
_CHUNK = 4096


class JournalError(HarnessError):
    """A journal could not be read or written; the message names the file."""


KINDS = ("fault", "recovery")


@dataclass(frozen=True)
class JournalEntry:
    """An armed fault (``fault`` is its name, ``undo`` its facts), or a recovery under way
    (``kind`` ``recovery``, ``fault`` the recovery's name): a recovery killed half way is rolled
    back before the faults are undone, so that what its runbook stopped on purpose starts
    again."""

    id: str
    fault: str
    target: str
    params: Mapping[str, Any]
    undo: Mapping[str, Any]
    armed_at: float
    run: str
    pid: int
    kind: str = "fault"
    cloud: str | None = None  # the cloud (or inventory) the run drilled; None in old journals
    origin: Origin | None = None  # where the fault's (recovery's) class loads from; None in old

    def belongs_to(self, cloud: str, hosts: Collection[str]) -> bool:
        """Whether the entry was armed against this cloud (an entry from an older journal,
        which names no cloud, by its host's name)."""
        return self.cloud == cloud if self.cloud is not None else self.target in hosts


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _Corrupt(HarnessError):
    pass


def _require(record: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in record:
        raise _Corrupt(f"missing field {key!r}")
    value = record[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _Corrupt(f"field {key!r} has the wrong type")
    return value


def _optional(record: Mapping[str, Any], key: str, kind: type) -> Any:
    return _require(record, key, kind) if key in record else None


def _entry_from(record: Mapping[str, Any]) -> JournalEntry:
    at = _require(record, "at", (int, float))
    if not _is_number(at):
        raise _Corrupt("field 'at' is not a finite number")
    kind = record.get("kind", "fault")
    if kind not in KINDS:
        raise _Corrupt(f"unknown kind {kind!r}")
    return JournalEntry(
        id=_require(record, "id", str),
        fault=_require(record, "fault", str),
        target=_require(record, "target", str),
        params=_require(record, "params", dict),
        undo=_require(record, "undo", dict),
        armed_at=float(at),
        run=_require(record, "run", str),
        pid=_require(record, "pid", int),
        kind=kind,
        cloud=_optional(record, "cloud", str),
        origin=_origin(record),
    )


def _origin(record: Mapping[str, Any]) -> Origin | None:
    found = _optional(record, "origin", dict)
    try:
        return None if found is None else Origin.from_json(found)
    except OriginError as exc:
        raise _Corrupt(f"field 'origin': {exc}") from None


def _parse_line(raw: bytes) -> dict[str, Any]:
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Corrupt(f"not valid JSON ({exc})") from exc
    if not isinstance(record, dict):
        raise _Corrupt("not a JSON object")
    return record


class Journal:
    """Append-only journal of armed faults and their undo actions."""

    def __init__(self, path: Path, run_id: str | None = None, cloud: str | None = None) -> None:
        self.path = Path(path)
        self.run_id = run_id if run_id is not None else uuid.uuid4().hex
        self.cloud = cloud

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r}, run_id={self.run_id!r})"

    def _error(self, message: str) -> JournalError:
        return JournalError(f"journal {self.path}: {message}")

    def arm(
        self,
        fault: str,
        target: str,
        params: Mapping[str, Any],
        undo: Mapping[str, Any],
        kind: str = "fault",
        origin: Origin | None = None,
    ) -> JournalEntry:
        """Record a fault that is about to be injected (or a recovery about to start, with
        ``kind`` ``recovery``), and where its class loads from; returns the stored entry."""
        if kind not in KINDS:
            raise self._error(f"entry kind {kind!r}: expected one of {', '.join(KINDS)}")
        record: dict[str, Any] = {
            "event": "armed",
            **({"kind": kind} if kind != "fault" else {}),
            "id": uuid.uuid4().hex,
            "at": time.time(),
            "fault": fault,
            "target": target,
            "params": dict(params),
            "undo": dict(undo),
            "run": self.run_id,
            "pid": os.getpid(),
            **({"cloud": self.cloud} if self.cloud is not None else {}),
            **({"origin": origin.to_json()} if origin is not None else {}),
        }
        line = self._encode(record, f"cannot record {fault} on {target}")
        self._append(line)
        return _entry_from(json.loads(line))

    def mark_undone(self, entry_id: str, ok: bool = True, detail: str = "") -> None:
        """Record that the undo of ``entry_id`` ran; a failed undo stays pending."""
        record: dict[str, Any] = {
            "event": "undone",
            "id": entry_id,
            "at": time.time(),
            "ok": ok,
            "detail": detail,
        }
        self._append(self._encode(record, f"cannot record undo of {entry_id}"))

    def pending(self, run: str | None = None) -> list[JournalEntry]:
        """Armed entries without a successful undo, oldest first.

        With ``run`` given, only entries armed by that run are returned.
        """
        armed: dict[str, JournalEntry] = {}
        for number, record in self._records():
            event = record.get("event")
            try:
                if event == "armed":
                    entry = _entry_from(record)
                    if entry.id in armed:
                        raise _Corrupt(f"entry {entry.id} armed twice")
                    armed[entry.id] = entry
                elif event == "undone":
                    entry_id = _require(record, "id", str)
                    _require(record, "at", (int, float))
                    ok = _require(record, "ok", bool)
                    _require(record, "detail", str)
                    if ok:
                        armed.pop(entry_id, None)
                else:
                    raise _Corrupt(f"unknown event {event!r}")
            except _Corrupt as exc:
                raise self._error(f"line {number}: {exc}") from None
        entries = list(armed.values())
        if run is not None:
            entries = [entry for entry in entries if entry.run == run]
        return entries

    def left_behind(self, cloud: str, hosts: Collection[str]) -> list[JournalEntry]:
        """What runs against this cloud that are no longer alive left pending: faults still in
        place, or recoveries stopped half way."""
        return [entry for entry in self.pending() if entry.belongs_to(cloud, hosts)
                and entry.pid != os.getpid() and not process_alive(entry.pid)]

    def _encode(self, record: Mapping[str, Any], what: str) -> bytes:
        try:
            text = json.dumps(record, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            message = " ".join(str(exc).splitlines())
            raise self._error(f"{what}: not JSON-serialisable: {message}") from exc
        return text.encode("utf-8") + b"\n"

    def _records(self) -> list[tuple[int, dict[str, Any]]]:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise self._error(f"cannot open: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            chunks: list[bytes] = []
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
        except OSError as exc:
            raise self._error(f"cannot read: {exc.strerror}") from exc
        finally:
            os.close(fd)
        lines = b"".join(chunks).split(b"\n")
        torn = lines.pop()
        records: list[tuple[int, dict[str, Any]]] = []
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                records.append((number, _parse_line(raw)))
            except _Corrupt as exc:
                raise self._error(f"line {number}: {exc}") from None
        if torn.strip():
            with contextlib.suppress(_Corrupt):
                records.append((len(lines) + 1, _parse_line(torn)))
        return records

    def _append(self, line: bytes) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            created = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, _FILE_MODE)
        except OSError as exc:
            raise self._error(f"cannot open for writing: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._repair_tail(fd)
            view = memoryview(line)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        except OSError as exc:
            raise self._error(f"cannot append: {exc.strerror}") from exc
        finally:
            os.close(fd)
        if created:
            self._sync_parent()

    def _repair_tail(self, fd: int) -> None:
        size = os.fstat(fd).st_size
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return
        start = size
        while start > 0:
            low = max(0, start - _CHUNK)
            newline = os.pread(fd, start - low, low).rfind(b"\n")
            if newline >= 0:
                start = low + newline + 1
                break
            start = low
        fragment = os.pread(fd, size - start, start)
        try:
            _parse_line(fragment)
        except _Corrupt:
            os.ftruncate(fd, start)
        else:
            os.write(fd, b"\n")

    def _sync_parent(self) -> None:
        try:
            fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def process_alive(pid: int) -> bool:
    """Whether a process with this ID runs on this machine (one we may not signal does)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
