"""The processes that keep an old filesystem alive, and releasing them.

A lazily unmounted filesystem (a pulled disk, a shut-down XFS that refused a plain umount) lives
on while a process holds a file on it, and the kernel hands that same filesystem back to the
next ``mount`` of its device. Restarting the services that hold it lets it go.
"""

from __future__ import annotations

import re
import shlex

from stackdrill.hostkit.units import systemctl_command
from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import Target


class HoldersNotReleased(HostError):
    """Processes outside any service hold the old filesystem; one line naming them."""


def parse_units(text: str) -> dict[str, str]:
    """``ps -o pid=,unit=`` output: pid -> systemd unit (``-`` for none)."""
    units = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0].isdigit():
            units[fields[0]] = fields[1]
    return units


def holder_pids(stdout: str, stderr: str) -> list[str]:
    """The PIDs ``fuser -m`` names, and those whose files it could not stat: on an XFS that
    shut itself down every stat of an open file fails with EIO, so fuser reports the holders
    of a failed disk only as "Cannot stat file /proc/PID/fd/N"."""
    found = re.findall(r"\d+", stdout)
    found += re.findall(r"Cannot stat file /proc/(\d+)/", stderr)
    return sorted(set(found), key=int)


def release_holders(target: Target, device: str) -> list[str]:
    """Restart the services still holding files on ``device``'s old filesystem (``fuser -m``);
    return them. Processes that belong to no service are named, never killed."""
    users = target.run(f"fuser -m {shlex.quote(device)}")
    pids = holder_pids(users.stdout, users.stderr)
    if not pids:
        return []
    units = target.run(f"ps -o pid=,unit= -p {','.join(pids)}", check=True).stdout
    holders = parse_units(units)
    orphans = [pid for pid, unit in holders.items() if not unit.endswith(".service")]
    if orphans:
        raise HoldersNotReleased(f"{target.name}: processes {', '.join(orphans)} hold files on "
                                 f"the old filesystem of {device} and belong to no service: "
                                 f"stop them")
    services = sorted(set(holders.values()))
    target.run(systemctl_command("restart", services), check=True, timeout=120)
    return services
