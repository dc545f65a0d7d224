"""How full the filesystems are that a cloud dies of when they fill: the instances path of a
compute (Nova refuses new boots, guests with thin disks pause on their next write), the database
and message queue's data (MariaDB stops writing, RabbitMQ blocks its publishers at its disk-free
limit), Glance's images, Cinder's state, and every host's root (logs, journald, the services'
own state).

For each path its role cares about and the host has (an absent path is left out), the use of the
filesystem behind it in percent as ``df`` reckons it (``fs:<path>/used_percent``, one decimal),
and the mount point that filesystem is mounted on (``fs:<path>/mount``: an instances share that
was unmounted shows as a change of mount). One ``df`` per path, in the host's batch, each
limited to a few seconds so a hung network filesystem cannot hold the snapshot. Kolla's data
volumes are read where Kolla keeps them. Swift's disks are the ``swift_disks`` probe's.

The default tolerance lets a filesystem's use move by 5 points from the verified state (logs
grow, an image is cached); a drill that fills one goes beyond it. A filesystem 95 % full or more
rules out a healthy start.
"""

from __future__ import annotations

from typing import Any, ClassVar

from stackdrill.api import Probe, ProbeOutput
from stackdrill.hostkit.filesystems import parse_usages, usage_command
from stackdrill.hosts.target import Target

KOLLA = "/var/lib/docker/volumes"


class FilesystemUse(Probe):
    name = "filesystem_use"
    description = ("use in percent (df) of the filesystems behind the instances path, the "
                   "database, the message queue, images, volumes' state and the root")
    paths: ClassVar[dict[str, tuple[str, ...]]] = {
        "*": ("/",),
        "compute": ("/var/lib/nova/instances", f"{KOLLA}/nova_compute/_data/instances"),
        "controller": ("/var/lib/mysql", "/var/lib/rabbitmq", "/var/lib/glance/images",
                       f"{KOLLA}/mariadb/_data", f"{KOLLA}/rabbitmq/_data",
                       f"{KOLLA}/glance/_data/images"),
        "database": ("/var/lib/mysql", f"{KOLLA}/mariadb/_data"),
        "messaging": ("/var/lib/rabbitmq", f"{KOLLA}/rabbitmq/_data"),
        "storage": ("/var/lib/cinder",),
        "block-storage": ("/var/lib/cinder",),
    }
    rules = ("host:*/fs:*/used_percent abs 5",)
    #: Use in percent at which a filesystem rules out a healthy start.
    full: ClassVar[float] = 95.0

    def watched(self, target: Target) -> list[str]:
        """The paths this host's roles care about, in order, each once."""
        wanted = list(self.paths["*"])
        for role in target.spec.roles:
            wanted += self.paths.get(role, ())
        return list(dict.fromkeys(wanted))

    def command(self, target: Target) -> str:
        return usage_command(self.watched(target))

    def parse(self, target: Target, output: ProbeOutput) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for path, usage in parse_usages(output.stdout).items():
            if usage is None:
                continue
            values[f"fs:{path}/used_percent"] = round(usage.percent, 1)
            values[f"fs:{path}/mount"] = usage.mount
        return values

    def problems(self, values: dict[str, Any]) -> list[str]:
        found = []
        for key, value in sorted(values.items()):
            if key.endswith("/used_percent") and isinstance(value, int | float) \
                    and value >= self.full:
                found.append(f"{key.removesuffix('/used_percent')} is {value:g} % used "
                             f"(a healthy start needs less than {self.full:g} %)")
        return found
