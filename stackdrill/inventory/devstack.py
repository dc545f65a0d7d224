"""``stackdrill inventory devstack``: the inventory of DevStack nodes, from DevStack's variables.

DevStack says what runs on a node in ``ENABLED_SERVICES`` (``key``, ``n-api``, ``n-cpu``,
``c-vol``, ``q-svc``, ``mysql``, ``rabbit``, ...). Each node is given as
``NAME,ADDRESS,SERVICE[,SERVICE...]``: NAME is the node's host name, which is the name Nova gives
its compute service (a canary is placed with ``nova:NAME``), ADDRESS is where the drills reach it
over SSH. A node's roles come from its services (``controller`` for the APIs, the database and the
message queue, ``compute`` for ``n-cpu``, ``storage`` for ``c-vol`` and ``s-object``), and every
logical service whose DevStack service some node runs is declared under ``services`` with the unit
the ``devstack`` profile names, so the units probe watches it. ``--unit SERVICE=UNIT`` overrides a
unit where the node differs from the profile (``mariadb=mariadb`` with
``MYSQL_SERVICE_NAME=mariadb``, ``ssh=sshd`` on a RHEL-family node, ``neutron-api=devstack@q-svc``
where Neutron still runs under eventlet).

The result is ``production: false`` with the ``devstack`` profile, checked with the inventory
schema before it is written. A file is only overwritten if this command wrote it (its first line
says so), so a hand-written inventory is never replaced.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stackdrill.inventory.loader import parse_inventory
from stackdrill.inventory.model import InventoryError

__all__ = [
    "DEVSTACK_SERVICES",
    "HEADER",
    "DevstackInventoryError",
    "Node",
    "add_parser",
    "inventory_data",
    "parse_node",
    "render",
    "run",
]

HEADER = "# Written by `stackdrill inventory devstack` from DevStack's ENABLED_SERVICES."
PROFILE = "devstack"

# DevStack service (as ENABLED_SERVICES names it) -> the logical services it runs.
DEVSTACK_SERVICES: Mapping[str, tuple[str, ...]] = {
    "key": ("keystone",),
    "placement-api": ("placement-api",),
    "g-api": ("glance-api",),
    "n-api": ("nova-api",),
    "n-api-meta": ("nova-api-metadata",),
    # with DevStack's default superconductor layout, n-cond is two units: the super conductor
    # (devstack@n-super-cond) and cell1's (devstack@n-cond-cell1)
    "n-cond": ("nova-conductor", "nova-conductor-cell1"),
    "n-sch": ("nova-scheduler",),
    "n-cpu": ("nova-compute",),
    "n-novnc": ("nova-novncproxy",),
    "c-api": ("cinder-api",),
    "c-sch": ("cinder-scheduler",),
    "c-vol": ("cinder-volume",),
    "c-bak": ("cinder-backup",),
    "q-svc": ("neutron-api",),
    "neutron-api": ("neutron-api",),
    "q-ovn-metadata-agent": ("neutron-ovn-metadata-agent",),
    "q-ovn-agent": ("neutron-ovn-agent",),
    "ovn-controller": ("ovn-controller",),
    "ovn-northd": ("ovn-northd",),
    "ovs-vswitchd": ("openvswitch",),
    "ovsdb-server": ("ovsdb-server",),
    "mysql": ("mariadb",),
    "rabbit": ("rabbitmq",),
    "etcd3": ("etcd",),
    "s-proxy": ("swift-proxy-server",),
    "s-account": ("swift-account-server",),
    "s-container": ("swift-container-server",),
    "s-object": ("swift-object-server",),
}

# stackdrill role -> the DevStack services that give a node that role
ROLE_SERVICES: Mapping[str, frozenset[str]] = {
    "controller": frozenset({"key", "n-api", "g-api", "placement-api", "q-svc", "neutron-api",
                             "c-api", "n-sch", "mysql", "rabbit"}),
    "compute": frozenset({"n-cpu"}),
    "storage": frozenset({"c-vol", "s-object"}),
}

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_UNIT = re.compile(r"[A-Za-z0-9:_.@-]+")


class DevstackInventoryError(InventoryError):
    """A node or an option cannot describe a DevStack inventory; one line."""


@dataclass(frozen=True)
class Node:
    """One DevStack node: its host name, its address and its enabled DevStack services."""

    name: str
    address: str
    services: tuple[str, ...]

    @property
    def roles(self) -> list[str]:
        enabled = set(self.services)
        return [role for role, wanted in ROLE_SERVICES.items() if enabled & wanted]


def parse_node(text: str) -> Node:
    """``NAME,ADDRESS,SERVICE[,SERVICE...]`` (the services as ``ENABLED_SERVICES`` lists them)."""
    name, _, rest = text.strip().partition(",")
    address, _, services = rest.partition(",")
    if not _NAME.fullmatch(name):
        raise DevstackInventoryError(f"--node {text!r}: expected NAME,ADDRESS,SERVICES with a "
                                     f"host name of letters, digits and _.-")
    if not address or any(c.isspace() for c in address):
        raise DevstackInventoryError(f"--node {text!r}: no address after the name {name!r}")
    enabled = tuple(dict.fromkeys(s.strip() for s in services.split(",") if s.strip()))
    node = Node(name, address, enabled)
    if not node.roles:
        known = ", ".join(sorted(set().union(*ROLE_SERVICES.values())))
        raise DevstackInventoryError(f"--node {name}: none of its DevStack services gives it a "
                                     f"role (expected one of {known})")
    return node


def parse_units(pairs: Iterable[str]) -> dict[str, str]:
    """``SERVICE=UNIT`` overrides of the profile's unit names."""
    units: dict[str, str] = {}
    for pair in pairs:
        service, sep, unit = pair.partition("=")
        if not sep or not _NAME.fullmatch(service) or not _UNIT.fullmatch(unit):
            raise DevstackInventoryError(f"--unit {pair!r}: expected SERVICE=UNIT "
                                         f"(such as mariadb=mariadb)")
        units[service] = unit
    return units


