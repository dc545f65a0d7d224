"""Restore a cloud after a complete failure, tier by tier: the operations guide's "Handling a
Complete Failure" ("assign each service a priority, and restore in order", Table 11-1).

The order is data (``stackdrill/hostkit/priorities/``, or a file of your own). Each tier is one
runbook step: its services are started on every host that has their unit, each start waited
for, then its checks run. The guide asks for two of them: "just after starting the database, you
should check its integrity, or, after starting the nova services, you should verify that the
hypervisor matches the database and fix any mismatches". The checks:

- ``hosts_answer``: every host answers over SSH (internal network connectivity);
- ``start_instances``: every instance domain defined on a compute is started with ``virsh
  start``, before the control plane is back (the guide puts user VMs before it);
- ``database_integrity``: ``mysqlcheck --all-databases`` finds nothing;
- ``hypervisors_match_database``: once every nova-compute is up, each instance Nova says runs
  has a running domain on its host, and each running instance domain is one Nova places there;
  an instance without its domain is hard-rebooted.

A clustered database or message queue (the inventory's ``galera`` or ``rabbitmq`` cluster of
several members) does not come back by starting its members one by one once all are down: its
tier fails unless one member runs, which ``bootstrap_galera`` and ``start_rabbitmq_cluster``
see to first (the HA list, ``ops-guide-table-11-1-ha``, expects them to have run).

The order actually followed, each service with the time it became active, is attached to the
drill's evidence.
"""

from __future__ import annotations

import functools
import shlex
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from stackdrill.api import Recovery, RecoveryFailed, RunbookStep, wait
from stackdrill.core.params import Param, positive_float
from stackdrill.hostkit.priorities import PriorityList, Tier, priority_list
from stackdrill.hosts.identity import boot_identity
from stackdrill.hosts.ssh import CommandResult, HostError
from stackdrill.hosts.target import Target

from .restart_database import INTEGRITY

RUNNING = 1
CLUSTERED = {"mariadb": ("galera", "bootstrap_galera"),
             "rabbitmq-server": ("rabbitmq", "start_rabbitmq_cluster"),
             "rabbitmq": ("rabbitmq", "start_rabbitmq_cluster")}
"""Services that run as a cluster the inventory may name, and the recovery that brings the
cluster back when every member is down (``docs/ha.md``)."""


