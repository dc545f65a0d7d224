"""A Galera member left behind with a stale ``safe_to_bootstrap: 1``: its MariaDB is stopped
cleanly, its ``grastate.dat`` marked safe to bootstrap, and the other members commit on without
it (the cloud's services write all the time: Nova's service reports, every few seconds).

Galera itself marks a member safe only while it is alone in a primary component, so the last
one to leave a clean shutdown; a member that left while others stayed is marked 0. The stale
mark is what a hand edit, or a tool, of an earlier recovery leaves behind, and the drill that
powers every member off after it shows why a bootstrap must follow the seqnos, not the flag:
bootstrapped from this member, the cluster would lose what the others committed since it left,
and they could not join it.

Confirmed from the files and the members themselves: this member's ``grastate.dat`` says
``safe_to_bootstrap: 1`` at seqno N, and every other member has committed past N. The undo,
where this member's MariaDB is still stopped, marks it 0 again and starts it: it rejoins by IST,
which needs a primary component among the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from stackdrill.api import Fault, FaultError, Param, Service, Target
from stackdrill.core.params import parse_params
from stackdrill.hostkit import galera_recovery as galera
from stackdrill.hostkit.clusters import members
from stackdrill.hostkit.galera import CLUSTER, GRASTATE, GraState, observe_node
from stackdrill.inventory.model import HostSpec, Inventory

MARIADB = "mariadb"


class StaleSafeToBootstrap(Fault):
    name = "stale_safe_to_bootstrap"
    description = ("stop MariaDB cleanly on this Galera member and leave safe_to_bootstrap: 1 "
                   "in its grastate.dat (a stale hand edit); the others commit on. Confirmed "
                   "when its grastate.dat says safe_to_bootstrap: 1 at seqno N and every other "
                   "member has committed past N. Undo marks it 0 and starts it where it is "
                   "still stopped")
    params: ClassVar[Mapping[str, Param]] = {
        "cluster": Param("the inventory's cluster whose members run Galera", str, CLUSTER),
    }

    @classmethod
    def inventory_problems(cls, raw_params: Mapping[str, str], inventory: Inventory,
                           hosts: Sequence[HostSpec]) -> list[str]:
        """The cluster must be the inventory's, and every host the fault may act on a member."""
        cluster = parse_params(f"fault {cls.name!r}", cls.params, raw_params)["cluster"]
        members = inventory.clusters.get(cluster)
        if not members:
            known = ", ".join(sorted(inventory.clusters)) or "none"
            return [f"cluster: no cluster named {cluster!r} in {inventory.path} (known: {known})"]
        outside = [spec.name for spec in hosts if spec.name not in members]
        return [f"{', '.join(outside)} is no member of cluster {cluster} "
                f"({', '.join(members)})"] if outside else []

    @property
    def service(self) -> Service:
        return self.target.service(MARIADB)

    def plan(self) -> list[str]:
        return [f"stop {MARIADB} on {self.target.name}", galera.MARK_SAFE]

    def _others(self) -> list[Target]:
        found = members(self.target, self.values["cluster"])
        if self.target.name not in [m.name for m in found]:
            raise FaultError(f"{self.target.name} is no member of cluster "
                             f"{self.values['cluster']}")
        return [m for m in found if m.name != self.target.name]

    def _status(self, member: Target) -> Mapping[str, str] | None:
        return galera.answering(observe_node(member))

    def prepare(self) -> dict[str, Any]:
        """Refused unless every member, this one included, is Synced in a primary component
        of all of them: a member left behind must have others to commit without it."""
        everyone = [self.target, *self._others()]
        statuses = {member.name: self._status(member) for member in everyone}
        problems = galera.cluster_problems(statuses, len(everyone))
        if problems:
            raise FaultError(f"cluster {self.values['cluster']} is not whole: {problems[0]}")
        return {"others": [m.name for m in everyone[1:]], "stop": self.service.command("stop")}

    def inject(self, facts: Mapping[str, Any]) -> None:
        self.target.run(facts["stop"], check=True, timeout=300)
        self.target.run(self.service.inside(galera.MARK_SAFE), check=True)

    def _saved(self) -> GraState:
        result = self.target.run(self.service.inside(galera.READ_GRASTATE), record=False,
                                 check=True)
        return galera.saved_state(result.stdout, f"{self.target.name}:{GRASTATE}")

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """This member is stopped and its file says safe_to_bootstrap: 1 at a real seqno;
        every other member is in a primary component and has committed past that seqno."""
        if self.service.is_running():
            return None
        saved = self._saved()
        if not saved.safe_to_bootstrap or saved.seqno in (None, galera.UNDEFINED_SEQNO):
            return None
        seqno = int(saved.seqno or 0)
        ahead = []
        for name in facts["others"]:
            status = self._status(self.target.peer(name))
            committed = galera.last_committed(status)
            if status is None or status.get("wsrep_cluster_status") != galera.PRIMARY \
                    or committed <= seqno:
                return None
            ahead.append(f"{name} committed {committed} ({committed - seqno} ahead)")
        return (f"{self.target.name}: MariaDB stopped, grastate.dat seqno {seqno}, "
                f"safe_to_bootstrap: 1; " + "; ".join(ahead))

    def undo(self, facts: Mapping[str, Any]) -> None:
        """Where this member's MariaDB is still stopped: mark it 0 again and start it, which
        needs a primary component to rejoin."""
        service = self.service
        if service.is_running():
            return
        self.target.run(service.inside(galera.MARK_UNSAFE), check=True)
        primary = [name for name in facts["others"]
                   if (self._status(self.target.peer(name)) or {}).get(
                       "wsrep_cluster_status") == galera.PRIMARY]
        if not primary:
            raise FaultError(f"{self.target.name}: no other member of "
                             f"{self.values['cluster']} is in a primary component to rejoin: "
                             f"bootstrap the cluster first (recovery bootstrap_galera)")
        service.start_again(600)
