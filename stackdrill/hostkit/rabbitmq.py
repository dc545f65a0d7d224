"""A RabbitMQ cluster as one of its members sees it: ``rabbitmqctl cluster_status`` (the
members, the running nodes, the partitions each running node reports) and, in every virtual
host, the quorum queues of ``rabbitmqctl list_queues`` (their members and the leader), each
with ``--formatter json``, as RabbitMQ 3.10 prints them. A queue's members online are its
members on the running nodes of ``cluster_status``, not ``list_queues``' own ``online``
column: that one asks each member in turn and waits on one cut off by a partition, 16 s per
listing on the lab, so the view would go unknown for as long as the partition lasts.

``rabbitmqctl`` runs where the rabbitmq service runs (``target.service("rabbitmq").inside``),
within :data:`TIMEOUT` seconds. A member whose node cannot answer says why
(:func:`refusal`): its ``rabbit`` app is stopped (what ``pause_minority`` does to a minority;
the node's Erlang VM still runs), its node is down, or it gave no answer in time. In
``cluster_status``, ``partitions`` lists only running nodes that see a partition, so a running
node it leaves out sees none; a node that does not run reports nothing.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import Target

__all__ = [
    "CLUSTER",
    "TIMEOUT",
    "ClusterView",
    "QuorumQueue",
    "parse_cluster_status",
    "parse_queues",
    "parse_status",
    "parse_vhosts",
    "refusal",
    "status_command",
]

#: The inventory's ``clusters:`` name for the RabbitMQ members.
CLUSTER = "rabbitmq"
#: Seconds each ``rabbitmqctl`` may take.
TIMEOUT = 15
_CTL = f"timeout {TIMEOUT} rabbitmqctl -q"
_VHOSTS_MARK = "@@vhosts"
_VHOST_MARK = "@@vhost "


@dataclass(frozen=True)
class ClusterView:
    """What one node's ``cluster_status`` says: the cluster's members (disc and RAM nodes), the
    nodes running, and for each running node the peers it cannot reach."""

    members: tuple[str, ...]
    running: tuple[str, ...]
    partitions: dict[str, list[str]]


@dataclass(frozen=True)
class QuorumQueue:
    """A quorum queue: ``leader`` is empty when its leader does not run."""

    vhost: str
    name: str
    leader: str
    members: tuple[str, ...]
    online: tuple[str, ...]

    @property
    def majority(self) -> int:
        return len(self.members) // 2 + 1


def status_command(target: Target, vhosts: Sequence[str] | None = None) -> str:
    """The cluster status read on ``target``'s node, then each of ``vhosts``' queues (with the
    columns a quorum queue is judged by), or, when they are not known, the virtual hosts."""
    if vhosts is None:
        then = f"echo {_VHOSTS_MARK} && {_CTL} list_vhosts name --formatter json"
    else:
        then = " && ".join(
            [f"echo {shlex.quote(_VHOST_MARK + vhost)} && {_CTL} list_queues -p "
             f"{shlex.quote(vhost)} name type leader members --formatter json"
             for vhost in vhosts] or ["true"])
    return target.service("rabbitmq").inside(
        f"{_CTL} cluster_status --formatter json && {then}")


def _json(host: str, text: str) -> Any:
    """The JSON document in ``text`` (whatever a warning printed before it)."""
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    try:
        return json.JSONDecoder().raw_decode(text, min(starts))[0] if starts else None
    except json.JSONDecodeError as exc:
        raise HostError(f"{host}: rabbitmqctl printed no JSON that can be read: {exc}") from None


def parse_status(host: str, stdout: str) -> tuple[ClusterView, list[str] | None,
                                                  list[QuorumQueue]]:
    """From the output of :func:`status_command`: the view, the virtual hosts (None when the
    queues were listed instead) and the quorum queues (classic and stream queues left out)."""
    status_text, marker, rest = stdout.partition(f"\n{_VHOSTS_MARK}\n")
    if not marker:
        status_text, _, rest = stdout.partition(f"\n{_VHOST_MARK}")
        rest = _VHOST_MARK + rest if rest else ""
    status = _json(host, status_text)
    if not isinstance(status, dict) or "running_nodes" not in status:
        raise HostError(f"{host}: rabbitmqctl cluster_status printed no running_nodes")
    members = sorted({*status.get("disk_nodes", []), *status.get("ram_nodes", [])})
    partitions = {str(node): sorted(peers) for node, peers
                  in (status.get("partitions") or {}).items()}
    view = ClusterView(tuple(members), tuple(sorted(status["running_nodes"])), partitions)
    if marker:
        return view, parse_vhosts(host, rest), []
    return view, None, parse_queues(host, rest, view.running)


def parse_cluster_status(host: str, stdout: str) -> tuple[ClusterView, list[str]]:
    """The view and the virtual hosts from the output of :func:`status_command` without
    ``vhosts`` (or, with them, the view and no virtual host)."""
    view, vhosts, _ = parse_status(host, stdout)
    return view, vhosts or []


def parse_vhosts(host: str, text: str) -> list[str]:
    listed = _json(host, text)
    if not isinstance(listed, list):
        raise HostError(f"{host}: rabbitmqctl list_vhosts printed no list")
    return sorted(str(entry["name"]) for entry in listed)


def parse_queues(host: str, stdout: str, running: Sequence[str]) -> list[QuorumQueue]:
    """The quorum queues of each virtual host's listing, as :func:`status_command` prints
    them; a queue's members online are those among the ``running`` nodes."""
    queues = []
    for section in stdout.split(_VHOST_MARK)[1:]:
        vhost, _, text = section.partition("\n")
        listed = _json(host, text)
        if not isinstance(listed, list):
            raise HostError(f"{host}: rabbitmqctl list_queues printed no list for {vhost!r}")
        queues += [QuorumQueue(vhost, str(q["name"]), str(q.get("leader") or ""),
                               tuple(sorted(q.get("members") or [])),
                               tuple(sorted(set(q.get("members") or []) & set(running))))
                   for q in listed if q.get("type") == "quorum"]
    return queues


def refusal(exit_status: int, stdout: str, stderr: str) -> str:
    """Why a member's ``rabbitmqctl`` did not answer, in words."""
    text = f"{stdout}\n{stderr}"
    if "'rabbit' app to be running" in text:
        return "its rabbit app is stopped (a paused minority, or stopped by hand)"
    if exit_status == 69 or "unable to perform an operation on node" in text:
        return "its node is down"
    if exit_status in (75, 124):
        return f"no answer within {TIMEOUT} s"
    lines = [line for line in text.splitlines() if line.strip()]
    return f"rabbitmqctl exited {exit_status}: {lines[-1] if lines else 'no output'}"
