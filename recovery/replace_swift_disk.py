"""Replace a failed Swift disk: the operations guide's "Replacing a Swift Disk", as a runbook.

"First, unmount the disk ... physically remove the disk from the server and replace it with a
working disk. Ensure that the operating system has recognized the new disk: dmesg | tail ...
simply format the disk as a whole: mkfs.xfs ... Finally, mount the disk: mount -a. Swift should
notice the new disk and that no data exists. It then begins replicating the data to the disk
from the other existing replicas." The rings are not touched.

The drive swap itself: where the drill's fault recorded how to give the host a working device
again (the lab's FUSE switch, an original device-mapper table), that is run as the stand-in for
the new drive; otherwise the runbook waits, up to its timeout, for the device to read again.
``mkfs.xfs -f``: a replacement that held a filesystem before (as the lab's does) needs it.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import RecoveryFailed, RunbookStep, wait
from stackdrill.core.params import Param, positive_float
from stackdrill.hostkit.holders import HoldersNotReleased, release_holders
from stackdrill.hostkit.mounts import mounted_test
from stackdrill.hostkit.swift_disks import disk_name, mountpoint, restore_command

from .storage_node_rings import SwiftRingRecovery


def fstab_source_command(path: str) -> str:
    return f"findmnt --fstab -n -o SOURCE {shlex.quote(path)}"


class ReplaceSwiftDisk(SwiftRingRecovery):
    name = "replace_swift_disk"
    description = ("umount the failed disk, put a working one in its place, mkfs.xfs it, "
                   "mount -a, and wait until replication has refilled it (rings untouched)")
    params: ClassVar[Mapping[str, Param]] = {
        "disk": Param("the Swift device name (mounted at /srv/node/<disk>)", disk_name),
        "timeout": Param("seconds for the new disk, then for replication to refill it",
                         positive_float, 300.0),
        "builder_host": SwiftRingRecovery.params["builder_host"],
    }

    @property
    def path(self) -> str:
        return mountpoint(self.values["disk"])

    def runbook(self) -> list[RunbookStep]:
        path = self.path
        return [
            RunbookStep(f"Unmount the failed disk (umount {path})", self.unmount,
                        (f"umount {path}",)),
            RunbookStep("Replace it with a working disk", self.replace),
            RunbookStep("Check the system sees the new disk (dmesg | tail)", self.dmesg,
                        ("dmesg | tail",)),
            RunbookStep("Format the disk as a whole (mkfs.xfs)", self.format,
                        (f"mkfs.xfs -f $({fstab_source_command(path)})",)),
            RunbookStep("Mount it (mount -a)", self.mount, ("mount -a",)),
            RunbookStep(f"Wait until replication has refilled {self.values['disk']}",
                        self.wait_replicated),
        ]

    def device(self) -> str:
        result = self.target.run(fstab_source_command(self.path), check=True)
        device = result.stdout.strip()
        if not device:
            raise RecoveryFailed(f"{self.path} is not in {self.target.name}'s /etc/fstab")
        return device

    def unmount(self) -> None:
        path = shlex.quote(self.path)
        # A shut-down XFS may refuse a plain umount while Swift's daemons hold files on it.
        self.target.run(f"if {mounted_test(self.path)}; then umount {path} || umount -l {path}; "
                        f"else echo '{self.path}: not mounted'; fi", check=True)

    def _restore_facts(self) -> list[Mapping[str, Any]]:
        return [facts for facts in self.context.fault_facts
                if facts.get("mountpoint") == self.path and "method" in facts]

    def replace(self) -> None:
        device = self.device()
        for facts in self._restore_facts():
            self.target.run(restore_command(facts), check=True)
        read = f"dd if={shlex.quote(device)} of=/dev/null bs=4096 count=1 iflag=direct"
        wait(lambda: self.target.run(read, record=False).ok, self.values["timeout"],
             f"{device} readable (a working disk in place)")
        self.target.run(read, check=True)

    def dmesg(self) -> None:
        self.target.run("dmesg 2>&1 | tail")

    def format(self) -> None:
        device = self.device()
        quoted = shlex.quote(device)
        if self.target.run(f"mkfs.xfs -f {quoted}").ok:
            return
        # A lazily unmounted filesystem lives on while a daemon holds a file on it (Swift's
        # account-reaper keeps its account database open); the kernel keeps the device busy.
        self.release(device)
        wait(lambda: self.target.run(f"mkfs.xfs -f {quoted}").ok, self.values["timeout"],
             f"mkfs.xfs of {device} (the old filesystem released)")

    def release(self, device: str) -> None:
        """Restart the services still holding files on the old filesystem (``fuser -m``)."""
        try:
            release_holders(self.target, device)
        except HoldersNotReleased as exc:
            raise RecoveryFailed(str(exc)) from exc

    def mount(self) -> None:
        path = shlex.quote(self.path)
        self.target.run("mount -a", check=True)
        self.target.run(f"mountpoint {path} && (id swift >/dev/null 2>&1 && "
                        f"chown swift:swift {path} || true)", check=True)
