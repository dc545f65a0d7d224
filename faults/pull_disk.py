"""Pull a Swift disk: lazily unmount ``/srv/node/<disk>``, as a drive pulled from its bay looks to
Swift (with ``mount_check = true`` the object server answers 507 for it; reads go to the other
replicas, writes to handoffs)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from stackdrill.api.fault import Fault, FaultError
from stackdrill.core.params import Param
from stackdrill.hosts.target import Target

DEVICES = "/srv/node"


def disk_name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", text) or text in (".", ".."):
        raise ValueError(f"not a Swift device name: {text!r}")
    return text


def mountpoint(disk: str) -> str:
    return f"{DEVICES}/{disk}"


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    fstype: str


def _unescape(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def parse_mounts(text: str) -> list[Mount]:
    """/proc/mounts lines (octal escapes such as ``\\040`` decoded)."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            mounts.append(Mount(_unescape(fields[0]), _unescape(fields[1]), fields[2]))
    return mounts


def current_mount(target: Target, path: str) -> Mount | None:
    """The last (topmost) mount at ``path`` on the host, or None."""
    result = target.run("cat /proc/mounts", record=False)
    found = [m for m in parse_mounts(result.stdout) if m.target == path]
    return found[-1] if found else None


def mounted_test(path: str) -> str:
    """A shell test that ``path`` is a mount point, from /proc/mounts: ``mountpoint -q`` stats
    the directory, which fails with EIO on a filesystem that has shut down."""
    return f"awk -v m={shlex.quote(path)} '$2 == m {{f=1}} END {{exit !f}}' /proc/mounts"


def remount_command(path: str, source: str, fstype: str) -> str:
    """Mount ``path`` again: from fstab where it is listed, else from the recorded source."""
    quoted = shlex.quote(path)
    return (f"{mounted_test(path)} || mount {quoted} 2>/dev/null || "
            f"mount -t {shlex.quote(fstype)} {shlex.quote(source)} {quoted}")


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
        mount = current_mount(self.target, facts["mountpoint"])
        if mount is not None:
            return None
        return (f"{facts['mountpoint']} ({facts['source']}) is no longer mounted on "
                f"{self.target.name} (gone from /proc/mounts)")

    def undo(self, facts: Mapping[str, Any]) -> None:
        self.target.run(remount_command(facts["mountpoint"], facts["source"], facts["fstype"]),
                        check=True, timeout=120)
