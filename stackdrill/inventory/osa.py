"""OpenStack-Ansible's own inventory as a stackdrill inventory of its physical hosts.

OpenStack-Ansible generates ``/etc/openstack_deploy/openstack_inventory.json`` (the dynamic
inventory's JSON: groups with list-valued ``hosts`` and ``children``, host variables under
``_meta.hostvars``) from the operator's ``openstack_user_config.yml`` and ``conf.d/*.yml``
(``shared-infra_hosts:``, ``compute_hosts:``, ``storage_hosts:``, ... each mapping host names to
``ip:``). Every LXC container is a host of that inventory (``infra1-galera-container-3ea2f8c1``,
``infra1_galera_container-3ea2f8c1`` in older deployments) whose ``physical_host``
names the host it runs on; a service on metal (``is_metal``) lists the physical host itself in
its component group (``nova_compute``: ``compute1``) and runs as a systemd unit there.

stackdrill drills the physical hosts:

* the hosts are the physical hosts of either file; a host's address is its ``ip`` in
  openstack_user_config.yml, else its ``ansible_host`` (then ``management_address``,
  ``container_address``);
* a host's roles come from its physical groups (``shared-infra_hosts``: controller,
  ``compute_hosts``: compute, ``storage_hosts``: block-storage, ...) and from the component groups
  of its containers and of the services on its metal (``galera_all``: database, ``rabbitmq_all``:
  messaging);
* ``services`` says where this deployment places a service otherwise than the profile does: a
  service the profile puts in an LXC container that runs on metal here becomes the profile's unit
  on the host (``{unit: ovn-northd}``), one the profile puts on metal that runs in containers here
  becomes a unit in that container group (``{container: cinder_volumes_container, runtime:
  lxc}``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackdrill.inventory.ansible_files import (
    AnsibleInventory,
    InventoryImportError,
    load_yaml,
    read_text,
)
from stackdrill.inventory.import_roles import (
    Conversion,
    derive_clusters,
    host_entry,
    roles_of,
)
from stackdrill.inventory.profiles import Placement, Profile, ProfileError, load_profile

__all__ = [
    "OSA_COMPONENTS",
    "USER_CONFIG",
    "UserConfig",
    "convert_osa",
    "is_openstack_ansible",
    "read_user_config",
    "user_config_beside",
]

USER_CONFIG = "openstack_user_config.yml"

# stackdrill service -> the OpenStack-Ansible component group whose hosts run it (env.d's
# component_skel): its members are containers, or physical hosts where it runs on metal
OSA_COMPONENTS: Mapping[str, str] = {
    "mariadb": "galera", "rabbitmq": "rabbitmq", "memcached": "memcached",
    "keystone": "keystone", "placement-api": "placement_api", "glance-api": "glance_api",
    "nova-api": "nova_api_os_compute", "nova-conductor": "nova_conductor",
    "nova-scheduler": "nova_scheduler", "nova-novncproxy": "nova_console",
    "nova-compute": "nova_compute", "cinder-api": "cinder_api",
    "cinder-scheduler": "cinder_scheduler", "cinder-volume": "cinder_volume",
    "neutron-api": "neutron_server", "neutron-server": "neutron_server",
    "ovn-northd": "neutron_ovn_northd", "ovn-controller": "neutron_ovn_controller",
}
_ADDRESS_VARS = ("ansible_host", "management_address", "container_address")


@dataclass(frozen=True)
class UserConfig:
    """The hosts of ``openstack_user_config.yml`` (with ``conf.d/*.yml``): each host's ``ip``
    and ``host_vars``, and the physical groups that list it."""

    source: str
    ips: Mapping[str, str] = field(default_factory=dict)
    host_vars: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    groups: Mapping[str, list[str]] = field(default_factory=dict)


def is_openstack_ansible(inventory: AnsibleInventory) -> bool:
    """Whether the inventory is OpenStack-Ansible's: its hosts carry ``physical_host`` and
    ``container_name``."""
    return any("physical_host" in v and "container_name" in v
               for v in inventory.own_vars().values())


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """``extra`` merged into ``base``, mappings key by key, as OpenStack-Ansible merges
    ``conf.d``."""
    for key, value in extra.items():
        current = base.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            _merge(current, value)
        else:
            base[key] = dict(value) if isinstance(value, Mapping) else value


def _config_files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    main = path / USER_CONFIG
    if not main.is_file():
        raise InventoryImportError(f"{path}: no {USER_CONFIG} in this directory")
    extra = path / "conf.d"
    return [main, *sorted(extra.glob("*.yml")), *sorted(extra.glob("*.yaml"))] \
        if extra.is_dir() else [main]


def read_user_config(path: Path) -> UserConfig:
    """``path``: openstack_user_config.yml, or the directory holding it (and ``conf.d/``)."""
    merged: dict[str, Any] = {}
    files = _config_files(path)
    for file in files:
        data = load_yaml(read_text(file, f"{USER_CONFIG} or its directory"), file)
        if data is None:
            continue
        if not isinstance(data, Mapping):
            raise InventoryImportError(f"{file}: expected a YAML mapping (such as "
                                       f"shared-infra_hosts: {{infra1: {{ip: ...}}}})")
        _merge(merged, data)
    ips: dict[str, str] = {}
    host_vars: dict[str, dict[str, Any]] = {}
    groups: dict[str, list[str]] = {}
    for group, hosts in merged.items():
        if not str(group).endswith("_hosts") or hosts is None:
            continue
        if not isinstance(hosts, Mapping):
            raise InventoryImportError(f"{path}: {group}: expected a mapping of host names")
        for host, entry in hosts.items():
            where = f"{path}: {group}.{host}"
            ip = entry.get("ip") if isinstance(entry, Mapping) else None
            if not isinstance(ip, str) or not ip.strip():
                raise InventoryImportError(f"{where}: expected ip: <the host's address>")
            extra = entry.get("host_vars") or {}
            if not isinstance(extra, Mapping):
                raise InventoryImportError(f"{where}.host_vars: expected a mapping")
            ips[str(host)] = ip.strip()
            host_vars.setdefault(str(host), {}).update(extra)
            groups.setdefault(str(host), []).append(str(group))
    return UserConfig(", ".join(str(file) for file in files), ips, host_vars, groups)


def _physical(name: str, own: Mapping[str, Any]) -> str:
    parent = own.get("physical_host")
    return parent if isinstance(parent, str) and parent else name


def _address(host: str, host_vars: Mapping[str, Any], config: UserConfig) -> str:
    if host in config.ips:
        return config.ips[host]
    for key in _ADDRESS_VARS:
        value = host_vars.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return host


@dataclass(frozen=True)
class _Layout:
    """The inventory's hosts, each with the physical host it runs on (itself for a physical
    host), and each physical host with every group it or its containers are in."""

    inventory: AnsibleInventory
    own: Mapping[str, Mapping[str, Any]]
    parent: Mapping[str, str]
    groups: Mapping[str, set[str]]

    @classmethod
    def of(cls, inventory: AnsibleInventory, config: UserConfig) -> _Layout:
        own = inventory.own_vars()
        parent = {name: _physical(name, host_vars) for name, host_vars in own.items()}
        groups: dict[str, set[str]] = {host: set() for host in (*parent.values(), *config.ips)}
        for name in own:
            groups[parent[name]].update(inventory.groups_of(name))
        for host, names in config.groups.items():
            groups[host].update(names)
        return cls(inventory, own, parent, groups)

    def on_metal(self, name: str) -> bool:
        return self.parent.get(name, name) == name

    def container_group(self, container: str) -> str:
        """The container group (env.d's container_skel, ``galera_container``) of
        ``container``."""
        for name, group in self.inventory.groups.items():
            if name.endswith("_container") and container in group.hosts:
                return name
        stem = re.sub(r"-[0-9a-f]{8}$", "", container)
        host = self.parent.get(container, "")
        return stem[len(host) + 1:].replace("-", "_") if stem.startswith(host) else stem


def _hosts(layout: _Layout, config: UserConfig, source: str
           ) -> tuple[dict[str, Any], list[str]]:
    hosts: dict[str, Any] = {}
    skipped: list[str] = []
    every = layout.inventory.groups.get("all")
    for host in sorted(layout.groups):
        roles = roles_of(layout.groups[host])
        if not roles:
            skipped.append(host)
            continue
        if host in layout.own:
            host_vars = layout.inventory.merged_vars(layout.inventory.groups_of(host),
                                                     layout.own[host])
        else:
            host_vars = dict(every.vars) if every is not None else {}
        host_vars.update(config.host_vars.get(host, {}))
        hosts[host] = host_entry(host, roles, host_vars, source,
                                 _address(host, host_vars, config))
    return hosts, skipped


def _placement_of(profile: Profile, service: str) -> Placement | None:
    try:
        return profile.placement(service)
    except ProfileError:
        return None  # a profile whose variant depends on the host: nothing to compare


def _service(layout: _Layout, profile: Profile, service: str, component: str
             ) -> tuple[dict[str, str] | None, str | None]:
    """The ``services`` entry ``service`` needs here, or a note why it cannot have one."""
    members = layout.inventory.members(component)
    placement = _placement_of(profile, service)
    if not members or placement is None:
        return None, None
    metal = sorted({m for m in members if layout.on_metal(m)})
    boxed = [m for m in members if not layout.on_metal(m)]
    if metal and boxed:
        inside = sorted({layout.parent[m] for m in boxed})
        return None, (f"{service} runs on metal on {', '.join(metal)} and in LXC containers on "
                      f"{', '.join(inside)}: left as profile {profile.name} places it "
                      f"({placement.describe()})")
    if metal:
        if placement.kind == "systemd":
            return None, None
        return {"unit": str(placement.unit or service)}, None
    group = layout.container_group(boxed[0])
    if placement.kind == "lxc" and placement.container == group:
        return None, None
    if (placement.unit or service) != service:
        return None, (f"{service} runs in the LXC containers of {group} as unit "
                      f"{placement.unit}, which a services entry cannot name: declare it in a "
                      f"profile of your own ({{lxc: {group}, unit: {placement.unit}}})")
    return {"container": group, "runtime": "lxc"}, None


def _services(layout: _Layout, profile: Profile) -> tuple[dict[str, Any], list[str]]:
    services: dict[str, Any] = {}
    notes: list[str] = []
    for service, component in OSA_COMPONENTS.items():
        entry, note = _service(layout, profile, service, component)
        if entry is not None:
            services[service] = entry
        if note is not None:
            notes.append(note)
    return services, notes


def convert_osa(inventory: AnsibleInventory, config: UserConfig | None, *, profile: str,
                profile_dirs: Sequence[Path] = (), source: str) -> Conversion:
    """The stackdrill inventory of an OpenStack-Ansible deployment (see the module's text)."""
    config = config if config is not None else UserConfig("")
    layout = _Layout.of(inventory, config)
    hosts, skipped = _hosts(layout, config, source)
    if not hosts:
        raise InventoryImportError(f"{source}: no physical host is in a group stackdrill maps "
                                   f"to a role (such as shared-infra_hosts, compute_hosts, "
                                   f"storage_hosts)")
    services, notes = _services(layout, load_profile(profile, profile_dirs))
    data: dict[str, Any] = {"profile": profile, "production": False, "hosts": hosts}
    if services:
        data["services"] = services
    clusters = derive_clusters(hosts)
    if clusters:
        data["clusters"] = clusters
    sources = (source, config.source) if config.source else (source,)
    return Conversion(data, skipped, sources, notes)


def user_config_beside(inventory_path: Path) -> Path | None:
    """The directory of ``inventory_path`` when it holds openstack_user_config.yml (as
    /etc/openstack_deploy does), else None."""
    return inventory_path.parent if (inventory_path.parent / USER_CONFIG).is_file() else None
