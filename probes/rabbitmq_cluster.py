"""The RabbitMQ cluster of the inventory's ``rabbitmq`` cluster (``clusters: {rabbitmq:
[...]}``) as one of its members sees it: the members asked in the inventory's order, the first
whose node answers is read (:mod:`stackdrill.hostkit.rabbitmq`), and
``cloud/rabbitmq:answered_by`` names it. A member that does not answer is passed over: a
paused minority (``pause_minority`` stops its ``rabbit`` app; ``rabbitmqctl`` then refuses),
a node that is down, a host that cannot be reached. When none answers the probe fails, naming
each member's reason, and its values are unknown. A cloud without such a cluster yields nothing.

Values: ``rabbitmq:members`` (the cluster's disc and RAM nodes), for each member
``rabbitmq:node:<node>/running`` and ``rabbitmq:node:<node>/partitioned_from`` (the peers a
running node cannot reach; ``unknown`` for a node that does not run), and for each quorum
queue ``rabbitmq:queue:<name>/leader`` (empty when its leader does not run),
``/leader_running`` (its leader is one of its online members), ``/members`` and ``/online``
(its members on the running nodes; a queue of a virtual host other than ``/`` is named
``<vhost>:<name>``). Leaders move when a node
goes and do not move back: a drill that takes a node down tolerates
``cloud/rabbitmq:queue:*/leader ignore`` once it has seen the move, and ``leader_running`` still
says that each queue has one. The queues oslo.messaging names after a process (``reply_<id>``,
``<topic>_fanout_<id>``) come and go with the processes, so they are ignored in comparisons by
default.
"""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

from stackdrill.api import CloudContext, CloudProbe, HostError, ProbeFailed, Target, Targets
from stackdrill.hostkit.rabbitmq import (
    CLUSTER,
    TIMEOUT,
    ClusterView,
    QuorumQueue,
    parse_status,
    refusal,
    status_command,
)

UNKNOWN = "unknown"
#: Seconds the members may take together before the probe gives up on them.
DEADLINE = 2 * TIMEOUT + 10


class RabbitmqCluster(CloudProbe):
    """The inventory's ``rabbitmq`` cluster, read on the first member whose node answers
    (``rabbitmq:answered_by``; a paused minority, a node down or a host unreachable is passed
    over): ``rabbitmq:members``, ``rabbitmq:node:<node>/running`` and
    ``rabbitmq:node:<node>/partitioned_from``, and for each quorum queue
    ``rabbitmq:queue:<name>/leader``, ``/leader_running``, ``/members`` and ``/online``. Fewer
    nodes running than members, a partition, a quorum queue without a running leader or with
    fewer members online than a majority rule out a healthy start."""

    name = "rabbitmq_cluster"
    description = ("RabbitMQ's running nodes, partitions, and each quorum queue's members, "
                   "online members and leader, read on the first member that answers")
    rules: ClassVar[tuple[str, ...]] = ("cloud/rabbitmq:queue:*reply_* ignore",
                                        "cloud/rabbitmq:queue:*_fanout_* ignore")

    def __init__(self) -> None:
        # the virtual hosts, listed on the drill's first observation (one rabbitmqctl less in
        # every later one); forgotten when an observation fails
        self._vhosts: list[str] | None = None
        self._lock = threading.Lock()

    def observe_cloud(self, context: CloudContext) -> dict[str, Any]:
        with self._lock:
            known = self._vhosts
        try:
            values, vhosts = observe_cluster(context.targets, known)
        except ProbeFailed:
            with self._lock:
                self._vhosts = None
            raise
        with self._lock:
            self._vhosts = vhosts
        return values

    def problems(self, values: dict[str, Any]) -> list[str]:
        found = []
        members = values.get("rabbitmq:members", [])
        running = [path.split("/")[0].removeprefix("rabbitmq:node:")
                   for path, up in sorted(values.items()) if path.endswith("/running") and up]
        if len(running) < len(members):
            found.append(f"{len(running)} of {len(members)} RabbitMQ members running "
                         f"(as {values.get('rabbitmq:answered_by')} sees it)")
        for path, peers in sorted(values.items()):
            if path.endswith("/partitioned_from") and isinstance(peers, list) and peers:
                node = path.split("/")[0].removeprefix("rabbitmq:node:")
                found.append(f"partition: {node} cannot reach {', '.join(peers)}")
        found += _queue_problems(values)
        return found


def observe_cluster(targets: Targets, vhosts: list[str] | None = None
                    ) -> tuple[dict[str, Any], list[str] | None]:
    """The probe's values, read on the first member of the inventory's ``rabbitmq`` cluster that
    answers (every virtual host's queues, or those of ``vhosts``), and the virtual hosts read;
    nothing for an inventory without that cluster. :class:`ProbeFailed` naming each member's
    reason when none answers."""
    members = targets.inventory.clusters.get(CLUSTER, ())
    reasons = []
    deadline = time.monotonic() + DEADLINE
    for host in members:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            reasons.append(f"{host}: not asked, out of time")
            continue
        try:
            view, listed, queues = _read(targets.get(host), remaining, vhosts)
        except HostError as exc:
            reasons.append(str(exc))
            continue
        return ({"rabbitmq:answered_by": host, **_cluster_values(view),
                 **_queue_values(queues)}, listed)
    if reasons:
        raise ProbeFailed(f"no member of the {CLUSTER} cluster answered: {'; '.join(reasons)}")
    return {}, vhosts


def _read(target: Target, timeout: float, vhosts: list[str] | None
          ) -> tuple[ClusterView, list[str], list[QuorumQueue]]:
    """One member's view and quorum queues (the virtual hosts listed first when not known); a
    :class:`HostError` saying why it did not answer."""
    result = target.run(status_command(target, vhosts), timeout=timeout, record=False)
    if not result.ok:
        raise HostError(f"{target.name}: "
                        f"{refusal(result.exit_status, result.stdout, result.stderr)}")
    view, listed, queues = parse_status(target.name, result.stdout)
    if listed is None:
        return view, list(vhosts or []), queues
    return _read(target, timeout, listed)


def _cluster_values(view: ClusterView) -> dict[str, Any]:
    values: dict[str, Any] = {"rabbitmq:members": list(view.members)}
    for node in sorted({*view.members, *view.running}):
        running = node in view.running
        values[f"rabbitmq:node:{node}/running"] = running
        values[f"rabbitmq:node:{node}/partitioned_from"] = (
            view.partitions.get(node, []) if running else UNKNOWN)
    return values


def _queue_values(queues: list[QuorumQueue]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for queue in queues:
        named = queue.name if queue.vhost == "/" else f"{queue.vhost}:{queue.name}"
        key = f"rabbitmq:queue:{named}"
        values[f"{key}/leader"] = queue.leader
        values[f"{key}/leader_running"] = bool(queue.leader) and queue.leader in queue.online
        values[f"{key}/members"] = list(queue.members)
        values[f"{key}/online"] = list(queue.online)
    return values


def _queue_problems(values: dict[str, Any]) -> list[str]:
    found = []
    for path, running in sorted(values.items()):
        if not (path.startswith("rabbitmq:queue:") and path.endswith("/leader_running")):
            continue
        key = path.removesuffix("/leader_running")
        queue = key.removeprefix("rabbitmq:queue:")
        online = values.get(f"{key}/online", [])
        members = values.get(f"{key}/members", [])
        if not running:
            found.append(f"quorum queue {queue} has no leader running")
        if len(online) < len(members) // 2 + 1:
            found.append(f"quorum queue {queue}: {len(online)} of {len(members)} members "
                         f"online, fewer than a majority")
    return found
