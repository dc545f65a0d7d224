"""Drop iSCSI sessions, the way the host at hand allows.

- ``initiator``: open-iscsi on a compute node, ``iscsiadm -m session -u -r N`` for each matching
  session (the operations guide's way to reproduce a power loss); undo logs in again.
- ``target``: tgtd (``tgtadm --mode conn --op delete``) or LIO (``targetcli .../tpg1 disable``)
  on the storage host. With ``hold``, the target's ACL is emptied first so initiators stay out
  until undo binds it back; without it, initiators reconnect at once.
- ``network``: iptables on the storage host drops the portal's traffic (from ``initiators``, or
  from everyone) until undo deletes the rule. The rule carries a ``stackdrill-drop-iscsi``
  comment, so undo and recovery delete it and nothing else; it is installed and removed as
  every network fault's rules are (:mod:`stackdrill.hostkit.netfilter`). The cut is confirmed
  by the rule's packet counter rising after the injection (see ``_confirm_network``), never by
  the rule alone.

``method: auto`` picks ``initiator`` where iscsiadm lists sessions, else ``target`` where tgtadm
or targetcli exists, else ``network``.

On the target side the sessions' IDs are recorded before the drop, and the drop is confirmed by
reading the sessions again: none of the recorded IDs may be left. Initiators that reconnect at
once (qemu does within a second) get new session IDs, which the confirmation names.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Fault, FaultError
from stackdrill.core.errors import InvalidValue
from stackdrill.core.params import Param, boolean, word_list
from stackdrill.hostkit import iscsi, netfilter

METHODS = ("auto", "initiator", "target", "network")
DETECT = ("command -v iscsiadm >/dev/null 2>&1 && iscsiadm -m session 2>/dev/null "
          "| grep -q . && echo initiator; command -v tgtadm >/dev/null 2>&1 && echo tgt; "
          "command -v targetcli >/dev/null 2>&1 && echo lio; exit 0")


# iscsiadm's exit status for "No active sessions" (ISCSI_ERR_NO_OBJS_FOUND).
NO_SESSIONS = 21
LIO_ROOT = "/sys/kernel/config/target/iscsi"
LIO_SESSION = re.compile(r"LIO Session ID: (\d+)")


def lio_state(iqn: str) -> str:
    """Whether the target's portal group is enabled, and its sessions, from the kernel's configfs
    (each ACL's ``info`` names its initiator's session, or says there is none)."""
    tpg = shlex.quote(f"{LIO_ROOT}/{iqn}/tpgt_1")
    return f"echo enable=$(cat {tpg}/enable); cat {tpg}/acls/*/info 2>/dev/null; true"


def parse_lio_state(text: str) -> tuple[str, list[int]]:
    """``lio_state`` output -> (the portal group's enable flag as read, its session IDs)."""
    enable = next((line.split("=", 1)[1].strip() for line in text.splitlines()
                   if line.startswith("enable=")), "")
    return enable, sorted(int(sid) for sid in LIO_SESSION.findall(text))


def _sources(facts: Mapping[str, Any]) -> list[str]:
    """The sources the network rules cut off ("" for all), as the counters are keyed."""
    return list(facts.get("sources", [""]))


def _ids(sids: list[int]) -> str:
    return ", ".join(map(str, sids)) or "none"


def _method(text: str) -> str:
    value = text.strip().lower()
    if value not in METHODS:
        raise InvalidValue(f"expected one of {', '.join(METHODS)}, got {text!r}")
    return value


class DropIscsiSessions(Fault):
    name = "drop_iscsi_sessions"
    description = ("Drop the iSCSI sessions of the matching targets: from the initiator "
                   "(iscsiadm), the target (tgtadm, targetcli) or the network (iptables)")
    params: ClassVar[Mapping[str, Param]] = {
        "method": Param("auto, initiator, target or network", _method, "auto"),
        "targets": Param("shell pattern of the target IQNs", str, "*"),
        "hold": Param("target method: keep initiators out until undo", boolean, False),
        "initiators": Param("network method: initiator addresses to cut off (default all)",
                            word_list, []),
    }

    def plan(self) -> list[str]:
        pattern = self.values["targets"]
        method = self.values["method"]
        plans = {
            "initiator": [f"iscsiadm -m session -u -r <N>  (each session of {pattern})"],
            "target": [*(["tgtadm ... --mode target --op unbind --initiator-address <acl>"]
                         if self.values["hold"] else []),
                       f"tgtadm --lld iscsi --mode conn --op delete --tid <tid of {pattern}> "
                       "--sid <sid> --cid <cid>  (or: targetcli /iscsi/<iqn>/tpg1 disable)"],
            "network": [netfilter.install(iscsi.iptables_rule(self.values["initiators"],
                                                              iscsi.DROP_RULE_TAG))],
        }
        if method == "auto":
            return [f"{name}: {line}" for name in METHODS[1:] for line in plans[name]]
        return plans[method]

    def _detect(self) -> str:
        found = self.target.run(DETECT, record=False).stdout.split()
        if self.values["method"] != "auto":
            return str(self.values["method"])
        if "initiator" in found:
            return "initiator"
        return "target" if {"tgt", "lio"} & set(found) else "network"

    def prepare(self) -> dict[str, Any]:
        method = self._detect()
        pattern = self.values["targets"]
        if method == "initiator":
            listing = self.target.run("iscsiadm -m session", record=False)
            sessions = [s for s in iscsi.parse_iscsiadm_sessions(listing.stdout)
                        if iscsi.matches(s.iqn, pattern)]
            if not sessions:
                raise FaultError(f"{self.target.name}: no iSCSI session matches {pattern}")
            return {"method": method, "sessions": [
                {"sid": s.sid, "iqn": s.iqn, "portal": s.portal} for s in sessions]}
        if method == "network":
            facts: dict[str, Any] = {
                "method": method, "rules": iscsi.iptables_rule(self.values["initiators"],
                                                               iscsi.DROP_RULE_TAG),
                "sources": [iscsi.drop_source(a) for a in self.values["initiators"]] or [""],
                "dropped_before": self._counters_before()}
            if self.target.run("command -v tgtadm", record=False).ok:
                shown = iscsi.parse_tgt_targets(self.target.run(iscsi.TGT_SHOW,
                                                                record=False).stdout)
                facts["initiators"] = {iqn: t.initiators for iqn, t in shown.items()
                                       if iscsi.matches(iqn, pattern) and t.initiators}
            return facts
        if self.target.run("command -v tgtadm", record=False).ok:
            return self._prepare_tgt(pattern)
        return self._prepare_lio(pattern)

    def _counters_before(self) -> dict[str, int]:
        counts = self._drop_counters()
        if counts is None:
            raise FaultError(f"{self.target.name}: cannot read the INPUT chain's counters "
                             f"({iscsi.DROP_COUNTERS})")
        return counts

    def _prepare_lio(self, pattern: str) -> dict[str, Any]:
        lio = self.target.run("targetcli ls /iscsi 1", record=False).stdout
        iqns = [word for word in lio.split() if word.startswith("iqn.")]
        chosen = [iqn for iqn in iqns if iscsi.matches(iqn, pattern)]
        if not chosen:
            raise FaultError(f"{self.target.name}: no LIO target matches {pattern}")
        recorded = {iqn: self._lio_sessions(iqn) for iqn in chosen}
        if not any(recorded.values()):
            raise FaultError(f"{self.target.name}: no initiator is logged in to a LIO target "
                             f"matching {pattern}; no session to drop")
        return {"method": "target", "tool": "targetcli", "targets": chosen,
                "sessions": recorded}

    def _lio_sessions(self, iqn: str) -> list[int]:
        """The sessions of an enabled LIO portal group, from configfs; refused if unreadable."""
        enable, sessions = parse_lio_state(self.target.run(lio_state(iqn), record=False).stdout)
        if enable not in ("0", "1"):
            raise FaultError(f"{self.target.name}: cannot read the LIO portal group of {iqn}")
        return sessions

    def _prepare_tgt(self, pattern: str) -> dict[str, Any]:
        shown = iscsi.parse_tgt_targets(self.target.run(iscsi.TGT_SHOW, record=False).stdout)
        chosen = {iqn: iscsi.as_facts(t) for iqn, t in shown.items()
                  if iscsi.matches(iqn, pattern)}
        if not chosen:
            raise FaultError(f"{self.target.name}: no tgtd target matches {pattern}")
        sessions = {iqn: self._recorded_tgt_sessions(iqn, target["tid"])
                    for iqn, target in chosen.items()}
        if not any(sessions.values()):
            raise FaultError(f"{self.target.name}: no initiator is logged in to a tgtd target "
                             f"matching {pattern}; no session to drop")
        return {"method": "target", "tool": "tgtadm", "hold": self.values["hold"],
                "targets": chosen, "sessions": sessions,
                "initiators": {iqn: shown[iqn].initiators for iqn in chosen}}

    def _recorded_tgt_sessions(self, iqn: str, tid: int) -> list[int]:
        live = self._tgt_sessions(tid)
        if live is None:
            raise FaultError(f"{self.target.name}: cannot read the sessions of tgtd target "
                             f"{iqn} ({iscsi.tgt_conn_show(tid)})")
        return sorted(live)

    def _tgt_sessions(self, tid: int) -> set[int] | None:
        """The IDs of a tgtd target's sessions now, or None when they cannot be read."""
        result = self.target.run(iscsi.tgt_conn_show(tid), record=False)
        if not result.ok:
            return None
        return {sid for sid, _ in iscsi.parse_tgt_connections(result.stdout)}

    def inject(self, facts: Mapping[str, Any]) -> None:
        method = facts["method"]
        if method == "initiator":
            for session in facts["sessions"]:
                self.target.run(iscsi.iscsiadm_logout(session["sid"]), check=True)
        elif method == "network":
            self.target.run(netfilter.install(facts["rules"]), check=True)
        elif facts["tool"] == "targetcli":
            for iqn in facts["targets"]:
                self.target.run(iscsi.lio_tpg(iqn, "disable"), check=True)
        else:
            for target in facts["targets"].values():
                if facts["hold"]:
                    for address in target["acl"]:
                        self.target.run(iscsi.tgt_acl("unbind", target["tid"], address),
                                        check=True)
                self._delete_connections(target["tid"])

    def _delete_connections(self, tid: int) -> None:
        shown = self.target.run(iscsi.tgt_conn_show(tid), check=True).stdout
        for sid, cid in iscsi.parse_tgt_connections(shown):
            self.target.run(iscsi.tgt_conn_delete(tid, sid, cid), check=True)

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """By method. initiator: every recorded session logged out. target: none of the
        recorded sessions left (with hold, no initiator logged in and the ACLs empty; LIO: the
        portal groups disabled). network: each drop rule's packet counter risen since the
        injection."""
        method = facts["method"]
        if method == "initiator":
            live = self._live_sessions()
            if live is None:
                return None
            gone = [s["sid"] for s in facts["sessions"] if s["sid"] not in live]
            if len(gone) < len(facts["sessions"]):
                return None
            return f"{self.target.name}: sessions {', '.join(map(str, gone))} logged out"
        if method == "network":
            return self._confirm_network(facts)
        if facts["tool"] == "targetcli":
            return self._confirm_lio(facts)
        return self._confirm_tgt(facts)

    def _live_sessions(self) -> set[int] | None:
        """open-iscsi's session IDs now, or None when iscsiadm gave no answer: only a listing
        (exit 0) or "No active sessions" (exit 21, ISCSI_ERR_NO_OBJS_FOUND) is one."""
        result = self.target.run("iscsiadm -m session", record=False)
        if result.exit_status == NO_SESSIONS:
            return set()
        if not result.ok or not result.stdout.strip():
            return None
        return {s.sid for s in iscsi.parse_iscsiadm_sessions(result.stdout)}

    def _drop_counters(self) -> dict[str, int] | None:
        result = self.target.run(iscsi.DROP_COUNTERS, record=False)
        if not result.ok:
            return None
        return iscsi.parse_drop_counters(result.stdout, iscsi.DROP_RULE_TAG)

    def _confirm_network(self, facts: Mapping[str, Any]) -> str | None:
        """Each rule has dropped packets since the injection (its counter, read with
        ``iptables -S INPUT -v``, above the count recorded before it).

        The computes' connections cannot prove the cut: a DROP rule sends no reset, so
        established connections stay in ``ss`` on both sides until TCP or iSCSI gives up, long
        after the traffic stopped, and this fault runs on the storage host, not on the computes.
        Initiators send a NOP-Out every few seconds (qemu's libiscsi every 5 s, open-iscsi's
        noop_out_interval), so a cut portal shows as packets dropped within seconds; a rule
        that matched nothing proves nothing. The computes' side is the ``iscsi_paths``
        probe's, which the drill requires to deviate."""
        counts = self._drop_counters()
        before: Mapping[str, int] = facts.get("dropped_before", {})
        if counts is None:
            return None
        dropped = {source: counts.get(source, 0) - before.get(source, 0)
                   for source in _sources(facts)}
        if any(count <= 0 for count in dropped.values()):
            return None
        return (f"{self.target.name}: iptables dropped "
                + "; ".join(f"{count} packets of iSCSI portal traffic from {source or 'any'}"
                            for source, count in dropped.items())
                + " since the injection")

    def _confirm_tgt(self, facts: Mapping[str, Any]) -> str | None:
        """Every session recorded before the drop is gone (read again); with hold, no initiator
        is logged in and the targets' ACLs are empty."""
        recorded = facts.get("sessions", {})
        ended: list[int] = []
        again: list[int] = []
        for iqn, target in facts["targets"].items():
            live = self._tgt_sessions(target["tid"])
            before = set(recorded.get(iqn, []))
            if live is None or live & before:
                return None
            ended += sorted(before)
            again += sorted(live - before)
        count = len(facts["targets"])
        if facts["hold"]:
            shown = iscsi.parse_tgt_targets(self.target.run(iscsi.TGT_SHOW, record=False).stdout)
            if any(iqn not in shown or shown[iqn].sessions or shown[iqn].acl
                   for iqn in facts["targets"]):
                return None
            return (f"{self.target.name}: sessions {_ids(ended)} of {count} target(s) ended; "
                    f"no initiator logged in, and their ACLs are empty")
        return (f"{self.target.name}: sessions {_ids(ended)} of {count} target(s) ended"
                + (f"; initiators logged in again as sessions {_ids(again)}" if again else ""))

    def _confirm_lio(self, facts: Mapping[str, Any]) -> str | None:
        """Each portal group reads disabled in configfs, and none of the sessions recorded
        before the drop is left."""
        ended: list[int] = []
        for iqn in facts["targets"]:
            result = self.target.run(lio_state(iqn), record=False)
            enable, live = parse_lio_state(result.stdout)
            before = set(facts.get("sessions", {}).get(iqn, []))
            if enable != "0" or before & set(live):
                return None
            ended += sorted(before)
        return (f"{self.target.name}: LIO portal groups disabled (configfs enable 0) on "
                f"{len(facts['targets'])} target(s); sessions ended: {_ids(ended)}")

    def undo(self, facts: Mapping[str, Any]) -> None:
        """By method. initiator: log in again to each recorded target without a session.
        network: delete the tagged rules. target: LIO's portal groups enabled again; tgtd's
        ACLs bound back after hold (without hold the initiators reconnect by themselves)."""
        method = facts["method"]
        if method == "initiator":
            listing = self.target.run("iscsiadm -m session", record=False).stdout
            live = {s.iqn for s in iscsi.parse_iscsiadm_sessions(listing)}
            for session in facts["sessions"]:
                if session["iqn"] not in live:
                    self.target.run(iscsi.iscsiadm_login(session["iqn"], session["portal"]),
                                    check=True)
        elif method == "network":
            self.target.run(netfilter.uninstall(facts["rules"]), check=True)
        elif facts["tool"] == "targetcli":
            for iqn in facts["targets"]:
                self.target.run(iscsi.lio_tpg(iqn, "enable"), check=True)
        elif facts["hold"]:
            shown = iscsi.parse_tgt_targets(self.target.run(iscsi.TGT_SHOW, record=False).stdout)
            for iqn, target in facts["targets"].items():
                current = shown.get(iqn)
                if current is None:
                    continue
                for address in target["acl"]:
                    if address not in current.acl:
                        self.target.run(iscsi.tgt_acl("bind", current.tid, address),
                                        check=True)


