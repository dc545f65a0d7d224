"""Swift disks on a storage host: their names and mount points under ``/srv/node`` (Swift's
``devices``), their state, and what gives a failed one a working device again.

The disks are the fstab entries under ``/srv/node``. A disk whose XFS has shut down after I/O
errors is still mounted, but reading its root directory fails with EIO; a pulled (lazily
unmounted) disk is gone from /proc/mounts. Their state is one command per host; hosts without
Swift disks in their fstab have none.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stackdrill.core.errors import InvalidValue
from stackdrill.hosts.target import Target

DEVICES = "/srv/node"

# For each fstab entry under /srv/node: name, mounted (yes/no), its filesystem type, and
# whether its root directory can be read.
COMMAND = (
    f"awk '$2 ~ \"^{DEVICES}/\" {{print $2}}' /etc/fstab | while read -r m; do "
    "t=$(awk -v m=\"$m\" '$2 == m {t=$3} END {print t}' /proc/mounts); "
    "if ls \"$m\" >/dev/null 2>&1; then r=ok; else r=error; fi; "
    "echo \"${m##*/} ${t:-none} $r\"; done"
)


def disk_name(text: str) -> str:
    """A Swift device name; anything else is refused before it reaches a shell."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", text) or text in (".", ".."):
        raise InvalidValue(f"not a Swift device name: {text!r}")
    return text


def mountpoint(disk: str) -> str:
    return f"{DEVICES}/{disk}"


@dataclass(frozen=True)
class DiskState:
    disk: str
    fstype: str | None
    readable: bool

    @property
    def mounted(self) -> bool:
        return self.fstype is not None


def parse_disks(text: str) -> list[DiskState]:
    disks = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 3:
            continue
        disk, fstype, readable = fields
        disks.append(DiskState(disk, None if fstype == "none" else fstype, readable == "ok"))
    return disks


def disk_values(target: Target) -> dict[str, Any]:
    """Each disk's state on ``target`` as state values (``swift_disk:<disk>/mounted``,
    ``/fstype``, ``/readable``), in one command."""
    result = target.run(COMMAND, record=False, timeout=30)
    values: dict[str, Any] = {}
    for disk in parse_disks(result.stdout):
        values[f"swift_disk:{disk.disk}/mounted"] = disk.mounted
        values[f"swift_disk:{disk.disk}/fstype"] = disk.fstype
        values[f"swift_disk:{disk.disk}/readable"] = disk.mounted and disk.readable
    return values


def disk_problems(values: Mapping[str, Any]) -> list[str]:
    """The disks of :func:`disk_values` that are not mounted, or cannot be read."""
    found = []
    for path, value in sorted(values.items()):
        disk, _, field = path.rpartition("/")
        if field == "mounted" and value is not True:
            found.append(f"{disk} is not mounted")
        elif field == "readable" and value is not True and values.get(f"{disk}/mounted"):
            found.append(f"{disk} cannot be read (filesystem shut down?)")
    return found


def swap_table_command(name: str, table: str) -> str:
    """Load ``table`` into the device-mapper device ``name`` in place."""
    quoted = shlex.quote(name)
    return (f"dmsetup load {quoted} --table {shlex.quote(table)} && "
            f"dmsetup suspend --noflush --nolockfs {quoted} && dmsetup resume {quoted}")


def restore_command(facts: Mapping[str, Any]) -> str:
    """What gives the host a working device again (the lab's stand-in for a new drive), from
    the facts the ``disk_io_errors`` fault recorded: the lab's control file, or the
    device-mapper device and its original table."""
    if facts["method"] == "lab":
        return f"echo ok > {shlex.quote(facts['control'])}"
    return swap_table_command(facts["dm_name"], facts["table"])
