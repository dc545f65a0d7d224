"""A Swift disk that fails every I/O with EIO, as a dying drive does: its XFS shuts down, Swift's
object server and auditors get EIO, and the disk must be replaced.

Two ways to make a real block device fail, chosen in ``prepare``:

- ``lab``: the disk's backing file sits on the lab's FUSE filesystem, switched to EIO through a
  control file the host sees at ``/var/lib/stackdrill/disk-faults/<disk>``;
- ``dmsetup``: the disk is a device-mapper device; its table is swapped for the ``error`` target
  (every I/O fails) or ``flakey`` (fails 5 s out of every 10; only over a one-segment linear
  table), and the original table is loaded back on undo.

Confirmed by writing to the disk and syncing it: the filesystem must then refuse to be read
(XFS "Filesystem has been shut down"); the kernel's XFS lines for the device are the evidence.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Fault, FaultError
from stackdrill.core.errors import InvalidValue
from stackdrill.core.params import Param
from stackdrill.core.waiting import WaitTimeout, poll_until
from stackdrill.hostkit.holders import release_holders
from stackdrill.hostkit.mounts import current_mount, mounted_test, remount_command
from stackdrill.hostkit.swift_disks import (
    disk_name,
    mountpoint,
    restore_command,
    swap_table_command,
)
from stackdrill.hosts.ssh import HostError

CONTROL_DIR = "/var/lib/stackdrill/disk-faults"
PROBE_FILE = ".stackdrill-io-check"
FLAKEY_UP, FLAKEY_DOWN = 5, 5


def _method(text: str) -> str:
    if text not in ("auto", "lab", "dmsetup"):
        raise InvalidValue(f"expected auto, lab or dmsetup, got {text!r}")
    return text


def _mode(text: str) -> str:
    if text not in ("error", "flakey"):
        raise InvalidValue(f"expected error or flakey, got {text!r}")
    return text


def dm_name_of(kernel_name: str, info: str) -> str | None:
    """The device-mapper name of a block device (``dm-3``) from
    ``dmsetup info -c --noheadings --separator ' ' -o name,blkdevname``."""
    for line in info.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1] == kernel_name:
            return fields[0]
    return None


def table_sectors(table: str) -> int:
    """The size in sectors that a ``dmsetup table`` covers (start + length of its last line)."""
    end = 0
    for line in table.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0].isdigit() and fields[1].isdigit():
            end = max(end, int(fields[0]) + int(fields[1]))
    if end == 0:
        raise FaultError(f"not a device-mapper table: {table.strip()!r}")
    return end


def failing_table(table: str, mode: str) -> str:
    """The table that makes the device fail: ``error`` over its whole size, or ``flakey`` over
    the same backing device as a one-segment linear table."""
    sectors = table_sectors(table)
    if mode == "error":
        return f"0 {sectors} error"
    lines = [line.split() for line in table.strip().splitlines()]
    if len(lines) != 1 or len(lines[0]) != 5 or lines[0][2] != "linear":
        raise FaultError("flakey needs a one-segment linear table, got "
                         f"{table.strip()!r}")
    _, length, _, device, offset = lines[0]
    return f"0 {length} flakey {device} {offset} {FLAKEY_UP} {FLAKEY_DOWN}"


def io_check_command(path: str, device: str) -> str:
    """Write and sync on the disk (XFS notices a dead device on its next log write), then say
    whether its root can still be read, then the kernel's XFS lines for the device."""
    quoted = shlex.quote(path)
    return (f"touch {quoted}/{PROBE_FILE} 2>&1; sync -f {quoted} 2>&1; "
            f"rm -f {quoted}/{PROBE_FILE} 2>/dev/null; "
            f"if ls {quoted} >/dev/null 2>&1; then echo READABLE; else echo UNREADABLE; fi; "
            f"k=$(basename \"$(readlink -f {shlex.quote(device)})\"); "
            f"dmesg 2>/dev/null | grep -F \"XFS ($k)\" | tail -n 3; true")


