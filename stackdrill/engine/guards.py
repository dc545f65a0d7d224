"""Blast-radius guards: which hosts a drill may break, how many at once, and on which cloud.

* A host listed in the inventory's ``protected`` is never touched by a fault or a recovery.
* Role limits: at most one host of each role (controller, compute, storage, ...) has an active
  fault at a time. A feature raises a limit explicitly with a tag, ``@allow_down_compute_2``.
* Quorum: the inventory's ``clusters`` name each clustered service's member hosts (Galera,
  RabbitMQ, ...). Faults may be active on fewer than half of a cluster's members at once (one of
  three, two of five; none of two), so it keeps its quorum. A feature that means to break the
  quorum says so with the same tag and the cluster's name, ``@allow_down_galera_2``.
* Cut peers: a fault that cuts its host off from peers (a partition) counts as taking the
  peers' side down too: the peers it cuts off are counted as under the fault for the protected
  hosts, the role limits and the quorum, while it lasts. Isolating a controller from every
  compute puts every compute under it (``@allow_down_compute_<n>``); cutting a cluster member off
  from the others counts them all, conservatively, though one side may keep its quorum.
* Production: an inventory with ``production: true`` refuses every scenario that changes the
  cloud unless the run is confirmed with ``--confirm <cloud>``, where ``<cloud>`` is the
  inventory's ``cloud`` value. A scenario changes the cloud if it is a ``@drill``, if a step
  names a fault, a recovery or a procedure (a recovery formats disks, edits databases,
  rebalances rings and reboots hosts as surely as a fault breaks them), or if a step's
  definition is marked with :func:`changes_the_cloud` (it creates the canary workload, writes
  to volumes, ...). A scenario of verification steps only is not refused. The drill refuses
  each fault and recovery again, in case a step reaches one some other way.

Every refusal is one line; nothing is journalled or injected after a refusal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from stackdrill.core.errors import InvalidValue
from stackdrill.inventory.model import ROLES, Inventory

__all__ = [
    "CHANGES_THE_CLOUD",
    "DEFAULT_ROLE_LIMIT",
    "LIMIT_MARK",
    "LIMIT_TAG_PREFIX",
    "Guards",
    "HostLike",
    "changes_the_cloud",
    "limits_from_tags",
    "marked_as_changing",
    "parse_limit_tag",
    "unknown_limit_names",
]

DEFAULT_ROLE_LIMIT = 1
LIMIT_TAG_PREFIX = "allow_down"
LIMIT_MARK = "allow_down"
_LIMIT_TAG = re.compile(r"allow_down_(?P<name>[A-Za-z][\w.-]*)_(?P<count>\d+)")
CHANGES_THE_CLOUD = "stackdrill_changes_the_cloud"

F = TypeVar("F", bound=Callable[..., Any])


def changes_the_cloud(step: F) -> F:
    """Marks a step definition that changes the cloud (it creates, writes, breaks or repairs
    something): on a production inventory, a scenario with such a step needs ``--confirm``.
    Steps that name a fault, a recovery or a procedure count without the mark."""
    setattr(step, CHANGES_THE_CLOUD, True)
    return step


def marked_as_changing(step: Callable[..., Any]) -> bool:
    return getattr(step, CHANGES_THE_CLOUD, False) is True


class HostLike(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def roles(self) -> tuple[str, ...]: ...


def parse_limit_tag(tag: str) -> tuple[str, int] | None:
    """``allow_down_compute_2`` -> ``("compute", 2)``; None for tags that are not limits. The
    name is a role or a cluster of the inventory (:func:`unknown_limit_names` checks which).

    Raises InvalidValue (one line) for a malformed limit tag.
    """
    if not tag.startswith(LIMIT_TAG_PREFIX):
        return None
    match = _LIMIT_TAG.fullmatch(tag)
    if match is None:
        raise InvalidValue(f"tag @{tag}: expected @allow_down_<role>_<count> or "
                           f"@allow_down_<cluster>_<count>, e.g. @allow_down_compute_2")
    role, count = match["name"], int(match["count"])
    if count < 1:
        raise InvalidValue(f"tag @{tag}: the count must be at least 1")
    return role, count


def limits_from_tags(tags: Iterable[str]) -> dict[str, int]:
    """Role limits raised by a scenario's tags (feature and scenario tags together)."""
    limits: dict[str, int] = {}
    for tag in tags:
        parsed = parse_limit_tag(tag)
        if parsed is not None:
            role, count = parsed
            limits[role] = max(count, limits.get(role, 0))
    return limits


def unknown_limit_names(limits: Mapping[str, int], inventory: Inventory) -> str | None:
    """Why a raised limit names neither a role nor a cluster of ``inventory``, or None."""
    for name in sorted(limits):
        if name not in ROLES and name not in inventory.clusters:
            clusters = ", ".join(sorted(inventory.clusters)) or "none"
            return (f"tag @{LIMIT_TAG_PREFIX}_{name}_{limits[name]}: no role or cluster named "
                    f"{name!r} (roles: {', '.join(ROLES)}; clusters in {inventory.path}: "
                    f"{clusters})")
    return None


def _empty() -> Mapping[str, int]:
    return MappingProxyType({})


