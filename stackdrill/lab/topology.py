"""What the lab consists of: its hosts, their roles and addresses, and where its state lives."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from stackdrill.lab.system import LabError

SUBNET_PREFIX = "172.31.77"
BRIDGE = "sdlab0"
BRIDGE_ADDRESS = f"{SUBNET_PREFIX}.1"
NETNS_PREFIX = "sdlab-"
VETH_PREFIX = "sdl-"


@dataclass(frozen=True)
class LabHost:
    name: str
    roles: tuple[str, ...]
    octet: int

    @property
    def address(self) -> str:
        return f"{SUBNET_PREFIX}.{self.octet}"

    @property
    def netns(self) -> str:
        return f"{NETNS_PREFIX}{self.name}"

    @property
    def veth(self) -> str:
        return f"{VETH_PREFIX}{self.name}"[:15]


HOSTS: tuple[LabHost, ...] = (
    LabHost("controller", ("controller",), 10),
    LabHost("compute1", ("compute",), 11),
    LabHost("compute2", ("compute",), 12),
    LabHost("storage1", ("storage",), 21),
    LabHost("storage2", ("storage",), 22),
)


def host_by_name(name: str) -> LabHost:
    for host in HOSTS:
        if host.name == name:
            return host
    known = ", ".join(h.name for h in HOSTS)
    raise LabError(f"no lab host named {name!r} (known: {known})")


@dataclass(frozen=True)
class LabPaths:
    """Every file the lab owns sits under one directory."""

    root: Path

    @classmethod
    def default(cls) -> LabPaths:
        return cls(Path(os.environ.get("STACKDRILL_LAB_DIR", "/var/lib/stackdrill-lab")))

    @property
    def image(self) -> Path:
        return self.root / "hosts.img"

    @property
    def mountpoint(self) -> Path:
        return self.root / "hosts"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def inventory(self) -> Path:
        return self.root / "inventory.yaml"

    @property
    def ssh_key(self) -> Path:
        return self.root / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def nova_instances(self) -> Path:
        """The computes' shared ``/var/lib/nova/instances`` (the shared file system the
        operations guide's evacuation and manual recovery of a failed compute assume)."""
        return self.mountpoint / "shared" / "nova-instances"

    @property
    def instances_image(self) -> Path:
        """The file system behind :attr:`nova_instances`, apart from the hosts' own: a full
        instances file system fills no host's root."""
        return self.root / "instances.img"

    def host_dir(self, name: str) -> Path:
        return self.mountpoint / name

    def merged(self, name: str) -> Path:
        return self.host_dir(name) / "merged"

    def host_run(self, name: str) -> Path:
        return self.run / name
