"""iSCSI as operators see it, for faults and probes: the target side (tgtd's ``tgtadm``, LIO's
``targetcli``) and the initiator side (open-iscsi's ``iscsiadm``). Parsing and commands only;
nothing here talks to a host.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from stackdrill.hostkit import netfilter

TGT_SHOW = "tgtadm --lld iscsi --mode target --op show"
ISCSI_PORT = 3260
DROP_RULE_TAG = "stackdrill-drop-iscsi"
# The INPUT rules stackdrill added to cut the portal off, as ``iptables -D`` takes them; rules
# that carry no stackdrill tag are never listed here, so nothing of the site's own firewall goes.
TAGGED_DROP_RULES = (f"iptables -S INPUT | grep -F -e '--comment {DROP_RULE_TAG} ' "
                     "| sed 's/^-A //'")
# The INPUT chain's rules with their counters (``-c PACKETS BYTES``), read-only.
DROP_COUNTERS = "iptables -S INPUT -v"
# Every other rule that drops the portal's traffic: shown in the evidence, never deleted.
OTHER_DROP_RULES = (f"iptables -S INPUT | grep -e '--dport {ISCSI_PORT} ' | grep -e '-j DROP' "
                    f"| grep -v -F -e '--comment {DROP_RULE_TAG} ' || true")


@dataclass
class TgtTarget:
    tid: int
    iqn: str
    initiators: list[str] = field(default_factory=list)
    sessions: int = 0
    luns: int = 0
    acl: list[str] = field(default_factory=list)
    backing: list[str] = field(default_factory=list)


def parse_tgt_targets(text: str) -> dict[str, TgtTarget]:
    """``tgtadm --mode target --op show`` -> {IQN: target}. CHAP account lines are skipped."""
    targets: dict[str, TgtTarget] = {}
    current: TgtTarget | None = None
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if raw.startswith("Target ") and ": " in raw:
            tid, _, iqn = raw[len("Target "):].partition(": ")
            current = TgtTarget(tid=int(tid), iqn=iqn.strip())
            targets[current.iqn] = current
            section = ""
        elif current is None or not line:
            continue
        elif line.endswith("information:"):
            section = line
        elif line.startswith("I_T nexus:"):
            current.sessions += 1
        elif line.startswith("Initiator:"):
            name = line.split()[1]
            if name not in current.initiators:
                current.initiators.append(name)
        elif line.startswith("LUN:") and line != "LUN: 0":
            current.luns += 1
        elif line.startswith("Backing store path:") and not line.endswith("None"):
            current.backing.append(line.split(":", 1)[1].strip())
        elif section == "ACL information:":
            current.acl.append(line)
    for target in targets.values():
        target.initiators.sort()
    return targets


def parse_tgt_connections(text: str) -> list[tuple[int, int]]:
    """``tgtadm --mode conn --op show --tid T`` -> [(session id, connection id)]."""
    found = []
    session: int | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Session:"):
            session = int(line.split()[1])
        elif line.startswith("Connection:") and session is not None:
            found.append((session, int(line.split()[1])))
    return found


@dataclass(frozen=True)
class IscsiSession:
    """One open-iscsi session, from ``iscsiadm -m session``."""

    sid: int
    portal: str
    iqn: str


def parse_iscsiadm_sessions(text: str) -> list[IscsiSession]:
    """Lines such as ``tcp: [3] 10.0.0.5:3260,1 iqn.2010-10.org.openstack:volume-x (non-flash)``.

    ``iscsiadm: No active sessions.`` (exit status 21) yields an empty list.
    """
    sessions = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[1].startswith("[") and fields[1].endswith("]"):
            portal = fields[2].split(",", 1)[0]
            sessions.append(IscsiSession(int(fields[1][1:-1]), portal, fields[3]))
    return sessions


def matches(name: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern)


# Commands, each exactly as an operator types it.

def tgt_conn_show(tid: int) -> str:
    return f"tgtadm --lld iscsi --mode conn --op show --tid {tid}"


def tgt_conn_delete(tid: int, sid: int, cid: int) -> str:
    return f"tgtadm --lld iscsi --mode conn --op delete --tid {tid} --sid {sid} --cid {cid}"


def tgt_acl(op: str, tid: int, address: str) -> str:
    return (f"tgtadm --lld iscsi --mode target --op {op} --tid {tid} "
            f"--initiator-address {shlex.quote(address)}")


def lio_tpg(iqn: str, action: str) -> str:
    return f"targetcli /iscsi/{shlex.quote(iqn)}/tpg1 {action}"


def iscsiadm_logout(sid: int) -> str:
    # The operations guide: "Do not forget the -r option. Otherwise, all sessions close."
    return f"iscsiadm -m session -u -r {sid}"


def iscsiadm_login(iqn: str, portal: str) -> str:
    return f"iscsiadm -m node --target-name {shlex.quote(iqn)} -p {shlex.quote(portal)} -l"


def iptables_rule(sources: list[str], tag: str) -> list[str]:
    """The INPUT rules that cut initiators off a target's portal (all initiators if none), as
    :mod:`stackdrill.hostkit.netfilter` installs and removes them."""
    portal = f"-p tcp --dport {ISCSI_PORT}"
    if not sources:
        return [netfilter.tagged("INPUT", portal, tag, "DROP")]
    return [netfilter.tagged("INPUT", f"-s {shlex.quote(source)} {portal}", tag, "DROP")
            for source in sources]


def drop_source(address: str) -> str:
    """An initiator address as ``iptables -S`` shows a rule's source (a host without its
    ``/32``); "" for a rule that cuts every initiator off."""
    return address.removesuffix("/32")


_COUNTED = re.compile(r" -c (\d+) \d+")
_SOURCE = re.compile(r" -s (\S+)")


def parse_drop_counters(text: str, tag: str) -> dict[str, int]:
    """``iptables -S INPUT -v`` -> {source: packets dropped} over the DROP rules of the portal
    that carry ``tag``; the source as :func:`drop_source` gives it."""
    counts: dict[str, int] = {}
    for line in text.splitlines():
        counted = _COUNTED.search(line)
        if (counted is None or f"--comment {tag} " not in line + " "
                or f"--dport {ISCSI_PORT} " not in line or " -j DROP " not in line + " "):
            continue
        source = _SOURCE.search(line)
        key = drop_source(source.group(1)) if source else ""
        counts[key] = counts.get(key, 0) + int(counted.group(1))
    return counts


def as_facts(target: TgtTarget) -> dict[str, Any]:
    return {"tid": target.tid, "acl": list(target.acl)}
