"""One drill run per cloud at a time.

Where the lock lives is the inventory's choice (its ``coordination`` key,
:func:`run_lock`): on the cloud (:mod:`stackdrill.engine.cloud_lock`: the cloud's MySQL or
MariaDB, etcd or Redis through tooz, or a ``flock`` on the first controller over SSH), or, by
default, here: a file under the state directory, one per cloud (the inventory's ``cloud`` name,
or its path when it has none), held with ``fcntl.flock`` for as long as the run lasts. The file
records the holder: pid, host name, start time and what it drills. The kernel releases a flock
when its holder dies, however it dies, so a killed run never blocks the next one; the record it
left behind is reported as a stale lock and replaced.

A run started by the holder itself (a descendant process, such as a test of the harness that
runs ``stackdrill run``) is covered by the holder's lock and does not take it again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from pathlib import Path

from stackdrill.core.waiting import WaitTimeout, poll
from stackdrill.engine.journal import process_alive
from stackdrill.engine.lock_holder import (
    Holder,
    LockError,
    LockHeld,
    LockLost,
    RunLock,
    held_message,
    lock_name,
    lock_stem,
    nested_holder,
)
from stackdrill.inventory.model import Inventory

__all__ = ["DrillLock", "Holder", "LockError", "LockHeld", "LockLost", "RunLock", "lock_for",
           "lock_name", "run_lock"]

_FILE_MODE = 0o644


def lock_for(inventory: Inventory, state_dir: Path, drill: str = "") -> DrillLock:
    """The lock file of the inventory's cloud on this machine, under ``state_dir``."""
    return DrillLock(state_dir / "locks" / f"{lock_stem(lock_name(inventory))}.lock",
                     lock_name(inventory), drill)


def run_lock(inventory: Inventory, state_dir: Path, drill: str = "") -> RunLock:
    """The lock the inventory names (``coordination.lock``): on the cloud, or this machine's
    lock file when it names none (or ``local``). ``drill`` says what the run drills."""
    if inventory.coordination.lock == "local":
        return lock_for(inventory, state_dir, drill)
    from stackdrill.engine.cloud_lock import cloud_lock

    return cloud_lock(inventory, drill)


class DrillLock:
    """The lock file of one cloud on this machine."""

    def __init__(self, path: Path, name: str, drill: str = "") -> None:
        self.path = Path(path)
        self.name = name
        self.drill = drill
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
            self.nested_in = nested_holder(holder)
            if self.nested_in is not None:
                return None
            raise LockHeld(held_message(self.name, holder, f"lock file {self.path}"),
                           holder) from None
        except OSError as exc:
            os.close(fd)
            raise LockError(f"lock {self.path}: cannot lock: {exc.strerror}") from exc
        try:
            stale = Holder.parse(self._read(fd)) if os.fstat(fd).st_size else None
            mine = Holder.mine(self.drill)
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

    def check(self) -> str | None:
        """A lock file stays held while this process lives: nothing to check."""
        return None

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
