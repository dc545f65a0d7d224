"""What the harness keeps on the cloud's side, on the first controller over SSH: where the drill
lock's files, the lock holder's record and the journal's mirror live, and the shell commands
that read and write them.

The layout under the inventory's ``coordination.directory`` (``/var/lib/stackdrill`` by
default), ``<cloud>`` being the cloud's name made safe for a file name::

    locks/<cloud>.lock          the SSH lock: held by a remote flock, records its holder
    locks/<cloud>.holder        the holder of a MySQL, etcd or Redis lock
    journal/<cloud>/journal.jsonl   the journal's mirror (JSON lines, as the local journal)
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Protocol

from stackdrill.hosts.reconnect import retrying_on_disconnect
from stackdrill.hosts.ssh import CommandResult, HostError
from stackdrill.hosts.target import Targets
from stackdrill.inventory.model import Inventory

__all__ = ["CloudSide", "HolderBoard", "Shell", "cloud_side"]


class Shell(Protocol):
    """A host's shell as :class:`~stackdrill.hosts.target.Target` offers it."""

    @property
    def name(self) -> str: ...

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True) -> CommandResult: ...


@dataclass(frozen=True)
class CloudSide:
    """The paths on the first controller for one cloud."""

    host: str
    directory: str
    stem: str

    @property
    def lock_file(self) -> str:
        return f"{self.directory}/locks/{self.stem}.lock"

    @property
    def holder_file(self) -> str:
        return f"{self.directory}/locks/{self.stem}.holder"

    @property
    def journal_dir(self) -> str:
        return f"{self.directory}/journal/{self.stem}"

    @property
    def journal_file(self) -> str:
        return f"{self.journal_dir}/journal.jsonl"


def cloud_side(inventory: Inventory, stem: str) -> CloudSide:
    """The cloud's paths on its first controller (by name; the inventory loader made sure
    there is one when anything lives there)."""
    controllers = inventory.with_role("controller")
    host = controllers[0].name if controllers else ""
    return CloudSide(host, inventory.coordination.directory.rstrip("/"), stem)


def first_controller(inventory: Inventory) -> tuple[Targets, Shell]:
    """A connection of its own to the first controller (nothing else the run does closes it),
    and the targets to close when done."""
    targets = Targets(inventory)
    return targets, targets.get(inventory.with_role("controller")[0].name)


def run_quietly(shell: Shell, command: str, timeout: float = 30.0) -> CommandResult:
    """A command of the harness's own bookkeeping: not part of any drill's evidence. A host
    that cannot be reached is a failed result (exit 255), with the reason on stderr."""
    try:
        with retrying_on_disconnect(False):  # an append run twice would write its lines twice
            return shell.run(command, timeout=timeout, record=False)
    except HostError as exc:
        return CommandResult(host=shell.name, command=command, exit_status=255, stdout="",
                             stderr=str(exc), started=0.0, duration=0.0)


def reason(result: CommandResult) -> str:
    """The last line a failed command said, for a one-line message."""
    lines = (result.stderr or result.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit {result.exit_status}"


class HolderBoard:
    """The lock holder's record in a file on the first controller, for the locks that cannot
    keep one themselves (MySQL, etcd, Redis)."""

    def __init__(self, shell: Shell, path: str) -> None:
        self.shell = shell
        self.path = path

    @property
    def where(self) -> str:
        return f"{self.shell.name}:{self.path}"

    def write(self, record: str) -> str | None:
        """Write the record; the reason when it could not be written."""
        path = shlex.quote(self.path)
        directory = shlex.quote(self.path.rsplit("/", 1)[0] or "/")
        result = run_quietly(self.shell, f"mkdir -p {directory} && printf '%s\\n' "
                                         f"{shlex.quote(record)} > {path}.new && "
                                         f"mv -f {path}.new {path}")
        return None if result.ok else reason(result)

    def read(self) -> str:
        """The record, or an empty string when there is none (or the host cannot be asked)."""
        result = run_quietly(self.shell, f"cat {shlex.quote(self.path)} 2>/dev/null || true")
        return result.stdout if result.ok else ""

    def clear(self, token: str) -> None:
        """Remove the record if it is still the one with ``token``."""
        path = shlex.quote(self.path)
        run_quietly(self.shell, f"if grep -qF {shlex.quote(token)} {path} 2>/dev/null; "
                                f"then rm -f {path}; fi")
