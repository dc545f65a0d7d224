"""Pull a Swift disk: lazily unmount ``/srv/node/<disk>``, as a drive pulled from its bay looks to
Swift (with ``mount_check = true`` the object server answers 507 for it; reads go to the other
replicas, writes to handoffs)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Fault, FaultError
from stackdrill.core.params import Param
from stackdrill.hostkit.mounts import current_mount, remount_command
from stackdrill.hostkit.swift_disks import disk_name, mountpoint


class PullDisk(Fault):
    name = "pull_disk"
    description = ("Pull a Swift disk: umount -l /srv/node/<disk> (its filesystem stays alive "
                   "for open files, as after a drive is pulled); undo mounts it back")
    params: ClassVar[Mapping[str, Param]] = {
        "disk": Param("the Swift device name (its mount point is /srv/node/<disk>)", disk_name),
    }

    @property
    def path(self) -> str:
        return mountpoint(self.values["disk"])

    def plan(self) -> list[str]:
        return [f"umount -l {self.path}"]

    def prepare(self) -> dict[str, Any]:
        mount = current_mount(self.target, self.path)
        if mount is None:
            raise FaultError(f"{self.target.name}: {self.path} is not mounted")
        return {"mountpoint": self.path, "source": mount.source, "fstype": mount.fstype}

    def inject(self, facts: Mapping[str, Any]) -> None:
        self.target.run(f"umount -l {shlex.quote(facts['mountpoint'])}", check=True)

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """The disk's mount point is gone from ``/proc/mounts``."""
        mount = current_mount(self.target, facts["mountpoint"])
        if mount is not None:
            return None
        return (f"{facts['mountpoint']} ({facts['source']}) is no longer mounted on "
                f"{self.target.name} (gone from /proc/mounts)")

    def undo(self, facts: Mapping[str, Any]) -> None:
        """Mount the disk again: from fstab where it is listed, else from the recorded
        device; a disk mounted already is left alone."""
        self.target.run(remount_command(facts["mountpoint"], facts["source"], facts["fstype"]),
                        check=True, timeout=120)
