"""What an imported Ansible inventory's groups mean to stackdrill: the role each group gives its
hosts, the ``ssh`` settings its connection variables give, and the clusters its database and
messaging groups form (the quorum guard's ``clusters:``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stackdrill.inventory.ansible_files import InventoryImportError
from stackdrill.inventory.model import ROLES

__all__ = [
    "CLUSTER_ROLES",
    "GROUP_ROLES",
    "Conversion",
    "derive_clusters",
    "group_role",
    "host_entry",
    "roles_of",
]

# Ansible group name -> stackdrill role. kolla-ansible: control, network, compute, storage and
# its service groups; OpenStack-Ansible: the physical *_hosts groups of openstack_user_config.yml
# and the component groups of its generated inventory (galera_all, rabbitmq_all, nova_compute,
# cinder_volume); DevStack multinode and hand-written inventories: the rest. Looked up with '-'
# and '_' alike (OpenStack-Ansible writes both: shared-infra_hosts, network_infra_hosts).
GROUP_ROLES: Mapping[str, str] = {
    "control": "controller", "controller": "controller", "controllers": "controller",
    "shared-infra_hosts": "controller", "infra_hosts": "controller", "os-infra_hosts": "controller",
    "identity_hosts": "controller", "storage-infra_hosts": "controller",
    "compute-infra_hosts": "controller", "image_hosts": "controller",
    "placement-infra_hosts": "controller", "orchestration_hosts": "controller",
    "dashboard_hosts": "controller", "network-infra_hosts": "controller",
    "network-northd_hosts": "controller",
    "compute": "compute", "computes": "compute", "compute_hosts": "compute",
    "kvm-compute_hosts": "compute", "qemu-compute_hosts": "compute", "nova_compute": "compute",
    "subnode": "compute", "subnodes": "compute",
    "network": "network", "network_hosts": "network", "network-agent_hosts": "network",
    "network-gateway_hosts": "network",
    "storage": "storage", "storage_hosts": "block-storage",
    "cinder-volume": "block-storage", "block_storage": "block-storage",
    "database": "database", "galera": "database", "galera_all": "database", "mariadb": "database",
    "database_hosts": "database",
    "messaging": "messaging", "rabbitmq": "messaging", "rabbitmq_all": "messaging",
    "mq_hosts": "messaging",
    "swift_hosts": "object-storage", "object-storage": "object-storage",
}

# role -> the cluster its hosts form when there are several: Galera for the database (MariaDB
# under kolla-ansible and OpenStack-Ansible is a Galera cluster), RabbitMQ for messaging
CLUSTER_ROLES: Mapping[str, str] = {"database": "galera", "messaging": "rabbitmq"}

_ROLE_BY_KEY = {name.replace("-", "_"): role for name, role in GROUP_ROLES.items()}
_SSH_VARS = {"ansible_user": "user", "ansible_ssh_user": "user", "ansible_port": "port",
             "ansible_ssh_port": "port", "ansible_ssh_private_key_file": "key",
             "ansible_private_key_file": "key"}


@dataclass(frozen=True)
class Conversion:
    """The stackdrill inventory an import produced (``data``, not yet written), the hosts it
    left out for want of a role, the files it read, and notes for the operator (one line
    each)."""

    data: dict[str, Any]
    skipped: list[str]
    sources: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)


def group_role(group: str) -> str | None:
    """The role ``group`` gives its hosts, if any."""
    return _ROLE_BY_KEY.get(group.replace("-", "_"))


def roles_of(groups: Iterable[str]) -> list[str]:
    """The roles ``groups`` give, in the inventory's order of roles."""
    given = {group_role(group) for group in groups}
    return [role for role in ROLES if role in given]


def _ssh(host: str, host_vars: Mapping[str, Any], where: str) -> dict[str, Any]:
    ssh: dict[str, Any] = {}
    for var, key in _SSH_VARS.items():
        if var not in host_vars or key in ssh:
            continue
        value = host_vars[var]
        if key == "port":
            try:
                ssh[key] = int(value)
            except (TypeError, ValueError):
                raise InventoryImportError(f"{where}: host {host}: {var}: expected a port "
                                           f"number, got {value!r}") from None
        else:
            ssh[key] = str(value)
    return ssh


def host_entry(host: str, roles: list[str], host_vars: Mapping[str, Any], where: str,
               address: str | None = None) -> dict[str, Any]:
    """A stackdrill host: ``address`` (else ``ansible_host``, else the host's name), the roles,
    and ``ssh`` from the connection variables."""
    if address is None:
        address = str(host_vars.get("ansible_host", host_vars.get("ansible_ssh_host", host)))
    entry: dict[str, Any] = {"address": address, "roles": roles}
    ssh = _ssh(host, host_vars, where)
    if ssh:
        entry["ssh"] = ssh
    return entry


def derive_clusters(hosts: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """The clusters the hosts form: every host with the database role in ``galera``, every host
    with the messaging role in ``rabbitmq``, each only when it holds more than one host (a
    single node has no quorum to keep)."""
    clusters: dict[str, list[str]] = {}
    for role, cluster in CLUSTER_ROLES.items():
        members = sorted(name for name, entry in hosts.items() if role in entry["roles"])
        if len(members) > 1:
            clusters[cluster] = members
    return clusters
