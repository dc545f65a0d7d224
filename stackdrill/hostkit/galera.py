"""A Galera node as its operator reads it: the ``wsrep_%`` status variables through the host's
``mysql`` client (over the local socket, as root reads them on a packaged MariaDB), and the
saved state ``grastate.dat``, whose seqno and ``safe_to_bootstrap`` say, once every node is
down, which one to bootstrap the cluster from. Status and observation only: nothing here acts
on the cluster.

A node whose mysqld does not answer is an observation too: ``stopped`` (its service does not
run), ``down`` (the client cannot connect: ``ERROR 2002``, ``2003`` or ``2013``) or
``no answer`` (nothing within :data:`MYSQL_TIMEOUT` seconds). Any other failure of the client
(``ERROR 1045``, access denied; no ``mysql`` at all) is a :class:`HostError`: what it says of
the node is not known.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import Target

__all__ = [
    "CLUSTER",
    "GRASTATE",
    "MYSQL_TIMEOUT",
    "WSREP_VARIABLES",
    "GaleraNode",
    "GraState",
    "node_command",
    "observe_node",
    "parse_grastate",
    "parse_node",
]

#: The inventory's ``clusters:`` name for the Galera members.
CLUSTER = "galera"
#: Where MariaDB keeps Galera's saved state (its ``datadir``).
GRASTATE = "/var/lib/mysql/grastate.dat"
#: Seconds the client may take, connecting included, before the node counts as not answering.
MYSQL_TIMEOUT = 10
#: The status variables a node is observed by, as ``SHOW GLOBAL STATUS`` names them.
WSREP_VARIABLES = ("wsrep_cluster_size", "wsrep_cluster_status", "wsrep_local_state_comment",
                   "wsrep_ready", "wsrep_last_committed")
_INTEGERS = frozenset({"wsrep_cluster_size", "wsrep_last_committed"})
_CANNOT_CONNECT = ("ERROR 2002", "ERROR 2003", "ERROR 2013")
_STATUS_SQL = "SHOW GLOBAL STATUS LIKE 'wsrep_%'"

_SCRIPT = """\
if {running}; then
  {mysql}
  echo "@@mysql $?"
else
  echo "@@mysql stopped"
fi
echo "@@grastate"
if [ ! -e {grastate} ]; then echo "@@grastate-state absent"
elif cat {grastate}; then echo "@@grastate-state read"
else echo "@@grastate-state unreadable"
fi"""


@dataclass(frozen=True)
class GraState:
    """``grastate.dat`` as read: ``state`` is ``read``, ``absent`` or ``unreadable``; the seqno
    is -1 while mysqld runs (and after a crash), the last committed one after a clean stop."""

    state: str
    uuid: str | None = None
    seqno: int | None = None
    safe_to_bootstrap: bool | None = None


@dataclass(frozen=True)
class GaleraNode:
    """One node: ``mysqld`` is ``up``, ``stopped``, ``down`` or ``no answer``; ``status`` holds
    the ``wsrep_%`` variables it reported (empty unless up)."""

    mysqld: str
    grastate: GraState
    status: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def variable(self, name: str) -> int | str | None:
        """A status variable as MariaDB printed it (the counters as integers); None when the
        node did not report it."""
        text = self.status.get(name)
        if text is None or name not in _INTEGERS:
            return text
        try:
            return int(text)
        except ValueError:
            return text


def node_command(target: Target) -> str:
    """The fragment that reads one node: its status variables where mariadb runs (asked only
    while its service runs), then its ``grastate.dat``."""
    mariadb = target.service("mariadb")
    mysql = (f"timeout {MYSQL_TIMEOUT} mysql --connect-timeout={MYSQL_TIMEOUT // 2} "
             f'--batch --skip-column-names -e "{_STATUS_SQL}"')
    return _SCRIPT.format(running=mariadb.running_test(), mysql=mariadb.inside(mysql),
                          grastate=shlex.quote(GRASTATE))


def parse_node(host: str, stdout: str, stderr: str) -> GaleraNode:
    """The node :func:`node_command` printed; a :class:`HostError` naming the host when the
    client failed for a reason that says nothing of mysqld."""
    head, marker, tail = stdout.partition("\n@@grastate\n")
    if not marker:
        raise HostError(f"{host}: no Galera state in the output")
    lines = head.splitlines()
    result = lines[-1].split()[-1] if lines and lines[-1].startswith("@@mysql ") else ""
    status: dict[str, str] = {}
    for line in lines[:-1]:
        name, tab, value = line.partition("\t")
        if tab:
            status[name] = value
    return GaleraNode(_mysqld(host, result, stderr), parse_grastate(tail),
                      MappingProxyType(status))


def _mysqld(host: str, result: str, stderr: str) -> str:
    if result in ("0", "stopped"):
        return "up" if result == "0" else "stopped"
    if result == "124":
        return "no answer"
    if any(code in stderr for code in _CANNOT_CONNECT):
        return "down"
    errors = [line for line in stderr.splitlines() if line.strip()]
    raise HostError(f"{host}: mysql exited {result or 'without a status'}: "
                    f"{errors[-1] if errors else 'no output'}")


def parse_grastate(text: str) -> GraState:
    """``grastate.dat`` from the output of :func:`node_command`'s second part (the file's
    lines, then ``@@grastate-state <state>``), or from the file's text alone."""
    lines = text.splitlines()
    state = "read"
    if lines and lines[-1].startswith("@@grastate-state "):
        state = lines.pop().split()[-1]
    if state != "read":
        return GraState(state)
    fields = {}
    for line in lines:
        key, colon, value = line.partition(":")
        if colon and not key.startswith("#"):
            fields[key.strip()] = value.strip()
    return GraState(state, fields.get("uuid"), _integer(fields.get("seqno")),
                    _flag(fields.get("safe_to_bootstrap")))


def _integer(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _flag(text: str | None) -> bool | None:
    return {"0": False, "1": True}.get(text or "")


def observe_node(target: Target) -> GaleraNode:
    """One node observed now (one command, not recorded): for a recovery waiting for a node,
    or reading which one to bootstrap from."""
    script = node_command(target)
    result = target.run(f"sh -c {shlex.quote(script)} </dev/null", record=False)
    return parse_node(target.name, result.stdout, result.stderr)
