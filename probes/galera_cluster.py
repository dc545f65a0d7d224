"""Each Galera node's own view of its cluster, on every host of the inventory's ``galera``
cluster (``clusters: {galera: [...]}``); a cloud without one has nothing to observe here.

Per node, read by :mod:`stackdrill.hostkit.galera`: ``galera:mysqld`` (``up``, ``stopped``,
``down``, ``no answer``), the status variables under their own names
(``galera:wsrep_cluster_size``, ``galera:wsrep_cluster_status``,
``galera:wsrep_local_state_comment``, ``galera:wsrep_ready``, ``galera:wsrep_last_committed``;
``unknown`` while mysqld does not answer), and the saved state ``galera:grastate/seqno`` and
``galera:grastate/safe_to_bootstrap`` (``absent`` without the file, ``unknown`` when it cannot
be read; while mysqld runs the seqno is -1). ``wsrep_last_committed`` grows with every write,
so it is ignored in comparisons by default.
"""

from __future__ import annotations

from typing import Any

from stackdrill.api import Probe, ProbeOutput
from stackdrill.hostkit.galera import (
    CLUSTER,
    WSREP_VARIABLES,
    GaleraNode,
    GraState,
    node_command,
    parse_node,
)
from stackdrill.hosts.target import Target

UNKNOWN = "unknown"


class GaleraCluster(Probe):
    """On each host of the inventory's ``galera`` cluster: ``galera:mysqld`` (``up``,
    ``stopped``, ``down``, ``no answer``); ``galera:wsrep_cluster_size``,
    ``galera:wsrep_cluster_status``, ``galera:wsrep_local_state_comment``, ``galera:wsrep_ready``
    and ``galera:wsrep_last_committed`` as MariaDB prints them (``unknown`` while mysqld does not
    answer); ``galera:grastate/seqno`` and ``galera:grastate/safe_to_bootstrap`` from
    ``grastate.dat`` (-1 and false while mysqld runs; ``absent``, or ``unknown`` when it cannot
    be read). A node whose mysqld does not answer, a size below the cluster's members, a
    component that is not ``Primary``, a node not ``Synced`` or not ready rule out a healthy
    start."""

    name = "galera_cluster"
    description = ("each Galera node: mysqld answering, wsrep cluster size, status, local state, "
                   "ready, last committed; grastate.dat seqno and safe_to_bootstrap")
    rules = ("host:*/galera:wsrep_last_committed ignore",)

    def __init__(self) -> None:
        # the inventory's member count, the same for every host of a run
        self._members: int | None = None

    def applies_to(self, target: Target) -> bool:
        return target.name in target.inventory.clusters.get(CLUSTER, ())

    def command(self, target: Target) -> str:
        return node_command(target)

    def parse(self, target: Target, output: ProbeOutput) -> dict[str, Any]:
        self._members = len(target.inventory.clusters.get(CLUSTER, ()))
        node = parse_node(target.name, output.require_ok(), output.stderr)
        return {"galera:mysqld": node.mysqld, **_status(node), **_grastate(node.grastate)}

    def problems(self, values: dict[str, Any]) -> list[str]:
        mysqld = values.get("galera:mysqld")
        if mysqld != "up":
            return [f"mysqld is {mysqld}"]
        found = []
        size = values.get("galera:wsrep_cluster_size")
        if self._members is not None and (not isinstance(size, int) or size < self._members):
            found.append(f"wsrep_cluster_size is {size}, below the {self._members} members "
                         f"of the {CLUSTER} cluster")
        for name, healthy in (("wsrep_cluster_status", "Primary"),
                              ("wsrep_local_state_comment", "Synced"), ("wsrep_ready", "ON")):
            seen = values.get(f"galera:{name}")
            if seen != healthy:
                found.append(f"{name} is {seen}, not {healthy}")
        return found


def _status(node: GaleraNode) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in WSREP_VARIABLES:
        seen = node.variable(name) if node.mysqld == "up" else None
        values[f"galera:{name}"] = UNKNOWN if seen is None else seen
    return values


def _grastate(state: GraState) -> dict[str, Any]:
    if state.state != "read":
        shown = "absent" if state.state == "absent" else UNKNOWN
        return {"galera:grastate/seqno": shown, "galera:grastate/safe_to_bootstrap": shown}
    return {"galera:grastate/seqno": UNKNOWN if state.seqno is None else state.seqno,
            "galera:grastate/safe_to_bootstrap": (UNKNOWN if state.safe_to_bootstrap is None
                                                  else state.safe_to_bootstrap)}
