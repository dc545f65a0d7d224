"""Each Swift disk of a storage host: mounted where /etc/fstab says, and its filesystem answering.

The disks are the fstab entries under /srv/node (Swift's ``devices``). A disk whose XFS has shut
down after I/O errors is still mounted, but reading its root directory fails with EIO; a pulled
(lazily unmounted) disk is gone from /proc/mounts. One command per host; hosts without Swift
disks in their fstab yield nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

from stackdrill.api import Probe
from stackdrill.hostkit.swift_disks import disk_problems, disk_values
from stackdrill.hosts.target import Target


class SwiftDisks(Probe):
    name = "swift_disks"
    description = "each Swift disk under /srv/node mounted and its filesystem readable"
    roles: ClassVar[tuple[str, ...]] = ("storage",)

    def observe(self, target: Target) -> dict[str, Any]:
        return disk_values(target)

    def problems(self, values: dict[str, Any]) -> list[str]:
        return disk_problems(values)
