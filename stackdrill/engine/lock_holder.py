"""Who holds a cloud's drill lock, what a refused run is told, and the errors every lock backend
raises.

The holder's record (pid, host, start time, what it drills) is written where a second runner
can read it: in the local lock file, in the lock file on the first controller, or beside the
journal's mirror for the MySQL, etcd and Redis locks. A refused run names the holder in one line:
``cloud X is being drilled by pid P on host H since T``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from stackdrill.core.errors import HarnessError
from stackdrill.engine.journal import process_alive
from stackdrill.inventory.model import Inventory

__all__ = ["Holder", "LockError", "LockHeld", "LockLost", "LockUnreachable", "RunLock",
           "held_message", "lock_name", "lock_stem", "nested_holder"]

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class LockError(HarnessError):
    """The lock could not be taken or used; one line naming where it is."""


class LockHeld(LockError):
    """Another run holds the lock; the message names it (pid, host, since when)."""

    def __init__(self, message: str, holder: Holder | None) -> None:
        super().__init__(message)
        self.holder = holder


class LockLost(LockError):
    """The lock was lost during the run (its backend went away) and another run took it."""


class LockUnreachable(LockError):
    """The lock's backend did not answer (refused or lost the connection): the lock could be
    neither taken nor asked about."""


def iso(at: float) -> str:
    """A UTC time stamp as the records and messages show it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


@dataclass(frozen=True)
class Holder:
    """One run's claim: its pid and host, when it started, what it drills, and a token that
    tells its record from an older one."""

    pid: int
    host: str
    started: float
    drill: str = ""
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def mine(cls, drill: str = "") -> Holder:
        """This process's claim, as of now."""
        return cls(os.getpid(), socket.gethostname(), time.time(), drill)

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "host": self.host, "started": self.started,
                           "since": iso(self.started), "drill": self.drill,
                           "token": self.token})

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        """The record in ``text``; None for an empty or unreadable one (older records have no
        drill and no token)."""
        try:
            data = json.loads(text)
            return cls(pid=int(data["pid"]), host=str(data["host"]),
                       started=float(data["started"]), drill=str(data.get("drill", "")),
                       token=str(data.get("token", "")))
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, started {iso(self.started)}"

    @property
    def here(self) -> bool:
        """Whether the holder runs on this machine."""
        return self.host == socket.gethostname()


class RunLock(Protocol):
    """What a run holds while it drills a cloud, wherever the lock lives."""

    name: str
    nested_in: Holder | None

    @property
    def held(self) -> bool: ...

    def acquire(self) -> str | None: ...

    def release(self) -> None: ...

    def check(self) -> str | None: ...


def held_message(cloud: str, holder: Holder | None, where: str) -> str:
    """The one line a refused run prints."""
    if holder is None:
        who = "another run (its holder is not recorded)"
    else:
        who = f"pid {holder.pid} on host {holder.host} since {iso(holder.started)}"
        if holder.drill:
            who += f" ({holder.drill})"
        if holder.here and not process_alive(holder.pid):
            who += " (gone; a process it started still holds the lock)"
    return f"cloud {cloud} is being drilled by {who}; lock: {where}"




def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return int(fields[1]) if len(fields) > 1 else None


def ancestors(pid: int) -> set[int]:
    """The process's parent, its parent's parent, and so on."""
    found: set[int] = set()
    current = _parent(pid)
    while current and current not in found:
        found.add(current)
        current = _parent(current)
    return found


def nested_holder(holder: Holder | None) -> Holder | None:
    """The holder when it is this process's ancestor on this machine (a run started by the
    holder, such as a test of the harness that runs ``stackdrill run``): covered by its lock."""
    if holder is not None and holder.here and holder.pid in ancestors(os.getpid()):
        return holder
    return None


def lock_name(inventory: Inventory) -> str:
    """What the lock is for: the cloud's name, or the inventory's path when it has none."""
    return inventory.cloud or str(inventory.path.expanduser().resolve())


def lock_stem(name: str) -> str:
    """A file (or lock) name for ``name``: its safe characters, and a hash when any were not."""
    stem = _SAFE.sub("_", name.strip("/"))[-80:] or "cloud"
    if stem != name:
        stem += "-" + hashlib.sha256(name.encode()).hexdigest()[:12]
    return stem