def _declared(nodes: Sequence[Node], units: Mapping[str, str]) -> dict[str, dict[str, str]]:
    from stackdrill.inventory.profiles import load_profile

    profile = load_profile(PROFILE)
    wanted = [service for node in nodes for name in node.services
              for service in DEVSTACK_SERVICES.get(name, ())]
    declared: dict[str, dict[str, str]] = {}
    for service in sorted(set(wanted) | set(units)):
        placement = profile.placement(service)
        unit = units.get(service, placement.unit or service)
        declared[service] = {"unit": unit}
    return declared


def inventory_data(nodes: Sequence[Node], *, cloud: str, ssh: Mapping[str, str],
                   units: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The inventory as data: the nodes as hosts, the services their DevStack services run."""
    names = [node.name for node in nodes]
    duplicate = next((name for name in names if names.count(name) > 1), None)
    if duplicate is not None:
        raise DevstackInventoryError(f"--node {duplicate}: given twice")
    return {
        "cloud": cloud,
        "production": False,
        "profile": PROFILE,
        "defaults": {"ssh": dict(ssh)},
        "hosts": {node.name: {"address": node.address, "roles": node.roles} for node in nodes},
        "services": _declared(nodes, units or {}),
    }


def render(data: Mapping[str, Any], output: Path) -> str:
    """The inventory's text, after checking it as stackdrill will load it from ``output``."""
    parse_inventory(dict(data), output)
    return HEADER + "\n" + yaml.safe_dump(dict(data), sort_keys=False)


def add_parser(actions: Any) -> None:
    """``stackdrill inventory devstack`` under the ``inventory`` subcommand."""
    parser = actions.add_parser("devstack", help="write the inventory of DevStack nodes from "
                                                 "their host names, addresses and "
                                                 "ENABLED_SERVICES")
    parser.add_argument("--node", action="append", required=True, metavar="NAME,ADDRESS,SERVICES",
                        help="a node: its host name (Nova's name for it), its address and its "
                             "DevStack services, comma-separated (repeat for each node)")
    parser.add_argument("--unit", action="append", default=[], metavar="SERVICE=UNIT",
                        help="the unit of SERVICE where this DevStack differs from the devstack "
                             "profile (mariadb=mariadb, ssh=sshd)")
    parser.add_argument("--cloud", default="devstack-admin",
                        help="the clouds.yaml entry (default: devstack-admin)")
    parser.add_argument("--ssh-user", default="root", help="SSH user (default: root)")
    parser.add_argument("--ssh-key", required=True, help="SSH private key of the drills")
    parser.add_argument("--known-hosts", required=True, help="known_hosts file of the nodes")
    parser.add_argument("-o", "--output", help="write here instead of to standard output")


def _write(output: Path, text: str) -> None:
    try:
        if output.exists() and not output.read_text(encoding="utf-8").startswith(HEADER):
            raise DevstackInventoryError(f"{output}: exists and was not written by stackdrill "
                                         f"inventory devstack; not overwritten")
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise DevstackInventoryError(f"{output}: cannot write: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    nodes = [parse_node(text) for text in args.node]
    ssh = {"user": args.ssh_user, "key": str(Path(args.ssh_key).absolute()),
           "known_hosts": str(Path(args.known_hosts).absolute())}
    data = inventory_data(nodes, cloud=args.cloud, ssh=ssh, units=parse_units(args.unit))
    output = Path(args.output) if args.output else None
    text = render(data, output or Path("devstack-inventory.yaml"))
    if output is None:
        sys.stdout.write(text)
        return 0
    _write(output, text)
    print(f"inventory: {output} ({len(nodes)} DevStack node{'s' if len(nodes) > 1 else ''})")
    return 0