class RestoreInPriorityOrder(Recovery):
    name = "restore_in_priority_order"
    description = ("after a complete failure, start the cloud's services tier by tier in the "
                   "order of a priority list (Table 11-1), with the guide's checks between")
    params: ClassVar[Mapping[str, Param]] = {
        "order": Param("a priority list: a built-in name or a YAML file", priority_list,
                       "ops-guide-table-11-1"),
        "timeout": Param("seconds for each host, service and check", positive_float, 300.0),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.followed: list[str] = []  # "tier: service on host active at HH:MM:SS"

    @property
    def order(self) -> PriorityList:
        value: PriorityList = self.values["order"]
        return value

    def runbook(self) -> list[RunbookStep]:
        steps = []
        for number, tier in enumerate(self.order.tiers, 1):
            commands = tuple(self._start_command(service) for service in tier.services)
            commands += tuple(f"check: {check}" for check in tier.checks)
            if not commands:
                commands = (f"nothing to do: {tier.note}",) if tier.note else ()
            steps.append(RunbookStep(f"Priority {number}: {tier.name}",
                                     functools.partial(self.restore, number, tier), commands))
        return steps

    def _hosts(self) -> list[Target]:
        return list(self.context.targets) if self.context.targets is not None else [self.target]

    def _start_command(self, service: str) -> str:
        """How this host starts ``service``; each host that has it starts it as it runs it."""
        try:
            return self.target.service(service).command("start")
        except HostError:  # where it runs depends on the host, which a dry run does not ask
            return f"start {service} as each host runs it"

    def _cluster_first(self, name: str) -> None:
        """A clustered service whose members are all down does not come back by starting them
        one by one: the inventory's cluster of several members needs its own recovery first."""
        cluster, recovery = CLUSTERED.get(name, ("", ""))
        members = self.target.inventory.clusters.get(cluster, ())
        if len(members) < 2 or any(self.target.peer(member).service(name).is_running()
                                   for member in members):
            return
        raise RecoveryFailed(f"{name}: every member of cluster {cluster} is down "
                             f"({', '.join(members)}); it comes back with the recovery "
                             f"{recovery} before this tier, not by starting each member")

    def restore(self, number: int, tier: Tier) -> None:
        for name in tier.services:
            self._cluster_first(name)
            for host in self._hosts():
                service = host.service(name)
                if service.is_present():
                    service.start(self.values["timeout"])
                    self._record(f"{number}. {tier.name}: {service.label} active on "
                                 f"{host.name}")
        for check in tier.checks:
            self.CHECKS[check](self)
        if not tier.services and not tier.checks:
            self._record(f"{number}. {tier.name}: {tier.note or 'nothing to do'}")

    def _record(self, line: str) -> None:
        stamped = f"{time.strftime('%H:%M:%S')} {line}"
        self.followed.append(stamped)
        self.api_call("restoration order", functools.partial(list, [stamped]))

    def hosts_answer(self) -> None:
        for host in self._hosts():
            wait(functools.partial(boot_identity, host, timeout=3), self.values["timeout"],
                 f"{host.name} answering over SSH")
        self._record("every host answers: " + ", ".join(h.name for h in self._hosts()))

    def _computes(self) -> list[Target]:
        targets = self.context.targets
        return targets.with_role("compute") if targets is not None else []

    def start_instances(self) -> None:
        for host in self._computes():
            listed = host.run("virsh list --inactive --name", check=True).stdout.split()
            for domain in (d for d in listed if d.startswith("instance-")):
                # On shared storage a domain Nova has moved elsewhere may still be defined
                # here: qemu's image lock refuses to run its disk twice, and Nova settles
                # which host owns it once it is back (hypervisors_match_database).
                result = host.run(f"virsh start {shlex.quote(domain)}")
                outcome = "started" if result.ok else \
                    f"not started ({(result.stderr or result.stdout).strip()[:120]})"
                self._record(f"instance domain {domain} {outcome} on {host.name}")

    def database_integrity(self) -> None:
        for host in self._hosts():
            if not host.service("mariadb").is_present():
                continue
            result = host.run(INTEGRITY, check=True, timeout=600)
            problems = _lines(result)
            if problems:
                raise RecoveryFailed(f"mysqlcheck on {host.name}: {problems[0]}")
            self._record(f"database integrity checked on {host.name}: no problems")

    def hypervisors_match_database(self) -> None:
        conn = self.cloud()
        wait(lambda: all(s.state == "up" for s in conn.compute.services(binary="nova-compute")),
             self.values["timeout"], "every nova-compute up")
        for host in self._computes():
            running = set(host.run("virsh list --uuid", check=True).stdout.split())
            for server in self._servers_on(conn, host):
                if server.status == "ACTIVE" and server.id not in running:
                    self.api_call(f"openstack server reboot --hard {server.id}",
                                  functools.partial(self._hard_reboot, conn, server))
        wait(self._agree, self.values["timeout"], "Nova and every hypervisor agree")
        self._record("hypervisors match the database")

    def _servers_on(self, conn: Any, host: Target) -> list[Any]:
        """Nova's servers on ``host``, listed once the API answers (a wait: through a load
        balancer the API may still have no backend up)."""
        def listing() -> tuple[list[Any]]:  # a 1-tuple: true even when the list is empty
            return (list(conn.compute.servers(all_projects=True, compute_host=host.name)),)
        listed: tuple[list[Any]] = wait(listing, self.values["timeout"],
                                        f"Nova listing the servers of {host.name}")
        return listed[0]

    @staticmethod
    def _hard_reboot(conn: Any, server: Any) -> list[str]:
        conn.compute.reboot_server(server, "HARD")
        return [f"{server.name}: ACTIVE in Nova without a running domain: hard reboot"]

    def _agree(self) -> bool:
        conn = self.cloud()
        for host in self._computes():
            running = set(host.run("virsh list --uuid", record=False).stdout.split())
            expected = {s.id for s in conn.compute.servers(all_projects=True,
                                                           compute_host=host.name)
                        if s.status == "ACTIVE" and not s.task_state}
            if expected - running:
                return False
        return True

    CHECKS: ClassVar[dict[str, Callable[[RestoreInPriorityOrder], None]]] = {
        "hosts_answer": hosts_answer,
        "start_instances": start_instances,
        "database_integrity": database_integrity,
        "hypervisors_match_database": hypervisors_match_database,
    }


def _lines(result: CommandResult) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.strip()]
