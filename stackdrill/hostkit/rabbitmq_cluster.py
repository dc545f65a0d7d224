"""A RabbitMQ cluster as a whole, from each member's own view
(:mod:`stackdrill.hostkit.rabbitmq`): whether it is whole (every member answers, each sees
every member running, none reports a partition).

After the whole cluster stopped, RabbitMQ's clustering guide says to start its members
together: a node that was not the last to stop waits at boot (up to
``mnesia_table_loading_retry_limit`` times ``mnesia_table_loading_retry_timeout``, 10 x 30 s
by default) for the peers it last saw, so a start that waits for its node to boot (``systemctl
start`` of a notify unit) blocks until they come. A member paused by ``pause_minority`` runs its
Erlang node with the ``rabbit`` application stopped, and does not answer until the partition
heals.
"""

from __future__ import annotations

from collections.abc import Mapping

from stackdrill.hostkit.rabbitmq import ClusterView, parse_cluster_status, refusal, status_command
from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import Target

CLUSTER_STATUS = "rabbitmqctl -q cluster_status --formatter json"
"""What an operator reads on each member (the waits read it with :func:`member_view`)."""


def member_view(target: Target, timeout: float) -> ClusterView | str:
    """``target``'s view of its cluster, or why it does not answer (a paused minority, a node
    that is down, no answer in time)."""
    try:
        result = target.run(status_command(target), timeout=timeout, record=False)
    except HostError as exc:
        return str(exc)
    if not result.ok:
        return refusal(result.exit_status, result.stdout, result.stderr)
    try:
        return parse_cluster_status(target.name, result.stdout)[0]
    except HostError as exc:
        return str(exc)


def cluster_problems(views: Mapping[str, ClusterView | str], members: int) -> list[str]:
    """What keeps the cluster from being whole, one line each; empty when every member
    answers, each sees ``members`` nodes running, all the same, and none reports a partition."""
    problems = []
    seen = set()
    for host, view in sorted(views.items()):
        if isinstance(view, str):
            problems.append(f"{host}: RabbitMQ does not answer: {view}")
            continue
        seen.add(view.running)
        if len(view.running) != members:
            problems.append(f"{host}: {len(view.running)} of {members} nodes running "
                            f"({', '.join(view.running) or 'none'})")
        problems += [f"{host}: partition: {node} cannot reach {', '.join(peers)}"
                     for node, peers in sorted(view.partitions.items()) if peers]
    if len(seen) > 1:
        problems.append("the members report different running nodes: "
                        + " / ".join(", ".join(nodes) for nodes in sorted(seen)))
    return problems


def describe_member(host: str, view: ClusterView | str) -> str:
    """One member's view in a line, for the evidence."""
    if isinstance(view, str):
        return f"{host}: RabbitMQ does not answer: {view}"
    partitions = "; ".join(f"{node} cannot reach {', '.join(peers)}"
                           for node, peers in sorted(view.partitions.items()) if peers)
    return (f"{host}: running {', '.join(view.running) or 'none'}; partitions: "
            f"{partitions or 'none'}")
