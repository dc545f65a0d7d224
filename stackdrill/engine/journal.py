"""Crash-safe on-disk journal of fault undo actions.

Before a fault is injected, an ``armed`` record describing how to undo it is
appended to a JSON-lines file and fsynced.  After the undo ran, an ``undone``
record is appended.  A later run (or a cleanup command after a crash) reads the
journal and undoes whatever is still pending.

Appends are serialised between processes with ``fcntl.flock``.  A last line
without its newline is what a crash in mid-write leaves behind: readers ignore
it, and the next append removes it before writing.

When the inventory names a mirror (:mod:`stackdrill.engine.journal_mirror`: a
directory on the first controller, or a Swift container), every record is also
written there, an ``armed`` one before the injection: a mirror that cannot be
written refuses the injection. The pending entries are those of both places
together, so that any machine with the inventory can undo what a dead run left.
Entries record the host that armed them (older journals do not).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import socket
import time
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from stackdrill.api._origin import Origin, OriginError
from stackdrill.core.disk_probe import NotWritable, probe_directory
from stackdrill.core.errors import HarnessError

__all__ = ["Journal", "JournalEntry", "JournalError", "JournalMirror", "JournalMirrorError"]

_FILE_MODE = 0o600
_CHUNK = 4096


class JournalError(HarnessError):
    """A journal could not be read or written; the message names the file."""


class JournalMirrorError(JournalError):
    """The journal's mirror could not be written or read; one line naming it."""


class JournalMirror(Protocol):
    """The second place every journal record is written to, on the cloud's side."""

    where: str

    def check(self) -> None:
        """Raise :class:`JournalMirrorError` unless records can be written."""

    def append(self, lines: bytes) -> None:
        """Write whole JSON lines, durably, or raise :class:`JournalMirrorError`."""

    def read(self) -> bytes:
        """Every record written so far, as JSON lines."""


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
    host: str | None = None  # the machine whose run armed it; None in old journals

    @property
    def here(self) -> bool:
        """Whether a run of this machine armed it (an entry of an older journal is taken as
        this machine's)."""
        return self.host is None or self.host == socket.gethostname()

    def run_gone(self) -> bool:
        """Whether the run that armed it is gone. A run of another machine counts as gone: ask
        this only while holding the cloud's drill lock, which no live run of another machine
        holds then."""
        return not self.here or (self.pid != os.getpid() and not process_alive(self.pid))

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
        host=_optional(record, "host", str),
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


