"""The drill lock as a lock file on the first controller, held by a remote ``flock`` process
whose SSH channel the harness keeps open.

The remote shell opens the lock file, takes ``flock -n`` on it and writes the holder's record
into it; then it reads its standard input, the channel, until the channel closes or no
heartbeat came for :data:`IDLE` seconds. The harness sends a heartbeat every
:data:`HEARTBEAT` seconds. The lock dies with the remote shell: when the harness releases it,
when the harness dies (its TCP connection closes and the channel with it), or when the
harness's host is gone without a word (no heartbeat for :data:`IDLE` seconds). Nothing guesses
whether a holder is alive: the kernel of the controller releases the flock when the shell ends.
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable
from typing import Protocol

from stackdrill.core.waiting import WaitTimeout, poll
from stackdrill.engine.lock_holder import Holder, LockError

__all__ = ["HEARTBEAT", "IDLE", "FlockBackend", "Session", "channel_session", "flock_script"]

HEARTBEAT = 20.0
"""Seconds between two heartbeats the harness sends down the lock's channel."""
IDLE = 120
"""Seconds without a heartbeat after which the remote shell lets the lock go."""

_HELD = 75
_NO_FLOCK = 72
_CANNOT_OPEN = 71


class Session(Protocol):
    """A remote process on a channel of its own: its standard input and output."""

    def send(self, data: bytes) -> None: ...

    def read_line(self, timeout: float) -> str | None: ...

    def running(self) -> bool: ...

    def close(self) -> None: ...


def flock_script(lock_file: str, record: str, idle: int = IDLE) -> str:
    """The remote shell's script: ``LOCKED`` once held, or ``HELD`` and the holder's record,
    or ``NOFLOCK``; then it holds the lock until its input closes or stays silent."""
    path = shlex.quote(lock_file)
    directory = shlex.quote(lock_file.rsplit("/", 1)[0] or "/")
    return (
        f"mkdir -p {directory} && exec 9>>{path} || exit {_CANNOT_OPEN}; "
        f"command -v flock >/dev/null 2>&1 || {{ echo NOFLOCK; exit {_NO_FLOCK}; }}; "
        f"if ! flock -n 9; then echo HELD; cat {path}; exit {_HELD}; fi; "
        f"printf '%s\\n' {shlex.quote(record)} > {path}; echo LOCKED; "
        f"while [ -n \"$(timeout {idle} head -c 1 9>&-)\" ]; do :; done; "
        f": > {path}"
    )


class FlockBackend:
    """The SSH lock: one remote ``flock`` per holder, on a channel ``open_session`` starts."""

    def __init__(self, open_session: Callable[[str], Session], lock_file: str, host: str,
                 heartbeat: float = HEARTBEAT, idle: int = IDLE) -> None:
        self.open_session = open_session
        self.lock_file = lock_file
        self.where = f"flock of {host}:{lock_file}"
        self.heartbeat = heartbeat
        self.idle = idle
        self.session: Session | None = None
        self.seen: Holder | None = None  # the holder a refused take read from the lock file
        self._stop = threading.Event()
        self._beating: threading.Thread | None = None

    def take(self, holder: Holder) -> bool:
        """Hold the lock with ``holder``'s record in it; False when another holds it (its
        record then in :attr:`seen`, read again briefly while it is still being written)."""
        self.seen = None
        try:
            outcome, _ = poll(lambda: self._attempt(holder), timeout=1.5, interval=0.2,
                              max_interval=0.5, description="the lock holder's record")
        except WaitTimeout:
            return False
        return outcome == "taken"

    def _attempt(self, holder: Holder) -> str | None:
        session = self.open_session(flock_script(self.lock_file, holder.to_json(), self.idle))
        answer = session.read_line(timeout=30.0)
        if answer == "LOCKED":
            self.session = session
            self._start_heartbeat()
            return "taken"
        record = session.read_line(timeout=5.0) if answer == "HELD" else None
        session.close()
        if answer == "HELD":
            self.seen = Holder.parse(record or "")
            return "held" if self.seen is not None else None  # None: its record comes next
        if answer == "NOFLOCK":
            raise LockError(f"{self.where}: flock(1) is not installed there (util-linux)")
        raise LockError(f"{self.where}: cannot take the lock (the remote shell said "
                        f"{answer or 'nothing'}; can the SSH user write there?)")

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._beating = threading.Thread(target=self._beat, name="drill-lock-heartbeat",
                                         daemon=True)
        self._beating.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            session = self.session
            if session is None:
                return
            try:
                session.send(b".")
            except (OSError, EOFError, LockError):
                return

    def owner(self) -> str | None:
        return None

    def alive(self) -> bool:
        """Whether the remote shell still holds the lock."""
        return self.session is not None and self.session.running()

    def give_back(self) -> None:
        """Close the channel: the remote shell clears the record and exits, and the flock goes
        with it."""
        self._stop.set()
        session, self.session = self.session, None
        if session is not None:
            session.close()
        if self._beating is not None:
            self._beating.join(timeout=1.0)
            self._beating = None


def channel_session(channel: object) -> Session:
    """A :class:`Session` over a paramiko channel."""
    return _ChannelSession(channel)


class _ChannelSession:
    def __init__(self, channel: object) -> None:
        import paramiko

        assert isinstance(channel, paramiko.Channel)
        self.channel = channel
        self._buffer = b""

    def send(self, data: bytes) -> None:
        self.channel.sendall(data)

    def read_line(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.channel.settimeout(min(left, 1.0))
            try:
                chunk = self.channel.recv(4096)
            except TimeoutError:
                continue
            except (OSError, EOFError):
                chunk = b""
            if not chunk:
                line, self._buffer = self._buffer, b""
                return line.decode("utf-8", "replace") or None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", "replace")

    def running(self) -> bool:
        return not self.channel.closed and not self.channel.exit_status_ready()

    def close(self) -> None:
        try:
            self.channel.shutdown_write()
            poll(self.channel.exit_status_ready, timeout=5.0, interval=0.05,
                 max_interval=0.5, description="the lock's remote shell ended")
        except (OSError, EOFError, WaitTimeout):
            pass
        finally:
            self.channel.close()
