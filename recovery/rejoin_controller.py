"""After one controller of several returns (its power back, its database or message queue
started again): what operators do is mostly wait for the clusters to take it back. Its MariaDB
and RabbitMQ are started where they do not run (MariaDB joins by IST, or SST when it missed too
much; RabbitMQ rejoins its peers), then the runbook waits until Galera is whole (every member
``Synced`` in one primary component), RabbitMQ is whole (every member running, no partition),
and HAProxy on every controller that runs it marks this controller's servers up again.

A cluster the inventory does not name, or that this host is no member of, is skipped.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import ClassVar

from stackdrill.api import Recovery, RunbookStep, Service, Target, wait
from stackdrill.core.params import Param, positive_float
from stackdrill.hostkit import galera_recovery as galera
from stackdrill.hostkit import haproxy
from stackdrill.hostkit import rabbitmq_cluster as rabbitmq
from stackdrill.hostkit.galera import CLUSTER as GALERA
from stackdrill.hostkit.galera import observe_node
from stackdrill.hostkit.rabbitmq import CLUSTER as RABBITMQ
from stackdrill.hostkit.rabbitmq import ClusterView
from stackdrill.hostkit.reboots import wait_for_host

STATUS_TIMEOUT = 30.0
FRONT_END = "haproxy"


class RejoinController(Recovery):
    name = "rejoin_controller"
    description = ("after a controller returns: start its MariaDB and RabbitMQ where they do "
                   "not run, wait until Galera is whole and Synced, RabbitMQ is whole without "
                   "partitions, and HAProxy marks its servers up")
    params: ClassVar[Mapping[str, Param]] = {
        "galera": Param("the inventory's Galera cluster", str, GALERA),
        "rabbitmq": Param("the inventory's RabbitMQ cluster", str, RABBITMQ),
        "timeout": Param("seconds for the host to answer, then for each cluster",
                         positive_float, 600.0),
    }

    def runbook(self) -> list[RunbookStep]:
        name = self.target.name
        return [
            RunbookStep(f"Wait for {name} to answer", functools.partial(
                wait_for_host, self.target, self.values["timeout"])),
            RunbookStep(f"Start MariaDB on {name} where it does not run (it joins by IST or "
                        f"SST)", functools.partial(self.start, "mariadb", "galera")),
            RunbookStep(f"Start RabbitMQ on {name} where it does not run (it rejoins its "
                        f"peers)", functools.partial(self.start, "rabbitmq", "rabbitmq")),
            RunbookStep("Wait until Galera is whole: every member Synced in one primary "
                        "component", self.wait_galera, (galera.WSREP_STATUS,)),
            RunbookStep("Wait until RabbitMQ is whole: every member running, no partition",
                        self.wait_rabbitmq, (rabbitmq.CLUSTER_STATUS,)),
            RunbookStep(f"Wait until HAProxy marks {name}'s servers up", self.wait_haproxy,
                        (haproxy.SHOW_STAT,)),
        ]

    def _members(self, cluster: str) -> list[Target]:
        """The members of the cluster the parameter names, when this host is one of them."""
        names = self.target.inventory.clusters.get(self.values[cluster], ())
        if self.target.name not in names:
            return []
        return [self.target.peer(name) for name in sorted(names)]

    def _note(self, label: str, lines: list[str]) -> None:
        self.api_call(label, lambda: lines)

    def start(self, service_name: str, cluster: str) -> None:
        if not self._members(cluster):
            self._note(f"{service_name} on {self.target.name}",
                       [f"{self.target.name} is no member of a cluster "
                        f"{self.values[cluster]!r}: nothing to start"])
            return
        service = self.target.service(service_name)
        if not service.is_running():
            service.start_again(self.values["timeout"])

    def _galera(self) -> dict[str, Mapping[str, str] | None]:
        return {member.name: galera.answering(observe_node(member))
                for member in self._members("galera")}

    def wait_galera(self) -> None:
        members = len(self._members("galera"))
        if not members:
            return
        wait(lambda: not galera.cluster_problems(self._galera(), members),
             self.values["timeout"], f"the {members} Galera members Synced in one primary "
                                     f"component")
        self._note("galera cluster", [galera.describe_member(host, status)
                                      for host, status in self._galera().items()])

    def _rabbitmq(self) -> dict[str, ClusterView | str]:
        return {member.name: rabbitmq.member_view(member, STATUS_TIMEOUT)
                for member in self._members("rabbitmq")}

    def wait_rabbitmq(self) -> None:
        members = len(self._members("rabbitmq"))
        if not members:
            return
        wait(lambda: not rabbitmq.cluster_problems(self._rabbitmq(), members),
             self.values["timeout"], f"the {members} RabbitMQ members in one cluster without "
                                     f"partitions")
        self._note("rabbitmq cluster", [rabbitmq.describe_member(host, status)
                                        for host, status in self._rabbitmq().items()])

    def _front_ends(self) -> list[tuple[Target, Service]]:
        """Each controller whose HAProxy runs, with its handle."""
        found = []
        for spec in self.target.inventory.with_role("controller"):
            host = self.target.peer(spec.name)
            service = host.service(FRONT_END)
            if service.is_present() and service.is_running():
                found.append((host, service))
        return found

    def _down(self) -> list[str]:
        spec = self.target.spec
        down = []
        for host, service in self._front_ends():
            result = host.run(service.inside(haproxy.SHOW_STAT), record=False,
                              timeout=STATUS_TIMEOUT)
            servers = haproxy.parse_show_stat(result.stdout) if result.ok else []
            down += [f"{host.name}: {line}"
                     for line in haproxy.down_servers(servers, spec.name, spec.address)]
        return down

    def wait_haproxy(self) -> None:
        if not self._front_ends():
            self._note("haproxy", ["no controller runs HAProxy: nothing to wait for"])
            return
        wait(lambda: not self._down(), self.values["timeout"],
             f"HAProxy marking {self.target.name}'s servers up")
        self._note("haproxy", [f"{host.name}: every server of {self.target.name} up"
                               for host, _ in self._front_ends()])
