"""Stand-ins for the cloud's side of the drill lock and the journal: a controller whose shell is
this machine's ``sh`` (the real commands, on files under a temporary directory), a remote
session that is a local process, a mirror in memory, and a holder board in a file."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import time
from pathlib import Path

from stackdrill.engine.journal import JournalMirrorError
from stackdrill.hosts.ssh import CommandResult


class LocalShell:
    """The first controller's shell, run here: every command through ``sh -c``."""

    def __init__(self, name: str = "controller") -> None:
        self._name = name
        self.commands: list[str] = []

    @property
    def name(self) -> str:
        return self._name

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True) -> CommandResult:
        self.commands.append(command)
        started = time.time()
        done = subprocess.run(["sh", "-c", command], capture_output=True, text=True,
                              timeout=timeout or 30, check=False)
        return CommandResult(self._name, command, done.returncode, done.stdout, done.stderr,
                             started, time.time() - started)


class LocalSession:
    """A remote process on a channel: here a local ``sh -c`` with pipes."""

    def __init__(self, command: str) -> None:
        self.process = subprocess.Popen(["sh", "-c", command], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE)
        self._buffer = b""

    def send(self, data: bytes) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(data)
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:  # the channel is closed
            raise OSError("closed") from exc

    def read_line(self, timeout: float) -> str | None:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                line, self._buffer = self._buffer, b""
                return line.decode() or None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()

    def running(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


class MemoryMirror:
    """A journal mirror in memory that can be told to fail."""

    def __init__(self) -> None:
        self.data = b""
        self.where = "memory:journal.jsonl"
        self.failing = False
        self.unreadable = False

    def check(self) -> None:
        if self.failing:
            raise JournalMirrorError(f"journal mirror {self.where}: cannot write: down")

    def append(self, lines: bytes) -> None:
        self.check()
        self.data += lines

    def read(self) -> bytes:
        if self.unreadable:
            raise JournalMirrorError(f"journal mirror {self.where}: cannot read: down")
        return self.data


class FileBoard:
    """The lock holder's record in a local file (readable by every process of the test)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = f"file {path}"
        self.refuse = False

    def write(self, record: str) -> str | None:
        if self.refuse:
            return "Permission denied"
        self.path.write_text(record + "\n")
        return None

    def read(self) -> str:
        return self.path.read_text() if self.path.exists() else ""

    def clear(self, token: str) -> None:
        if token in self.read():
            self.path.unlink()