def _no_clusters() -> Mapping[str, frozenset[str]]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Guards:
    protected: frozenset[str] = frozenset()
    limits: Mapping[str, int] = field(default_factory=_empty)
    production: bool = False
    cloud: str | None = None
    confirm: str | None = None
    source: str = "the inventory"
    clusters: Mapping[str, frozenset[str]] = field(default_factory=_no_clusters)

    @classmethod
    def for_inventory(cls, inventory: Inventory | None, limits: Mapping[str, int] | None = None,
                      confirm: str | None = None) -> Guards:
        raised = MappingProxyType(dict(limits or {}))
        if inventory is None:
            return cls(limits=raised, confirm=confirm)
        declared: Mapping[str, tuple[str, ...]] = getattr(inventory, "clusters", {})
        clusters = MappingProxyType({name: frozenset(members)
                                     for name, members in declared.items()})
        return cls(protected=inventory.protected, limits=raised,
                   production=inventory.production, cloud=inventory.cloud, confirm=confirm,
                   source=str(inventory.path), clusters=clusters)

    def limit(self, role: str) -> int:
        return self.limits.get(role, DEFAULT_ROLE_LIMIT)

    def cluster_limit(self, cluster: str) -> int:
        """Members that may be under faults at once: fewer than half, unless raised."""
        return self.limits.get(cluster, (len(self.clusters[cluster]) - 1) // 2)

    def production_refusal(self) -> str | None:
        """Why nothing may change this cloud at all (no fault, no recovery), or None."""
        if self.confirm is not None and self.confirm != self.cloud:
            cloud = repr(self.cloud) if self.cloud else "no name"
            return (f"--confirm {self.confirm!r} does not match the cloud of {self.source} "
                    f"({cloud}); nothing injected")
        if not self.production:
            return None
        if self.cloud is None:
            return (f"{self.source} is a production inventory without a cloud name; set "
                    f"'cloud' to allow confirmed drills; nothing injected")
        if self.confirm != self.cloud:
            return (f"production cloud {self.cloud!r} ({self.source}): destructive drills need "
                    f"--confirm {self.cloud}; nothing injected")
        return None

    def fault_refusal(self, fault: str, host: HostLike, active: Sequence[HostLike],
                      cut_off: Sequence[HostLike] = ()) -> str | None:
        """Why ``fault`` may not be injected on ``host`` while faults are active on ``active``
        (hosts with a fault not yet undone, the peers active partitions cut off among them),
        or None if it may. ``cut_off`` are the peers this fault cuts ``host`` off from (a
        partition): they count as under the fault, as ``host`` does, for the protected hosts,
        the role limits and the quorum."""
        reason = self.production_refusal()
        if reason is not None:
            return reason
        if host.name in self.protected:
            return f"fault {fault} refused: {host.name} is protected in {self.source}"
        peers = [peer for peer in cut_off if peer.name != host.name]
        shielded = sorted(peer.name for peer in peers if peer.name in self.protected)
        if shielded:
            return (f"fault {fault} refused: it would cut {host.name} off from "
                    f"{', '.join(shielded)}, protected in {self.source}")
        hit = [host, *peers]
        for role in dict.fromkeys(role for h in hit for role in h.roles):
            down = sorted({h.name for h in [*active, *hit] if role in h.roles})
            limit = self.limit(role)
            if len(down) > limit:
                return (f"fault {fault} refused: it would put {len(down)} {role} hosts under "
                        f"faults at once ({', '.join(down)}{_cut(peers, down, host)}), the "
                        f"limit is {limit}; a feature may raise it with "
                        f"@{LIMIT_TAG_PREFIX}_{role}_{len(down)}")
        return self._quorum_refusal(fault, host, active, peers)

    def _quorum_refusal(self, fault: str, host: HostLike, active: Sequence[HostLike],
                        peers: Sequence[HostLike] = ()) -> str | None:
        hit = [host, *peers]
        for cluster, members in sorted(self.clusters.items()):
            if not any(h.name in members for h in hit):
                continue
            down = sorted({h.name for h in [*active, *hit] if h.name in members})
            limit = self.cluster_limit(cluster)
            if len(down) > limit:
                return (f"fault {fault} refused: it would put {len(down)} of the {len(members)} "
                        f"members of cluster {cluster} under faults at once "
                        f"({', '.join(down)}{_cut(peers, down, host)}), the limit is {limit} "
                        f"(fewer than half keeps its quorum); a feature that means to break it "
                        f"says @{LIMIT_TAG_PREFIX}_{cluster}_{len(down)}")
        return None

    def recovery_refusal(self, recovery: str, host: HostLike) -> str | None:
        """Why ``recovery`` may not run on ``host``, or None if it may."""
        reason = self.production_refusal()
        if reason is not None:
            return reason
        if host.name in self.protected:
            return f"recovery {recovery} refused: {host.name} is protected in {self.source}"
        return None


def _cut(peers: Sequence[HostLike], down: Sequence[str], host: HostLike) -> str:
    """The part of a refusal that says which of ``down`` count as the peers ``host`` is cut
    off from."""
    cut = [name for name in down if any(peer.name == name for peer in peers)]
    return f"; {', '.join(cut)} cut off from {host.name}" if cut else ""
