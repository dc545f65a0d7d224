"""What the lab consists of: its topologies (hosts, their roles and addresses, the address the
catalog names), which one ``lab up`` built, and where its state lives.

``single`` (the default) is one controller; ``ha`` is three controllers behind a keepalived VIP,
with Galera, a RabbitMQ cluster and HAProxy on each. In both, every catalog endpoint is
:data:`API_ADDRESS`: the single controller's own address, or the HA topology's VIP. The topology
``lab up`` built is recorded under the lab directory and read back by everything that acts on
the lab's hosts (its power, its status, ``lab down``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from stackdrill.core.errors import BadInput
from stackdrill.lab.system import LabError

SUBNET_PREFIX = "172.31.77"
BRIDGE = "sdlab0"
BRIDGE_ADDRESS = f"{SUBNET_PREFIX}.1"
NETNS_PREFIX = "sdlab-"
VETH_PREFIX = "sdl-"
API_OCTET = 10
API_ADDRESS = f"{SUBNET_PREFIX}.{API_OCTET}"
"""Every catalog endpoint's address: the single controller's, or the HA topology's VIP."""


class TopologyError(BadInput):
    """A topology that does not exist, or one other than the lab that is up."""


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


@dataclass(frozen=True)
class Topology:
    """A lab's hosts. ``clustered``: several controllers, each running every control-plane
    service, behind the VIP at :data:`API_ADDRESS`."""

    name: str
    hosts: tuple[LabHost, ...]

    def host(self, name: str) -> LabHost:
        for host in self.hosts:
            if host.name == name:
                return host
        known = ", ".join(h.name for h in self.hosts)
        raise LabError(f"no lab host named {name!r} (known: {known})")

    def with_role(self, role: str) -> tuple[LabHost, ...]:
        return tuple(host for host in self.hosts if role in host.roles)

    @property
    def controllers(self) -> tuple[LabHost, ...]:
        return self.with_role("controller")

    @property
    def first_controller(self) -> LabHost:
        """Where what runs once runs: schema syncs, key setup, the rings, the Galera
        bootstrap."""
        return self.controllers[0]

    @property
    def clustered(self) -> bool:
        return len(self.controllers) > 1

    def is_clustered_controller(self, host: LabHost) -> bool:
        return self.clustered and "controller" in host.roles


_WORKERS = (
    LabHost("compute1", ("compute",), 11),
    LabHost("compute2", ("compute",), 12),
    LabHost("storage1", ("storage",), 21),
    LabHost("storage2", ("storage",), 22),
)
SINGLE = Topology("single", (LabHost("controller", ("controller",), API_OCTET), *_WORKERS))
HA = Topology("ha", (
    LabHost("controller1", ("controller",), 31),
    LabHost("controller2", ("controller",), 32),
    LabHost("controller3", ("controller",), 33),
    *_WORKERS,
))
TOPOLOGIES = {topology.name: topology for topology in (SINGLE, HA)}


def topology_named(name: str) -> Topology:
    try:
        return TOPOLOGIES[name]
    except KeyError:
        raise TopologyError(f"lab topology {name!r}: expected one of "
                            f"{', '.join(TOPOLOGIES)}") from None


def host_by_name(name: str, topology: Topology = SINGLE) -> LabHost:
    return topology.host(name)


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
    def topology(self) -> Path:
        """The name of the topology ``lab up`` built, written before its hosts exist and
        removed by ``lab down``."""
        return self.root / "topology"

    @property
    def release(self) -> Path:
        """The OpenStack series ``lab up`` built (:mod:`stackdrill.lab.cloud.release`),
        recorded and removed as :attr:`topology` is."""
        return self.root / "release"

    @property
    def glance_store(self) -> Path:
        """The HA controllers' shared ``/var/lib/glance`` (a file store every Glance API
        serves from, as an NFS export would be)."""
        return self.mountpoint / "shared" / "glance"

    @property
    def ssh_key(self) -> Path:
        return self.root / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def alert_rules(self) -> Path:
        """The lab's alerting rules as its Prometheus loads them, which the inventory's
        ``alerts.rule_files`` names (:mod:`stackdrill.lab.cloud.monitoring`)."""
        return self.root / "alert-rules.yml"

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


def recorded_topology(paths: LabPaths) -> Topology | None:
    """The topology ``lab up`` built under ``paths``; a lab whose inventory predates the
    record is ``single``; None when no lab was built there."""
    try:
        name = paths.topology.read_text().strip()
    except OSError:
        return SINGLE if paths.inventory.exists() else None
    return topology_named(name)


def built_topology(paths: LabPaths) -> Topology:
    """The topology of the lab under ``paths``, ``single`` when none was built."""
    return recorded_topology(paths) or SINGLE


def record_topology(paths: LabPaths, topology: Topology) -> None:
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.topology.write_text(topology.name + "\n")


def refuse_other_topology(paths: LabPaths, wanted: Topology) -> None:
    """A lab of another topology is up (or its ``lab up`` did not finish): one line."""
    built = recorded_topology(paths)
    if built is not None and built != wanted:
        raise TopologyError(f"the lab under {paths.root} is up with topology {built.name}, not "
                            f"{wanted.name}: lab down first (stackdrill lab down)")
