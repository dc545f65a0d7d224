"""Galera after every node went down: what each node's saved state says, the position InnoDB
recovers where that state says nothing, which node the cluster is bootstrapped from, and when
the cluster is whole again.

The procedure is Galera's crash recovery, as MariaDB documents it ("Getting Started with
MariaDB Galera Cluster", "Galera Cluster Recovery"):

1. Read ``/var/lib/mysql/grastate.dat`` on each node: the cluster's ``uuid``, the ``seqno``
   of the last transaction the node committed, and ``safe_to_bootstrap``.
2. Where ``seqno`` is -1 (the node did not shut down cleanly: a crash, a power cut), recover
   the position from InnoDB: ``galera_recovery`` (or ``mysqld --wsrep-recover`` as the mysql
   user) logs ``WSREP: Recovered position: <uuid>:<seqno>``.
3. Bootstrap from the node with the highest seqno. ``safe_to_bootstrap: 1`` marks the node
   that was last alone in a primary component (the last to leave a clean shutdown); it is not
   proof that the node holds every transaction, and a node marked safe that is behind would
   bootstrap the cluster without the transactions it missed (the others could not even join
   it: their state is ahead). Where the chosen node is not marked, it is marked, as the crash
   recovery says; Galera refuses to bootstrap from it otherwise ("It may not be safe to
   bootstrap the cluster from this node").
4. ``galera_new_cluster`` on it, then start MariaDB on the others: they join by IST (the
   transactions they miss) or SST (a full copy).
5. The cluster is whole when every member reports a primary component of all the members and
   itself ``Synced``.

The parsing and the choice are pure functions over the text the commands print, so that they
are tested without a cluster.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stackdrill.core.errors import ActionFailed
from stackdrill.hostkit.galera import GRASTATE, GaleraNode, GraState, parse_grastate

UNDEFINED_UUID = "00000000-0000-0000-0000-000000000000"
UNDEFINED_SEQNO = -1
NEW_CLUSTER_ENVIRONMENT = "_WSREP_NEW_CLUSTER"
"""The systemd manager's variable ``galera_new_cluster`` sets for the one start that bootstraps;
left set (a bootstrap cut short), every later start of the unit would bootstrap a cluster of
its own."""

READ_GRASTATE = f"cat {GRASTATE}"
MARK_SAFE = f"sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' {GRASTATE}"
MARK_UNSAFE = f"sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 0/' {GRASTATE}"
RECOVER_POSITION = ("if command -v galera_recovery >/dev/null 2>&1; then galera_recovery; "
                    "else mysqld --user=mysql --wsrep-recover --disable-log-error; fi 2>&1")
"""Prints the recovered position (``galera_recovery`` as systemd's start runs it, else the
server's own ``--wsrep-recover``, whose log goes to stderr); MariaDB must not be running."""
WSREP_STATUS = "mysql --batch --skip-column-names -e \"SHOW GLOBAL STATUS LIKE 'wsrep_%'\""
"""What an operator reads on each member (the waits read it with
:func:`stackdrill.hostkit.galera.observe_node`)."""
PRIMARY = "Primary"
SYNCED = "Synced"

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_POSITION = re.compile(
    rf"(?:Recovered position:?|wsrep_start_position=)\s*(?P<uuid>{_UUID}):(?P<seqno>-?\d+)",
    re.IGNORECASE)


class GaleraStateError(ActionFailed):
    """A node's saved or recovered state cannot be read, or the nodes' states do not allow a
    bootstrap (no position known, members of different clusters)."""


def saved_state(text: str, where: str) -> GraState:
    """``grastate.dat`` (:func:`stackdrill.hostkit.galera.parse_grastate`) with the fields a
    bootstrap needs; a :class:`GaleraStateError` naming ``where`` when the uuid or the seqno is
    missing or malformed. A file without ``safe_to_bootstrap`` (Galera before 25.3.19) is not
    marked safe."""
    state = parse_grastate(text)
    if state.uuid is None or not re.fullmatch(_UUID, state.uuid):
        raise GaleraStateError(f"{where}: no cluster uuid in it ({state.uuid or 'missing'!r})")
    if state.seqno is None:
        raise GaleraStateError(f"{where}: no seqno in it")
    return GraState("read", state.uuid, state.seqno, bool(state.safe_to_bootstrap))


@dataclass(frozen=True)
class Position:
    uuid: str
    seqno: int


def parse_recovered_position(output: str) -> Position | None:
    """The position ``--wsrep-recover`` found, from what :data:`RECOVER_POSITION` printed: the
    server's ``WSREP: Recovered position: <uuid>:<seqno>``, ``galera_recovery``'s own
    ``Recovered position <uuid>:<seqno>`` or its ``--wsrep_start_position=<uuid>:<seqno>`` (a
    GTID after a comma, as recent servers add, is left aside); the last one printed. None when
    there is none (the server refused to start, wsrep is off)."""
    found = list(_POSITION.finditer(output))
    if not found:
        return None
    last = found[-1]
    return Position(last["uuid"], int(last["seqno"]))


@dataclass(frozen=True)
class NodeState:
    """One member's position for the choice: ``seqno`` from ``grastate.dat``, or recovered from
    InnoDB (``recovered``) where the file said -1."""

    host: str
    uuid: str
    seqno: int
    safe_to_bootstrap: bool
    recovered: bool = False

    def describe(self) -> str:
        source = "recovered by --wsrep-recover" if self.recovered else "in grastate.dat"
        return (f"{self.host}: seqno {self.seqno} ({source}), safe_to_bootstrap: "
                f"{int(self.safe_to_bootstrap)}, cluster {self.uuid}")


def node_state(host: str, saved: GraState, recovered: Position | None = None) -> NodeState:
    """A member's state from its ``grastate.dat`` (as :func:`saved_state` read it) and, where
    that says -1, the position recovered from InnoDB; a :class:`GaleraStateError` when the
    recovery found none."""
    uuid = saved.uuid or UNDEFINED_UUID
    seqno = UNDEFINED_SEQNO if saved.seqno is None else saved.seqno
    safe = bool(saved.safe_to_bootstrap)
    if seqno != UNDEFINED_SEQNO:
        return NodeState(host, uuid, seqno, safe)
    if recovered is None:
        raise GaleraStateError(f"{host}: grastate.dat says seqno -1 and --wsrep-recover "
                               f"recovered no position")
    if recovered.uuid != UNDEFINED_UUID:
        uuid = recovered.uuid
    return NodeState(host, uuid, recovered.seqno, safe, recovered=True)


@dataclass(frozen=True)
class BootstrapChoice:
    """The node to bootstrap from, and why, one line each (for the evidence)."""

    node: NodeState
    reasons: tuple[str, ...]

    @property
    def needs_marking(self) -> bool:
        return not self.node.safe_to_bootstrap


def _one_cluster(nodes: Sequence[NodeState]) -> list[NodeState]:
    """The members with a known position in one cluster; a :class:`GaleraStateError` when
    there is none or the members' uuids disagree (two histories: no node holds them both)."""
    known = [n for n in nodes if n.uuid != UNDEFINED_UUID and n.seqno != UNDEFINED_SEQNO]
    if not known:
        raise GaleraStateError("no member has a known position: " +
                               "; ".join(n.describe() for n in nodes))
    uuids = sorted({n.uuid for n in known})
    if len(uuids) > 1:
        raise GaleraStateError("the members' states belong to different clusters (" + "; ".join(
            n.describe() for n in known) + "): bootstrapping any of them loses the other "
            "history; decide by hand")
    return known


def choose_bootstrap_node(nodes: Sequence[NodeState]) -> BootstrapChoice:
    """The member to bootstrap from: the highest seqno, whatever ``safe_to_bootstrap`` says.
    Among members tied at the highest seqno, one marked safe to bootstrap, else the first by
    name. Members whose position is unknown (seqno -1 after recovery, no cluster uuid) are
    left out. The reasons say each member's seqno and flag and why the chosen one won."""
    known = _one_cluster(nodes)
    highest = max(n.seqno for n in known)
    tied = sorted((n for n in known if n.seqno == highest), key=lambda n: n.host)
    marked = [n for n in tied if n.safe_to_bootstrap]
    chosen = (marked or tied)[0]
    reasons = [n.describe() for n in sorted(nodes, key=lambda n: n.host)]
    others = [n.host for n in tied if n is not chosen]
    if not others:
        reasons.append(f"{chosen.host} wins: the highest seqno, {highest}")
    elif marked:
        reasons.append(f"{chosen.host} wins: the highest seqno, {highest}, tied with "
                       f"{', '.join(others)}; of those it is marked safe_to_bootstrap")
    else:
        reasons.append(f"{chosen.host} wins: the highest seqno, {highest}, tied with "
                       f"{', '.join(others)}; none of them is marked safe_to_bootstrap, so "
                       f"the first by name")
    reasons += [f"{n.host} is marked safe_to_bootstrap but its seqno {n.seqno} is "
                f"{highest - n.seqno} behind: bootstrapping it would lose those transactions"
                for n in known if n.safe_to_bootstrap and n.seqno < highest]
    reasons += [f"{n.host} is left out: its position is unknown"
                for n in nodes if n not in known]
    if not chosen.safe_to_bootstrap:
        reasons.append(f"{chosen.host} is not marked safe_to_bootstrap: the next step marks "
                       f"it (safe_to_bootstrap: 1 in {GRASTATE}), since galera_new_cluster "
                       f"refuses an unmarked member")
    return BootstrapChoice(chosen, tuple(reasons))


def answering(node: GaleraNode) -> Mapping[str, str] | None:
    """A node's wsrep status while its mysqld answers, else None."""
    return node.status if node.mysqld == "up" else None


def last_committed(status: Mapping[str, str] | None) -> int:
    """A member's ``wsrep_last_committed``; -1 when it did not answer or said no number."""
    value = (status or {}).get("wsrep_last_committed", "")
    return int(value) if re.fullmatch(r"-?\d+", value) else UNDEFINED_SEQNO


def member_problem(host: str, status: Mapping[str, str], members: int) -> str | None:
    """What keeps one member from being a whole cluster's, from its wsrep status, or None: a
    primary component of ``members`` nodes, and this node ``Synced`` in it."""
    size, state = status.get("wsrep_cluster_size", "?"), status.get("wsrep_cluster_status", "?")
    local = status.get("wsrep_local_state_comment", "?")
    if state != PRIMARY:
        return f"{host} is in a {state} component"
    if size != str(members):
        return f"{host} sees a cluster of {size}, not {members}"
    if local != SYNCED:
        return f"{host} is {local}, not {SYNCED}"
    return None


def cluster_problems(statuses: Mapping[str, Mapping[str, str] | None],
                     members: int) -> list[str]:
    """What keeps the cluster from being whole, one line per member (``None``: its MariaDB did
    not answer), plus members that report different cluster states; empty when whole."""
    problems = []
    for host, status in sorted(statuses.items()):
        problem = f"{host}: MariaDB does not answer" if status is None else \
            member_problem(host, status, members)
        if problem is not None:
            problems.append(problem)
    uuids = {s.get("wsrep_cluster_state_uuid") for s in statuses.values() if s is not None}
    if len(uuids) > 1:
        problems.append("the members report different cluster state uuids: "
                        + ", ".join(sorted(str(u) for u in uuids)))
    return problems


def describe_member(host: str, status: Mapping[str, str] | None) -> str:
    """One member's wsrep status in a line, for the evidence."""
    if status is None:
        return f"{host}: MariaDB does not answer"
    return (f"{host}: {status.get('wsrep_cluster_status', '?')}, cluster size "
            f"{status.get('wsrep_cluster_size', '?')}, "
            f"{status.get('wsrep_local_state_comment', '?')}, last committed "
            f"{status.get('wsrep_last_committed', '?')}")
