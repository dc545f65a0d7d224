"""Cloud inventory: which hosts exist, how to reach them and how services run on them.

The inventory is a YAML file, read by :func:`stackdrill.inventory.loader.load_inventory`: it is
checked against :data:`stackdrill.inventory.schema.INVENTORY_SCHEMA` (JSON Schema, Draft
2020-12) and then for cross references between hosts (:mod:`stackdrill.inventory.builder`).
Every problem is reported as one line ``<file>: <key path>: <what was expected>`` through
:class:`InventoryError`. This module holds what a loaded inventory is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from stackdrill.core.errors import BadInput, InvalidValue

__all__ = [
    "DEFAULT_DEPLOYMENT",
    "DEFAULT_KNOWN_HOSTS",
    "DEFAULT_PROFILE",
    "JOURNAL_MIRRORS",
    "LOCK_BACKENDS",
    "ROLES",
    "RUNTIMES",
    "AlertsSpec",
    "CoordinationSpec",
    "HostSpec",
    "Inventory",
    "InventoryError",
    "ProfileSpec",
    "ServiceSpec",
    "SshSpec",
    "TempestSpec",
    "UpgradeSpec",
    "VipSpec",
]

ROLES: tuple[str, ...] = (
    "controller",
    "compute",
    "storage",
    "network",
    "database",
    "messaging",
    "object-storage",
    "block-storage",
)
RUNTIMES: tuple[str, ...] = ("docker", "podman", "lxc")
DEFAULT_DEPLOYMENT = "packages"
DEFAULT_PROFILE = "packages"
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
#: Where the drill lock is held: the cloud's MySQL/MariaDB (``GET_LOCK``), etcd or Redis (each
#: through tooz), a ``flock`` on the first controller over SSH, or this machine's state directory.
LOCK_BACKENDS: tuple[str, ...] = ("mysql", "etcd", "redis", "ssh", "local")
#: Where the undo journal is mirrored: a directory on the first controller over SSH, a Swift
#: container, or nowhere (the journal stays on this machine only).
JOURNAL_MIRRORS: tuple[str, ...] = ("ssh", "swift", "none")
DEFAULT_DATABASE_CONFIG = "/etc/nova/nova.conf"
DEFAULT_COORDINATION_DIR = "/var/lib/stackdrill"
DEFAULT_JOURNAL_CONTAINER = "stackdrill-journal"

#: The services the inventory's ``tempest.services`` may declare, as Tempest's
#: ``[service_available]`` names them.
TEMPEST_SERVICES: Mapping[str, str] = MappingProxyType(
    {"compute": "nova", "volume": "cinder", "image": "glance", "object-storage": "swift"})
DEFAULT_TEMPEST_DEADLINE = 1800.0


class InventoryError(BadInput):
    """One or more problems with an inventory; ``str()`` is a single line."""

    def __init__(self, errors: str | Sequence[str]) -> None:
        items = [errors] if isinstance(errors, str) else list(errors)
        if not items:
            items = ["invalid inventory"]
        self.errors: list[str] = items
        summary = items[0]
        if len(items) > 1:
            summary += f" (and {len(items) - 1} more)"
        super().__init__(summary)

    def __reduce__(self) -> tuple[type[InventoryError], tuple[list[str]]]:
        return (type(self), (list(self.errors),))


@dataclass(frozen=True)
class SshSpec:
    user: str
    port: int
    key: Path | None
    known_hosts: Path
    strict_host_key_checking: bool
    jump: str | None
    connect_timeout: float
    command_timeout: float


@dataclass(frozen=True)
class HostSpec:
    name: str
    address: str
    roles: tuple[str, ...]
    ssh: SshSpec
    power: Mapping[str, Any] | None


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    unit: str | None
    container: str | None
    runtime: str | None

    @property
    def kind(self) -> Literal["systemd", "container"]:
        return "container" if self.container is not None else "systemd"


@dataclass(frozen=True)
class ProfileSpec:
    """The deployment profile the inventory selects (see :mod:`stackdrill.inventory.profiles`).

    ``declared`` is False when the inventory does not name one: services the inventory does not
    list are then systemd units of the same name, as before profiles existed.
    """

    name: str = DEFAULT_PROFILE
    variant: str | None = None
    runtime: str | None = None
    dirs: tuple[Path, ...] = ()
    declared: bool = False


@dataclass(frozen=True)
class VipSpec:
    """A virtual IP address the load balancers share (keepalived's VRRP address, a
    pacemaker ``IPaddr2``): its name in the inventory's ``vips``, the address, and the hosts that
    may hold it (every controller unless the inventory names them)."""

    name: str
    address: str
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class CoordinationSpec:
    """Where the drill lock is held and where the undo journal is mirrored (the inventory's
    ``coordination`` key). ``declared`` is False when the inventory has no such key: the lock
    and the journal then stay on the machine that runs the drill, as before the key existed.

    ``url`` is the backend's tooz URL (etcd, Redis; for MySQL optional, else the ``[database]
    connection`` of ``database_config`` is read on the first controller, as the ``nova_db``
    probe reads it); ``directory`` is where the SSH lock, the holder's record and the SSH
    mirror live on the first controller; ``container`` is the Swift mirror's container.
    """

    lock: str = "local"
    journal: str = "none"
    url: str | None = field(default=None, repr=False)
    database_config: str = DEFAULT_DATABASE_CONFIG
    directory: str = DEFAULT_COORDINATION_DIR
    container: str = DEFAULT_JOURNAL_CONTAINER
    declared: bool = False

    @property
    def on_cloud(self) -> bool:
        """Whether anything lives on the cloud's side: a cloud-held lock or a mirror."""
        return self.lock != "local" or self.journal != "none"


