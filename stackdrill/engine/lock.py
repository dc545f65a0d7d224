"""One drill run per cloud at a time.

The lock is a file under the state directory, one per cloud (the inventory's ``cloud`` name, or
its path when it has none), held with ``fcntl.flock`` for as long as the run lasts. The file
records the holder: pid, host name and start time. The kernel releases a flock when its holder
dies, however it dies, so a killed run never blocks the next one; the record it left behind is
reported as a stale lock and replaced.

A run started by the holder itself (a descendant process, such as a test of the harness that
runs ``stackdrill run``) is covered by the holder's lock and does not take it again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from stackdrill.core.errors import HarnessError
from stackdrill.core.waiting import WaitTimeout, poll
from stackdrill.engine.journal import process_alive
from stackdrill.inventory.model import Inventory

__all__ = ["DrillLock", "Holder", "LockError", "LockHeld", "lock_for"]

_FILE_MODE = 0o644
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class LockError(HarnessError):
    """The lock file could not be used; one line naming it."""


class LockHeld(LockError):
    """Another run holds the lock; the message names its pid."""

    def __init__(self, message: str, holder: Holder | None) -> None:
        super().__init__(message)
        self.holder = holder


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    started: float

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "host": self.host, "started": self.started,
                           "since": _iso(self.started)})

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        try:
            data = json.loads(text)
            return cls(pid=int(data["pid"]), host=str(data["host"]),
                       started=float(data["started"]))
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, started {_iso(self.started)}"


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return int(fields[1]) if len(fields) > 1 else None


def _ancestors(pid: int) -> set[int]:
    found: set[int] = set()
    current = _parent(pid)
    while current and current not in found:
        found.add(current)
        current = _parent(current)
    return found


def lock_name(inventory: Inventory) -> str:
    """What the lock is for: the cloud's name, or the inventory's path when it has none."""
    return inventory.cloud or str(inventory.path.expanduser().resolve())


def lock_for(inventory: Inventory, state_dir: Path) -> DrillLock:
    name = lock_name(inventory)
    stem = _SAFE.sub("_", name.strip("/"))[-80:] or "cloud"
    if stem != name:
        stem += "-" + hashlib.sha256(name.encode()).hexdigest()[:12]
    return DrillLock(state_dir / "locks" / f"{stem}.lock", name)


class DrillLock:
    def __init__(self, path: Path, name: str) -> None:
        self.path = Path(path)
        self.name = name
        self._fd: int | None = None
        self.nested_in: Holder | None = None

    def __repr__(self) -> str:
        return f"DrillLock({str(self.path)!r}, {self.name!r})"

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> str | None:
        """Take the lock or raise LockHeld; return a one-line note when a stale lock (left by
        a run that died) was removed."""
        if self._fd is not None or self.nested_in is not None:
            raise LockError(f"lock {self.path}: already taken by this process")
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(fd)
            os.close(fd)
            if holder is not None and holder.host == socket.gethostname() \
                    and holder.pid in _ancestors(os.getpid()):
                self.nested_in = holder
                return None
            raise LockHeld(self._held_message(holder), holder) from None
        except OSError as exc:
            os.close(fd)
            raise LockError(f"lock {self.path}: cannot lock: {exc.strerror}") from exc
        try:
            stale = Holder.parse(self._read(fd)) if os.fstat(fd).st_size else None
            mine = Holder(os.getpid(), socket.gethostname(), time.time())
            os.ftruncate(fd, 0)
            os.pwrite(fd, (mine.to_json() + "\n").encode(), 0)
            os.fsync(fd)
        except OSError as exc:
            os.close(fd)
            raise LockError(f"lock {self.path}: cannot write: {exc.strerror}") from exc
        self._fd = fd
        if stale is None:
            return None
        state = "gone" if stale.host == socket.gethostname() and not process_alive(stale.pid) \
            else "no longer holding it"
        return (f"stale lock from pid {stale.pid} removed ({stale.describe()}, {state}); "
                f"if that run was killed, `stackdrill recover --pending` undoes what it left")

    def release(self) -> None:
        self.nested_in = None
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
        finally:
            os.close(fd)

    def __enter__(self) -> DrillLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, _FILE_MODE)
        except OSError as exc:
            raise LockError(f"lock {self.path}: cannot open: {exc.strerror}") from exc

    @staticmethod
    def _read(fd: int) -> str:
        return os.pread(fd, 4096, 0).decode("utf-8", "replace")

    def _holder(self, fd: int) -> Holder | None:
        """The holder's record; it writes it just after taking the lock, so wait briefly."""
        try:
            holder, _ = poll(lambda: Holder.parse(self._read(fd)), timeout=2.0, interval=0.05,
                             max_interval=0.2, description="lock holder recorded")
        except (WaitTimeout, OSError):
            return None
        return holder

    def _held_message(self, holder: Holder | None) -> str:
        if holder is None:
            who = "another process (no holder recorded)"
        else:
            who = holder.describe()
            if holder.host == socket.gethostname() and not process_alive(holder.pid):
                who += " (gone; a process it started still holds the lock)"
        return (f"another drill run against {self.name!r} is in progress: {who}; "
                f"lock file {self.path}")
