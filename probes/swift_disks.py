"""Each Swift disk of a storage host: mounted where /etc/fstab says, and its filesystem answering.

The disks are the fstab entries under /srv/node (Swift's ``devices``). A disk whose XFS has shut
down after I/O errors is still mounted, but reading its root directory fails with EIO; a pulled
(lazily unmounted) disk is gone from /proc/mounts. One command per host; hosts without Swift
disks in their fstab yield nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from stackdrill.api.probe import Probe
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


class SwiftDisks(Probe):
    name = "swift_disks"
    description = "each Swift disk under /srv/node mounted and its filesystem readable"
    roles: ClassVar[tuple[str, ...]] = ("storage",)

    def observe(self, target: Target) -> dict[str, Any]:
        result = target.run(COMMAND, record=False, timeout=30)
        values: dict[str, Any] = {}
        for disk in parse_disks(result.stdout):
            values[f"swift_disk:{disk.disk}/mounted"] = disk.mounted
            values[f"swift_disk:{disk.disk}/fstype"] = disk.fstype
            values[f"swift_disk:{disk.disk}/readable"] = disk.mounted and disk.readable
        return values

    def problems(self, values: dict[str, Any]) -> list[str]:
        found = []
        for path, value in sorted(values.items()):
            disk, _, field = path.rpartition("/")
            if field == "mounted" and value is not True:
                found.append(f"{disk} is not mounted")
            elif field == "readable" and value is not True and values.get(f"{disk}/mounted"):
                found.append(f"{disk} cannot be read (filesystem shut down?)")
        return found