@dataclass(frozen=True)
class TempestSpec:
    """The inventory's ``tempest`` key (:mod:`stackdrill.inventory.tempest`): what Tempest must
    be told of the cloud that stackdrill cannot ask it, and how the Tempest step runs.

    ``services`` holds only the services the inventory declares (the others are as the
    catalog says); ``image`` and ``flavor`` (and their ``_alt``) are a name or an ID (None: the
    canary workload's); ``backups`` None is whether a cinder-backup service is up. ``options``
    is ``section -> option -> value``, written into ``tempest.conf`` last, over everything
    stackdrill writes. ``declared`` is False when the inventory has no such key."""

    services: Mapping[str, bool] = field(default_factory=lambda: MappingProxyType({}))
    image: str | None = None
    image_alt: str | None = None
    flavor: str | None = None
    flavor_alt: str | None = None
    guest_networking: bool = False
    ssh_validation: bool = False
    storage_protocol: str = "iSCSI"
    vendor_name: str = "Open Source"
    snapshots: bool = False
    clones: bool = False
    backups: bool | None = None
    concurrency: int = 1
    deadline: float = DEFAULT_TEMPEST_DEADLINE
    options: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: MappingProxyType({}))
    declared: bool = False


@dataclass(frozen=True)
class UpgradeSpec:
    """The inventory's ``upgrade`` key: how this deployment installs an OpenStack release, for
    the upgrade procedures. ``install`` installs the new release on a controller (the packages'
    upgrade, a new virtualenv, new images), ``install_compute`` on a compute (``install`` when
    unset), ``install_previous`` puts the release before it back (a failed upgrade's rollback);
    ``bin_dir`` is where the new release's ``*-manage`` commands are (PATH when unset). None:
    not declared, and a procedure that needs it says so."""

    install: str | None = None
    install_compute: str | None = None
    install_previous: str | None = None
    bin_dir: str | None = None

    def on_compute(self) -> str | None:
        return self.install_compute or self.install


@dataclass(frozen=True)
class AlertsSpec:
    """The inventory's ``alerts`` key: the cloud's Alertmanager (``http://host:9093``), which
    the alert steps ask; optionally its Prometheus, whose loaded rules name the alerts a step
    may expect when no ``rule_files`` are listed; and rule files to read those names from (on
    the drill host). ``declared`` is False when the inventory has no such key."""

    alertmanager: str | None = None
    prometheus: str | None = None
    rule_files: tuple[Path, ...] = ()
    declared: bool = False


@dataclass(frozen=True)
class Inventory:
    path: Path
    cloud: str | None
    production: bool
    deployment: str
    hosts: Mapping[str, HostSpec]
    services: Mapping[str, ServiceSpec]
    protected: frozenset[str]
    profile_spec: ProfileSpec = ProfileSpec()
    # clustered service -> its member hosts (quorum: never half or more of them under faults)
    clusters: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    # files whose every value is a secret to keep out of reports (YAML or JSON mappings)
    secrets_files: tuple[Path, ...] = ()
    coordination: CoordinationSpec = CoordinationSpec()
    # ``keystone.tokens_survive``: whether a token Keystone issued before a fault must still
    # validate after it; None: as the token's format promises (Fernet and JWS tokens do)
    keystone_tokens_survive: bool | None = None
    # ``vips``: name -> the virtual IP address and the hosts that may hold it
    vips: Mapping[str, VipSpec] = field(default_factory=lambda: MappingProxyType({}))
    # ``tempest``: the cloud's capabilities as Tempest is told them, and the step's run
    tempest: TempestSpec = TempestSpec()
    # ``upgrade``: how the deployment installs a release (the upgrade procedures' commands)
    upgrade: UpgradeSpec = UpgradeSpec()
    # ``alerts``: the cloud's Alertmanager, Prometheus and alerting rules, for the alert steps
    alerts: AlertsSpec = AlertsSpec()

    @property
    def profile(self) -> str:
        """The deployment profile's name (``packages`` unless the inventory names one)."""
        return self.profile_spec.name

    def with_role(self, role: str) -> list[HostSpec]:
        """Hosts carrying ``role``, sorted by name."""
        if role not in ROLES:
            raise InvalidValue(f"unknown role {role!r} (known: {', '.join(ROLES)})")
        return sorted(
            (spec for spec in self.hosts.values() if role in spec.roles),
            key=lambda spec: spec.name,
        )

    def host(self, name: str) -> HostSpec:
        try:
            return self.hosts[name]
        except KeyError:
            known = ", ".join(sorted(self.hosts))
            raise InventoryError(
                f"{self.path}: hosts: no host named {name!r} (known: {known})"
            ) from None

    def service(self, name: str) -> ServiceSpec:
        """How ``name`` runs here; unlisted services are systemd units of the same name."""
        spec = self.services.get(name)
        if spec is not None:
            return spec
        return ServiceSpec(name=name, unit=name, container=None, runtime=None)
