"""Bring a RabbitMQ cluster back after every member stopped (a power cut of every controller):
start every member at once, as RabbitMQ's clustering guide says (a node that was not the last
to stop waits at boot for the peers it last saw, so members started one after the other wait on
each other), then wait until every member runs in one cluster with no partition
(:mod:`stackdrill.hostkit.rabbitmq_cluster`). Members already running are left alone."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import ClassVar

from stackdrill.api import Recovery, RunbookStep, Service, Target, wait
from stackdrill.core.params import Param, positive_float
from stackdrill.hostkit import rabbitmq_cluster as rabbitmq
from stackdrill.hostkit.clusters import members
from stackdrill.hostkit.rabbitmq import CLUSTER, ClusterView

STATUS_TIMEOUT = 30.0
RABBITMQ = "rabbitmq"


def start_without_waiting(service: Service) -> str:
    """The command that starts ``service`` and returns before its node has booted: ``systemctl
    start --no-block`` of its unit (a failed unit's state cleared first), or the container
    runtime's start, which does not wait for the node either."""
    if service.kind == "container" or service.unit is None:
        return service.command("start")
    unit = shlex.quote(service.unit)
    return service.inside(f"systemctl reset-failed {unit} 2>/dev/null; "
                          f"systemctl start --no-block {unit}")


class StartRabbitmqCluster(Recovery):
    name = "start_rabbitmq_cluster"
    description = ("after every RabbitMQ member stopped: start them all at once (each waits "
                   "for its peers at boot), then wait until all run in one cluster with no "
                   "partition")
    params: ClassVar[Mapping[str, Param]] = {
        "cluster": Param("the inventory's cluster whose members run RabbitMQ", str, CLUSTER),
        "timeout": Param("seconds for the members to start and for the cluster to be whole",
                         positive_float, 600.0),
    }

    def runbook(self) -> list[RunbookStep]:
        cluster, service = self.values["cluster"], RABBITMQ
        # the names for the titles only: a cluster the inventory lacks fails the first step
        names = list(self.target.inventory.clusters.get(cluster, ())) or ["none named"]
        return [
            RunbookStep(f"Start {service} on every member of {cluster} at once "
                        f"({', '.join(names)})", self.start_all,
                        (f"start {service} on each member, together",)),
            RunbookStep(f"Wait until the {len(names)} members run in one cluster without "
                        f"partitions", self.wait_whole, (rabbitmq.CLUSTER_STATUS,)),
        ]

    def _members(self) -> list[Target]:
        return members(self.target, self.values["cluster"])

    def _stopped(self) -> list[Target]:
        return [m for m in self._members()
                if not m.service(RABBITMQ).is_running()]

    def start_all(self) -> None:
        """Ask every stopped member to start without waiting for it (``systemctl start
        --no-block``; a container's start returns at once), then wait until all run."""
        stopped = self._stopped()
        for member in stopped:
            member.run(start_without_waiting(member.service(RABBITMQ)), check=True)
        if stopped:
            wait(lambda: not self._stopped(), self.values["timeout"],
                 f"{RABBITMQ} running on {', '.join(m.name for m in stopped)}")

    def _statuses(self) -> dict[str, ClusterView | str]:
        return {member.name: rabbitmq.member_view(member, STATUS_TIMEOUT)
                for member in self._members()}

    def wait_whole(self) -> None:
        count = len(self._members())
        wait(lambda: not rabbitmq.cluster_problems(self._statuses(), count),
             self.values["timeout"], f"the {count} RabbitMQ members in one cluster without "
                                     f"partitions")
        lines = [rabbitmq.describe_member(host, status)
                 for host, status in self._statuses().items()]
        self.api_call("rabbitmq cluster", lambda: lines)
