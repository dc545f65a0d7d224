"""The members of a cluster the inventory names (``clusters:``), as targets a fault or a
recovery acts on: Galera's, RabbitMQ's."""

from __future__ import annotations

from stackdrill.core.errors import ActionFailed, InvalidValue
from stackdrill.hostkit import peers
from stackdrill.hosts.target import Target
from stackdrill.inventory.model import Inventory


class NoSuchCluster(ActionFailed):
    """The inventory names no such cluster, or one without a host."""


def member_names(inventory: Inventory, cluster: str) -> list[str]:
    """The hosts of ``cluster``, sorted by name; :class:`NoSuchCluster` when the inventory's
    ``clusters:`` has no such cluster (or only unknown hosts in it)."""
    try:
        return [spec.name for spec in peers.resolve(inventory, [f"cluster:{cluster}"])]
    except InvalidValue as exc:
        raise NoSuchCluster(f"{inventory.path}: clusters: {exc}") from None


def members(target: Target, cluster: str) -> list[Target]:
    """The targets of ``cluster``'s hosts, reached from ``target`` (itself among them or not)."""
    return [target.peer(name) for name in member_names(target.inventory, cluster)]