class DiskIoErrors(Fault):
    name = "disk_io_errors"
    description = ("Make a Swift disk fail every I/O with EIO (the lab's FUSE switch, or a "
                   "device-mapper error/flakey table); its XFS shuts down. Undo restores the "
                   "device and remounts the filesystem if it is still shut down")
    params: ClassVar[Mapping[str, Param]] = {
        "disk": Param("the Swift device name (its mount point is /srv/node/<disk>)", disk_name),
        "method": Param("auto, lab (FUSE control file) or dmsetup", _method, "auto"),
        "mode": Param("dmsetup only: error (every I/O fails) or flakey", _mode, "error"),
    }

    @property
    def path(self) -> str:
        return mountpoint(self.values["disk"])

    @property
    def control(self) -> str:
        return f"{CONTROL_DIR}/{self.values['disk']}"

    def plan(self) -> list[str]:
        method = self.values["method"]
        lab = [f"echo eio > {self.control}"]
        dm = [f"dmsetup load <dm device of {self.path}> --table '0 <sectors> "
              f"{self.values['mode']} ...'", "dmsetup suspend --noflush --nolockfs <dm device>",
              "dmsetup resume <dm device>"]
        if method == "lab":
            return lab
        if method == "dmsetup":
            return dm
        return [f"if {self.control} exists: {lab[0]}", "else: " + "; ".join(dm)]

    def prepare(self) -> dict[str, Any]:
        mount = current_mount(self.target, self.path)
        if mount is None:
            raise FaultError(f"{self.target.name}: {self.path} is not mounted")
        facts: dict[str, Any] = {"mountpoint": self.path, "source": mount.source,
                                 "fstype": mount.fstype}
        method = self.values["method"]
        if method in ("auto", "lab"):
            has_control = self.target.run(f"test -w {shlex.quote(self.control)}",
                                          record=False).ok
            if has_control:
                return {**facts, "method": "lab", "control": self.control}
            if method == "lab":
                raise FaultError(f"{self.target.name}: no I/O-error control at {self.control}")
        return {**facts, **self._prepare_dm(mount.source)}

    def _prepare_dm(self, source: str) -> dict[str, Any]:
        result = self.target.run(
            f"readlink -f {shlex.quote(source)} && "
            "dmsetup info -c --noheadings --separator ' ' -o name,blkdevname", record=False)
        lines = result.stdout.splitlines()
        if not result.ok or not lines:
            raise FaultError(f"{self.target.name}: {self.path} ({source}): device-mapper not "
                             f"available and no lab control at {self.control}: "
                             f"{(result.stderr or result.stdout).strip()[:120]}")
        kernel_name = lines[0].rsplit("/", 1)[-1]
        name = dm_name_of(kernel_name, "\n".join(lines[1:]))
        if name is None:
            raise FaultError(f"{self.target.name}: {self.path} is on {source}, not a "
                             f"device-mapper device: cannot make it fail with dmsetup")
        table = self.target.run(f"dmsetup table {shlex.quote(name)}", record=False,
                                check=True).stdout
        try:
            failing = failing_table(table, self.values["mode"])
        except FaultError as exc:
            raise FaultError(f"{self.target.name}: {name}: {exc}") from exc
        return {"method": "dmsetup", "dm_name": name, "table": table.strip(),
                "failing_table": failing}

    def inject(self, facts: Mapping[str, Any]) -> None:
        if facts["method"] == "lab":
            self.target.run(f"echo eio > {shlex.quote(facts['control'])}", check=True)
        else:
            self.target.run(swap_table_command(facts["dm_name"], facts["failing_table"]),
                            check=True, timeout=60)

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """After a write and a sync on the disk, its root can no longer be read (XFS shut the
        filesystem down); the kernel's XFS lines for the device are the evidence."""
        result = self.target.run(io_check_command(facts["mountpoint"], facts["source"]),
                                 timeout=60)
        lines = result.stdout.splitlines()
        if "UNREADABLE" not in lines:
            return None
        kernel = [line for line in lines if "XFS" in line]
        kernel = [line for line in kernel if "shut down" in line] or kernel
        return (f"{facts['mountpoint']} ({facts['source']}) on {self.target.name} fails with "
                f"I/O errors; kernel: {kernel[-1].strip() if kernel else 'no XFS message'}")

    def undo(self, facts: Mapping[str, Any]) -> None:
        """Give the device back (the lab's control file, or the original device-mapper table);
        a filesystem still unreadable is unmounted, its holders released, and mounted again
        until it reads."""
        self.target.run(restore_command(facts), check=True, timeout=60)
        path = facts["mountpoint"]
        quoted = shlex.quote(path)
        readable = f"{mounted_test(path)} && ls {quoted} >/dev/null 2>&1"
        # One already replaced by the recovery reads fine and is left alone. A filesystem that
        # shut down stays down until it is mounted again, and mounting its device again hands
        # back the same dead filesystem while a daemon still holds a file on it.
        if self.target.run(readable).ok:
            return
        unmount = f"if {mounted_test(path)}; then umount {quoted} || umount -l {quoted}; fi"
        self.target.run(unmount, check=True, timeout=60)
        try:
            release_holders(self.target, facts["source"])
        except HostError as exc:
            raise FaultError(str(exc)) from exc

        def remounted() -> bool:
            self.target.run(remount_command(path, facts["source"], facts["fstype"]),
                            check=True, timeout=120)
            if self.target.run(readable).ok:
                return True
            self.target.run(unmount, check=True, timeout=60)
            return False

        try:
            poll_until(remounted, timeout=60, interval=1.0,
                       description=f"{path} mounted and readable again")
        except WaitTimeout as exc:
            raise FaultError(f"{self.target.name}: {exc}") from exc
