"""Sets of hosts as operators name them (a role, a host, a cluster), and the addresses a network
fault must never cut: the harness's own, on its path to every host (a jump host's included), and
every BMC's. Reads the inventory and the harness's routing table; sends nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urlparse

from stackdrill.core.errors import InvalidValue
from stackdrill.inventory.model import ROLES, HostSpec, Inventory

KINDS = ("role", "host", "cluster")


def selector(text: str) -> str:
    """One member of a set as a feature writes it: ``role:compute``, ``host:compute1``,
    ``cluster:rabbitmq``, or a bare name (a host, else a role, else a cluster)."""
    value = text.strip()
    kind, sep, name = value.partition(":")
    if not sep:
        if not value or not value.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise InvalidValue(f"expected a host, role or cluster name, got {text!r}")
        return value
    if kind not in KINDS or not name:
        raise InvalidValue(f"expected role:NAME, host:NAME or cluster:NAME, got {text!r}")
    if kind == "role" and name not in ROLES:
        raise InvalidValue(f"unknown role {name!r} (known: {', '.join(ROLES)})")
    return value


def selectors(text: str) -> list[str]:
    """A comma-separated set of :func:`selector` items; empty is refused."""
    items = [part.strip() for part in text.replace(";", ",").split(",")]
    if not any(items):
        raise InvalidValue("the set is empty: name a role, a host or a cluster")
    if not all(items):
        raise InvalidValue(f"expected a comma-separated list, got {text!r}")
    return [selector(item) for item in items]


def resolve(inventory: Inventory, items: Sequence[str]) -> list[HostSpec]:
    """The hosts a set names, sorted by name; an :class:`InvalidValue` for a name that is no
    host, role or cluster of the inventory, or a role or cluster without a host."""
    found: dict[str, HostSpec] = {}
    for item in items:
        for spec in _one(inventory, item):
            found[spec.name] = spec
    return [found[name] for name in sorted(found)]


def _one(inventory: Inventory, item: str) -> list[HostSpec]:
    kind, sep, name = item.partition(":")
    if not sep:
        kind, name = _bare_kind(inventory, item), item
    if kind == "host":
        if name not in inventory.hosts:
            known = ", ".join(sorted(inventory.hosts))
            raise InvalidValue(f"no host named {name!r} (known: {known})")
        return [inventory.hosts[name]]
    if kind == "role":
        hosts = inventory.with_role(name)
    else:
        if name not in inventory.clusters:
            known = ", ".join(sorted(inventory.clusters)) or "none"
            raise InvalidValue(f"no cluster named {name!r} (known: {known})")
        hosts = [inventory.hosts[member] for member in inventory.clusters[name]
                 if member in inventory.hosts]
    if not hosts:
        raise InvalidValue(f"{item}: the inventory has no such host, so the set is empty")
    return hosts


def _bare_kind(inventory: Inventory, name: str) -> str:
    if name in inventory.hosts:
        return "host"
    if name in ROLES:
        return "role"
    if name in inventory.clusters:
        return "cluster"
    raise InvalidValue(f"{name!r} is no host, role or cluster of the inventory")


def bmc_addresses(inventory: Inventory) -> list[str]:
    """Every BMC address the inventory's power entries name (``address``, or the host of a
    ``url`` or ``uri``), so that no cut falls between the harness and a BMC."""
    found: set[str] = set()
    for spec in inventory.hosts.values():
        power = spec.power or {}
        if isinstance(power.get("address"), str):
            found.add(power["address"])
        for key in ("url", "uri"):
            value = power.get(key)
            host = urlparse(value).hostname if isinstance(value, str) else None
            if host:
                found.add(host)
    return sorted(found)


def route_source(address: str) -> str | None:
    """The address this machine sends from toward ``address`` (a UDP socket's connect picks the
    route and sends nothing); None when it has no route or the name does not resolve."""
    try:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((address, 22))
            return str(probe.getsockname()[0])
    except OSError:
        return None


def ssh_path(inventory: Inventory, name: str) -> list[HostSpec]:
    """The hosts the harness's SSH connection to ``name`` goes through (its jump hosts,
    nearest first), without the host itself."""
    path: list[HostSpec] = []
    spec = inventory.hosts[name]
    while spec.ssh.jump and spec.ssh.jump in inventory.hosts and len(path) < len(inventory.hosts):
        spec = inventory.hosts[spec.ssh.jump]
        path.append(spec)
    return path


def harness_addresses(inventory: Inventory, name: str,
                      source: Callable[[str], str | None] = route_source) -> list[str]:
    """The addresses host ``name`` sees the harness's SSH come from: this machine's source
    address toward it, or, through a jump host, the jump host's own address."""
    path = ssh_path(inventory, name)
    if path:
        return [spec.address for spec in path]
    found = source(inventory.hosts[name].address)
    return [found] if found else []


def own_addresses(inventory: Inventory, source: Callable[[str], str | None] = route_source
                  ) -> set[str]:
    """Every address of this machine the hosts may see the harness come from."""
    found = {"127.0.0.1", "::1"}
    for spec in inventory.hosts.values():
        address = source(spec.address)
        if address:
            found.add(address)
    return found


def same_address(one: str, other: str) -> bool:
    try:
        return ipaddress.ip_address(one) == ipaddress.ip_address(other)
    except ValueError:
        return one == other


def containing(hosts: Iterable[HostSpec], addresses: Iterable[str]) -> HostSpec | None:
    """The first of ``hosts`` whose address is one of ``addresses``, or None."""
    wanted = list(addresses)
    return next((spec for spec in hosts
                 if any(same_address(spec.address, address) for address in wanted)), None)


def never_cut(inventory: Inventory, name: str,
              source: Callable[[str], str | None] = route_source) -> list[str]:
    """The addresses whose traffic with host ``name`` a network fault exempts, in rules placed
    before its own: the harness's SSH path to it and every BMC."""
    return sorted(set(harness_addresses(inventory, name, source)) | set(bmc_addresses(inventory)))


def through(inventory: Inventory, name: str) -> list[HostSpec]:
    """The hosts whose SSH path from the harness goes through host ``name`` (it is their jump
    host): cutting ``name`` off from one of them cuts the harness off it."""
    return [spec for spec in inventory.hosts.values()
            if any(hop.name == name for hop in ssh_path(inventory, spec.name))]