def _parse_records(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    """Numbered records of JSON lines; a torn last line (a crash in mid-write) is kept only
    if it parses."""
    lines = data.split(b"\n")
    torn = lines.pop()
    records: list[tuple[int, dict[str, Any]]] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            records.append((number, _parse_line(raw)))
        except _Corrupt as exc:
            raise _Corrupt(f"line {number}: {exc}") from None
    if torn.strip():
        with contextlib.suppress(_Corrupt):
            records.append((len(lines) + 1, _parse_line(torn)))
    return records


class Journal:
    """Append-only journal of armed faults and their undo actions."""

    def __init__(self, path: Path, run_id: str | None = None, cloud: str | None = None,
                 mirror: JournalMirror | None = None) -> None:
        self.path = Path(path)
        self.run_id = run_id if run_id is not None else uuid.uuid4().hex
        self.cloud = cloud
        self.mirror = mirror
        self.refusal: str | None = None  # why the mirror (or this file) refused an injection
        self._unmirrored: list[bytes] = []  # undo records the mirror could not take yet
        self._mirror_problem = ""
        self._unwritten: list[bytes] = []  # undo records this file could not take (a full disk)
        self._unwritten_problem = ""

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
            "host": socket.gethostname(),
            **({"cloud": self.cloud} if self.cloud is not None else {}),
            **({"origin": origin.to_json()} if origin is not None else {}),
        }
        line = self._encode(record, f"cannot record {fault} on {target}")
        try:
            self._append(line)
        except JournalError as exc:  # a full disk: nothing is injected, and the run stops
            what = "not injected" if kind == "fault" else "not started"
            self.refusal = f"{exc}; {kind} {fault} on {target} {what}"
            raise JournalError(self.refusal) from None
        if self.mirror is not None:
            try:
                self._mirror_write(line)
            except JournalMirrorError as exc:
                # nothing is injected: closed here, so that no later run finds it pending
                what = "not injected" if kind == "fault" else "not started"
                closing = self._undone(record["id"], True, f"{what}: {exc}")
                self._append(closing)
                self._unmirrored.append(closing)  # in case the record reached it after all
                self.refusal = f"{exc}; {kind} {fault} on {target} {what}"
                raise JournalMirrorError(self.refusal) from None
        return _entry_from(json.loads(line))

    def _undone(self, entry_id: str, ok: bool, detail: str) -> bytes:
        record: dict[str, Any] = {
            "event": "undone",
            "id": entry_id,
            "at": time.time(),
            "ok": ok,
            "detail": detail,
        }
        return self._encode(record, f"cannot record undo of {entry_id}")

    def mark_undone(self, entry_id: str, ok: bool = True, detail: str = "") -> None:
        """Record that the undo of ``entry_id`` ran; a failed undo stays pending. The mirror
        gets the record too; when it cannot, the record waits for the next write that reaches
        it (:meth:`mirror_lag` says so meanwhile). A record this file cannot take (a full
        disk) does not stop the undos after it: it is written before the next record that
        fits (:meth:`unwritten_lag` says so meanwhile)."""
        line = self._undone(entry_id, ok, detail)
        try:
            self._append(line)
        except JournalError as exc:
            self._unwritten.append(line)
            self._unwritten_problem = str(exc)
        if self.mirror is None:
            return
        try:
            self._mirror_write(line)
        except JournalMirrorError as exc:
            self._unmirrored.append(line)
            self._mirror_problem = str(exc)

    def _mirror_write(self, line: bytes) -> None:
        assert self.mirror is not None
        self.mirror.append(b"".join([*self._unmirrored, line]))
        self._unmirrored.clear()

    def mirror_lag(self) -> str | None:
        """Write the undo records the mirror missed; one line when it still cannot take them
        (the mirror then shows faults undone here as pending)."""
        if self.mirror is None or not self._unmirrored:
            return None
        try:
            self.mirror.append(b"".join(self._unmirrored))
        except JournalMirrorError as exc:
            self._mirror_problem = str(exc)
            return (f"{len(self._unmirrored)} undo record(s) not mirrored: "
                    f"{self._mirror_problem}; `stackdrill recover --pending` writes them")
        self._unmirrored.clear()
        return None

    def unwritten_lag(self) -> str | None:
        """Write the undo records this file could not take; one line when it still cannot
        (the file then shows faults undone here as pending: their undo runs again, harmless,
        from ``stackdrill recover --pending``)."""
        if not self._unwritten:
            return None
        try:
            self._append(b"")
        except JournalError as exc:
            self._unwritten_problem = str(exc)
            return (f"{len(self._unwritten)} undo record(s) not written: "
                    f"{self._unwritten_problem}; their undos ran, and the journal shows them "
                    f"pending until `stackdrill recover --pending` runs with room to write")
        return None

    def check_writable(self) -> None:
        """Raise :class:`JournalError` unless this file's directory takes a synced write of
        1 MiB and the file, if any, can be appended to: checked before anything is injected,
        so that a full disk refuses the run instead of its first injection."""
        try:
            probe_directory(self.path, "journal")
        except NotWritable as exc:
            raise JournalError(str(exc)) from None

    def pending(self, run: str | None = None, *, local_only: bool = False
                ) -> list[JournalEntry]:
        """Armed entries without a successful undo, oldest first: in this journal and its
        mirror together (an undo recorded in either closes the entry), or with
        ``local_only`` in this journal alone.

        With ``run`` given, only entries armed by that run are returned.
        """
        armed: dict[str, JournalEntry] = {}
        closed: set[str] = set()
        sources = [self._records()]
        if self.mirror is not None and not local_only:
            sources.append(self._mirror_records())
        for records in sources:
            found, done = self._replay(records)
            for entry_id, entry in found.items():
                armed.setdefault(entry_id, entry)
            closed |= done
        entries = sorted((entry for entry in armed.values() if entry.id not in closed),
                         key=lambda entry: entry.armed_at)
        if run is not None:
            entries = [entry for entry in entries if entry.run == run]
        return entries

    def _replay(self, records: Iterable[tuple[int, dict[str, Any]]]
                ) -> tuple[dict[str, JournalEntry], set[str]]:
        """One place's armed entries and the ids whose undo succeeded."""
        armed: dict[str, JournalEntry] = {}
        closed: set[str] = set()
        for number, record in records:
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
                        closed.add(entry_id)
                else:
                    raise _Corrupt(f"unknown event {event!r}")
            except _Corrupt as exc:
                raise self._error(f"line {number}: {exc}") from None
        return armed, closed

    def left_behind(self, cloud: str, hosts: Collection[str]) -> list[JournalEntry]:
        """What runs against this cloud that are no longer alive left pending: faults still in
        place, or recoveries stopped half way. Asked while holding the cloud's drill lock (a
        run of another machine is then gone, :meth:`JournalEntry.run_gone`)."""
        return [entry for entry in self.pending()
                if entry.belongs_to(cloud, hosts) and entry.run_gone()]

    def reconcile(self) -> int:
        """Copy each successful undo recorded in one place only (this journal or the mirror) to
        the other, for the entries armed there; returns how many records were written."""
        if self.mirror is None:
            return 0
        local, remote = self._records(), self._mirror_records()
        local_armed, local_done = self._replay(local)
        remote_armed, remote_done = self._replay(remote)
        to_mirror = [self._undone(entry_id, True, "undone elsewhere (reconciled)")
                     for entry_id in sorted(local_done - remote_done) if entry_id in remote_armed]
        to_local = [self._undone(entry_id, True, "undone elsewhere (reconciled)")
                    for entry_id in sorted(remote_done - local_done) if entry_id in local_armed]
        if to_mirror:
            self.mirror.append(b"".join(to_mirror))
        for line in to_local:
            self._append(line)
        return len(to_mirror) + len(to_local)

    def _encode(self, record: Mapping[str, Any], what: str) -> bytes:
        try:
            text = json.dumps(record, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            message = " ".join(str(exc).splitlines())
            raise self._error(f"{what}: not JSON-serialisable: {message}") from exc
        return text.encode("utf-8") + b"\n"

    def _mirror_records(self) -> list[tuple[int, dict[str, Any]]]:
        assert self.mirror is not None
        data = self.mirror.read()
        try:
            return _parse_records(data)
        except _Corrupt as exc:
            raise JournalMirrorError(f"journal mirror {self.mirror.where}: {exc}") from None

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
        try:
            return _parse_records(b"".join(chunks))
        except _Corrupt as exc:
            raise self._error(str(exc)) from None

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
            view = memoryview(b"".join([*self._unwritten, line]))
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        except OSError as exc:
            raise self._error(f"cannot append: {exc.strerror}") from exc
        finally:
            os.close(fd)
        self._unwritten.clear()
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
