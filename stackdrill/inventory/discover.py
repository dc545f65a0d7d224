"""``stackdrill discover``: a first inventory from the cloud's own APIs, for the operator to edit.

* Keystone's endpoints: the hosts their URLs name run the APIs (role ``controller``).
* Nova's services and hypervisors: ``nova-compute`` hosts (role ``compute``), addressed by the
  hypervisor's ``host_ip``.
* Cinder's services: ``cinder-volume`` hosts (role ``storage``; ``host@backend#pool`` is the
  host).

Names are resolved to addresses (an endpoint given as an address is named by reverse lookup, or
after its address). The result is ``production: true`` with placeholder SSH settings, so nothing
can be drilled before the operator has read it. The cloud comes from clouds.yaml / ``OS_CLOUD``
as for the openstack CLI.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import logging
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from stackdrill.core.errors import ActionFailed
from stackdrill.core.evidence import Redactor
from stackdrill.inventory.loader import parse_inventory
from stackdrill.inventory.model import InventoryError
from stackdrill.inventory.secrets import auth_secrets

__all__ = ["DiscoverError", "Discovered", "connect", "discover", "render", "resolve_name"]

KEY_PLACEHOLDER = "~/.ssh/stackdrill_ed25519"


class DiscoverError(ActionFailed):
    """The cloud could not be asked; one line."""


@dataclass
class Discovered:
    address: str
    roles: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)


Resolver = Callable[[str], str | None]
ReverseResolver = Callable[[str], str | None]


def resolve_name(name: str) -> str | None:
    """The first address ``name`` resolves to, or None."""
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    return str(infos[0][4][0]) if infos else None


def reverse_name(address: str) -> str | None:
    try:
        return socket.gethostbyaddr(address)[0].split(".")[0] or None
    except (OSError, UnicodeError):
        return None


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _short(name: str) -> str:
    return name.split("@", 1)[0].split("#", 1)[0].strip()


class _Hosts:
    def __init__(self, resolve: Resolver, reverse: ReverseResolver) -> None:
        self.resolve = resolve
        self.reverse = reverse
        self.hosts: dict[str, Discovered] = {}

    def by_address(self, address: str) -> str | None:
        return next((name for name, host in self.hosts.items() if host.address == address),
                    None)

    def add(self, name: str, address: str | None, role: str, source: str) -> None:
        name = _short(name)
        if not name:
            return
        known = self.hosts.get(name)
        if known is None:
            found = address or self.resolve(name) or name
            other = self.by_address(found)
            known = self.hosts[other] if other else self.hosts.setdefault(
                name, Discovered(found))
        elif address and known.address != address and _is_address(address):
            known.address = address
        known.roles.add(role)
        known.sources.add(source)

    def add_endpoint(self, hostname: str, source: str) -> None:
        if _is_address(hostname):
            named = self.by_address(hostname)
            name = named or self.reverse(hostname) or f"host-{hostname.replace('.', '-')}"
            self.add(name, hostname, "controller", source)
        else:
            self.add(hostname, None, "controller", source)


def _attr(item: Any, name: str) -> Any:
    value = getattr(item, name, None)
    if value is None and isinstance(item, dict):
        value = item.get(name)
    return value


def _endpoint_hosts(conn: Any) -> Iterable[tuple[str, str]]:
    services = {_attr(s, "id"): _attr(s, "type") for s in conn.identity.services()}
    for endpoint in conn.identity.endpoints():
        hostname = urlsplit(str(_attr(endpoint, "url") or "")).hostname
        if hostname:
            kind = services.get(_attr(endpoint, "service_id")) or "endpoint"
            yield hostname, f"keystone endpoint ({kind})"


def discover(conn: Any, resolve: Resolver = resolve_name,
             reverse: ReverseResolver = reverse_name) -> dict[str, Discovered]:
    """Every host the APIs name, with its address, roles and where each was seen."""
    hosts = _Hosts(resolve, reverse)
    hypervisors = list(conn.compute.hypervisors(details=True))
    for hypervisor in hypervisors:
        service = _attr(hypervisor, "service_details") or {}
        name = (service.get("host") if isinstance(service, dict) else None) \
            or _attr(hypervisor, "name") or ""
        hosts.add(str(name), _attr(hypervisor, "host_ip"), "compute", "nova hypervisor")
    for service in conn.compute.services():
        if _attr(service, "binary") == "nova-compute":
            hosts.add(str(_attr(service, "host") or ""), None, "compute", "nova-compute service")
    for service in conn.block_storage.services():
        if _attr(service, "binary") == "cinder-volume":
            hosts.add(str(_attr(service, "host") or ""), None, "storage", "cinder-volume service")
    for hostname, source in _endpoint_hosts(conn):
        hosts.add_endpoint(hostname, source)
    return hosts.hosts


def inventory_data(cloud: str, hosts: dict[str, Discovered]) -> dict[str, Any]:
    return {
        "cloud": cloud,
        "production": True,
        "defaults": {"ssh": {"user": "root", "key": KEY_PLACEHOLDER}},
        "hosts": {name: {"address": host.address, "roles": sorted(host.roles)}
                  for name, host in sorted(hosts.items())},
    }


def render(cloud: str, hosts: dict[str, Discovered], now: dt.datetime | None = None) -> str:
    """The inventory as YAML with a header that says what to check; it validates against the
    inventory schema (checked here, so a bug cannot hand the operator a broken file)."""
    if not hosts:
        raise DiscoverError(f"cloud {cloud!r}: the APIs name no host (no endpoints, compute "
                            f"services or volume services visible to these credentials)")
    data = inventory_data(cloud, hosts)
    try:
        parse_inventory(data, Path("discovered.yaml"))
    except InventoryError as exc:
        raise DiscoverError(f"the discovered inventory does not validate: {exc}") from None
    moment = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    seen = [f"#   {name}: {', '.join(sorted(host.sources))}"
            for name, host in sorted(hosts.items())]
    header = [
        f"# Discovered from cloud {cloud!r} on {moment} by stackdrill discover.",
        "# A starting point: check every host, address and role before drilling.",
        "# - production: true refuses every fault until you set it to false or run with",
        f"#   --confirm {cloud}.",
        f"# - defaults.ssh: the user and the key ({KEY_PLACEHOLDER}) are placeholders.",
        "# - Add 'protected' hosts, 'clusters' (Galera, RabbitMQ members) and 'services'.",
        "# Where each host was seen:",
        *seen,
    ]
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
    return "\n".join(header) + "\n" + body


def connect(cloud: str | None) -> Any:
    """An openstacksdk connection as the openstack CLI would open it; one line on failure."""
    import openstack
    from openstack import exceptions

    try:
        return openstack.connect(cloud=cloud)
    except exceptions.ConfigException as exc:
        raise DiscoverError(f"cloud {cloud or '(OS_CLOUD unset)'}: "
                            f"{_first_line(exc)}") from None
    except Exception as exc:  # a clouds.yaml openstacksdk cannot use
        raise DiscoverError(f"cloud {cloud or '(OS_CLOUD unset)'}: {type(exc).__name__}: "
                            f"{_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def run_discovery(cloud: str | None, conn: Any = None, resolve: Resolver | None = None,
                  reverse: ReverseResolver | None = None) -> str:
    """Connect (unless given a connection), ask the APIs, render; any failure of the cloud or
    the credentials is one :class:`DiscoverError` line."""
    with _quiet_clients():
        return _run_discovery(cloud, conn, resolve or resolve_name, reverse or reverse_name)


@contextlib.contextmanager
def _quiet_clients() -> Iterator[None]:
    """The client libraries log their retries as warnings; the one line of the error says it."""
    loggers = [logging.getLogger(name) for name in ("keystoneauth", "openstack", "urllib3")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _run_discovery(cloud: str | None, conn: Any, resolve: Resolver,
                   reverse: ReverseResolver) -> str:
    connection = conn if conn is not None else connect(cloud)
    region = getattr(connection, "config", None)
    name = str(cloud or getattr(region, "name", None) or "cloud")
    redact = Redactor()
    redact.add_all(auth_secrets((getattr(region, "config", None) or {}).get("auth")))
    try:
        hosts = discover(connection, resolve, reverse)
    except DiscoverError as exc:
        raise DiscoverError(redact(str(exc))) from None
    except Exception as exc:  # keystoneauth and openstacksdk raise many kinds; one line each
        raise DiscoverError(redact(f"cloud {name!r}: {type(exc).__name__}: "
                                   f"{_first_line(exc)}")) from None
    try:
        return redact(render(name, hosts))
    except DiscoverError as exc:
        raise DiscoverError(redact(str(exc))) from None
