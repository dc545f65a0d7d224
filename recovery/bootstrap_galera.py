"""Bring a Galera cluster back after every member went down (a power cut of every controller),
as its operators do by hand (:mod:`stackdrill.hostkit.galera_recovery`): read each member's
``grastate.dat``; where its seqno is -1, recover the position from InnoDB (``galera_recovery``);
bootstrap from the member with the highest seqno, not merely from the one marked
``safe_to_bootstrap`` (marking it where it is not); start MariaDB on the others, which join by
IST or SST; wait until every member is ``Synced`` in one primary component.

The evidence holds each member's seqno and flag and why the chosen one won.

A member found running in a primary component means the cluster is up (Galera's own
``pc.recovery`` may have restored it): nothing is bootstrapped, the stopped members are started.
A member running outside one is stopped first, so that its position is read with the others'.
The rollback clears the systemd variable ``galera_new_cluster`` leaves set when it is cut
short, which would make every later start of MariaDB bootstrap a cluster of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Recovery, RecoveryFailed, RunbookStep, Service, Target, wait
from stackdrill.core.params import Param, positive_float
from stackdrill.hostkit import galera_recovery as galera
from stackdrill.hostkit.clusters import members
from stackdrill.hostkit.galera import CLUSTER, GRASTATE, GraState, observe_node

MARIADB = "mariadb"


class BootstrapGalera(Recovery):
    name = "bootstrap_galera"
    description = ("after every Galera member went down: read each grastate.dat, recover the "
                   "position where its seqno is -1 (galera_recovery), bootstrap the member "
                   "with the highest seqno (galera_new_cluster; marked safe_to_bootstrap where "
                   "it is not), start the others, wait until all are Synced")
    params: ClassVar[Mapping[str, Param]] = {
        "cluster": Param("the inventory's cluster whose members run Galera", str, CLUSTER),
        "timeout": Param("seconds for each start, and for the cluster to be whole",
                         positive_float, 600.0),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.saved: dict[str, GraState] = {}
        self.states: dict[str, galera.NodeState] = {}
        self.choice: galera.BootstrapChoice | None = None
        self.primary: str | None = None  # a member found running in a primary component

    def runbook(self) -> list[RunbookStep]:
        cluster, service = self.values["cluster"], MARIADB
        # the names for the titles only: a cluster the inventory lacks fails the first step
        names = list(self.target.inventory.clusters.get(cluster, ())) or ["none named"]
        return [
            RunbookStep(f"Check that {service} is down on every member of {cluster} "
                        f"({', '.join(names)})", self.check_down,
                        (f"{service} status on each member", galera.WSREP_STATUS)),
            RunbookStep("Read each member's saved state (grastate.dat)", self.read_saved,
                        (galera.READ_GRASTATE,)),
            RunbookStep("Recover the position of each member whose seqno is -1",
                        self.recover_positions, (galera.RECOVER_POSITION,)),
            RunbookStep("Choose the most advanced member: the highest seqno, whatever "
                        "safe_to_bootstrap says", self.choose),
            RunbookStep("Mark it safe_to_bootstrap: 1 where it is not", self.mark_safe,
                        (galera.MARK_SAFE,)),
            RunbookStep("Bootstrap the cluster on it (galera_new_cluster)", self.bootstrap,
                        (f"galera_new_cluster <the {service} unit>",)),
            RunbookStep(f"Start {service} on the other members (they join by IST or SST)",
                        self.start_others, (f"start {service} on each other member",)),
            RunbookStep(f"Wait until every member is Synced in a primary component of "
                        f"{len(names)}", self.wait_whole, (galera.WSREP_STATUS,)),
        ]

    # -- the members ---------------------------------------------------------------------------

    def _members(self) -> list[Target]:
        return members(self.target, self.values["cluster"])

    def _service(self, member: Target) -> Service:
        service = member.service(MARIADB)
        if service.kind == "container":
            raise RecoveryFailed(f"{member.name}: {service.describe()}: a containerised "
                                 f"Galera is bootstrapped by its deployment's own procedure")
        return service

    def _note(self, label: str, lines: list[str]) -> None:
        """Lines for the evidence, recorded as the step's output."""
        self.api_call(label, lambda: lines)

    def _status(self, member: Target) -> Mapping[str, str] | None:
        return galera.answering(observe_node(member))

    # -- the steps -----------------------------------------------------------------------------

    def check_down(self) -> None:
        lines = []
        for member in self._members():
            service = self._service(member)
            if not service.is_running():
                lines.append(f"{member.name}: {service.label} is down")
                continue
            status = self._status(member)
            if status is not None and status.get("wsrep_cluster_status") == galera.PRIMARY:
                self.primary = self.primary or member.name
                lines.append(galera.describe_member(member.name, status))
                continue
            lines.append(f"{galera.describe_member(member.name, status)}: outside a primary "
                         f"component, stopped so that its position is read with the others'")
            service.stop(self.values["timeout"])
        if self.primary is not None:
            lines.append(f"the cluster is up on {self.primary}: nothing is bootstrapped, the "
                         f"stopped members are started")
        self._note("galera members", lines)

    def _down_members(self) -> list[Target]:
        return [m for m in self._members() if not self._service(m).is_running()]

    def read_saved(self) -> None:
        if self.primary is not None:
            return
        for member in self._members():
            result = member.run(self._service(member).inside(galera.READ_GRASTATE), check=True)
            self.saved[member.name] = galera.saved_state(result.stdout,
                                                         f"{member.name}:{GRASTATE}")

    def recover_positions(self) -> None:
        if self.primary is not None:
            return
        for member in self._members():
            saved = self.saved[member.name]
            recovered = None
            if saved.seqno == galera.UNDEFINED_SEQNO:
                result = member.run(self._service(member).inside(galera.RECOVER_POSITION),
                                    timeout=self.values["timeout"])
                recovered = galera.parse_recovered_position(result.stdout)
            self.states[member.name] = galera.node_state(member.name, saved, recovered)

    def choose(self) -> None:
        if self.primary is not None:
            return
        self.choice = galera.choose_bootstrap_node(list(self.states.values()))
        self._note("galera bootstrap choice", list(self.choice.reasons))

    def _chosen(self) -> Target | None:
        if self.primary is not None:
            return None
        if self.choice is None:
            raise RecoveryFailed("no member was chosen to bootstrap from")
        return self.target.peer(self.choice.node.host)

    def mark_safe(self) -> None:
        chosen = self._chosen()
        if chosen is None or self.choice is None or not self.choice.needs_marking:
            return
        service = self._service(chosen)
        chosen.run(service.inside(galera.MARK_SAFE), check=True)
        result = chosen.run(service.inside(galera.READ_GRASTATE), check=True)
        if not galera.saved_state(result.stdout, chosen.name).safe_to_bootstrap:
            raise RecoveryFailed(f"{chosen.name}: {GRASTATE} still not marked "
                                 f"safe_to_bootstrap")

    def bootstrap(self) -> None:
        chosen = self._chosen()
        if chosen is None:
            return
        service = self._service(chosen)
        chosen.run(service.inside(f"galera_new_cluster {service.unit}"), check=True,
                   timeout=self.values["timeout"] + 30)

        def primary() -> bool:
            status = self._status(chosen)
            return status is not None and galera.member_problem(
                chosen.name, status, int(status.get("wsrep_cluster_size", "0"))) is None

        wait(primary, self.values["timeout"], f"{chosen.name} Synced in a new primary "
                                              f"component")

    def start_others(self) -> None:
        for member in self._down_members():
            self._service(member).start_again(self.values["timeout"])

    def _problems(self) -> list[str]:
        statuses = {member.name: self._status(member) for member in self._members()}
        return galera.cluster_problems(statuses, len(statuses))

    def wait_whole(self) -> None:
        count = len(self._members())
        wait(lambda: not self._problems(), self.values["timeout"],
             f"every member Synced in a primary component of {count}")
        self._note("galera cluster", [galera.describe_member(m.name, self._status(m))
                                      for m in self._members()])

    def rollback(self) -> list[str]:
        """Clear ``galera_new_cluster``'s variable on every member where systemd keeps it."""
        done = []
        for member in self._members():
            service = member.service(MARIADB)
            if service.kind == "container":
                continue
            member.run(service.inside(f"systemctl unset-environment "
                                      f"{galera.NEW_CLUSTER_ENVIRONMENT}"))
            done.append(f"{member.name}: systemctl unset-environment "
                        f"{galera.NEW_CLUSTER_ENVIRONMENT}")
        return done
