"""Mounts on a host: read from ``/proc/mounts`` (never by ``stat``, which fails with EIO on a
filesystem that has shut down), tested in the shell, and mounted again."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from stackdrill.hosts.target import Target


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
