"""Bring iSCSI sessions back, the storage operator's way.

On the target host: open the portal (delete the iptables rules tagged
``stackdrill-drop-iscsi`` that drop port 3260; any other rule that drops the portal is the
site's own, and is shown but kept), give every matching target whose access list is empty its
access back (``tgtadm --op bind``, or enable a disabled LIO portal group), and log initiators
back in where open-iscsi runs (the admin guide: ``iscsiadm -m discovery -t st -p $SAN_IP`` then
``iscsiadm -m node --target-name $IQN -p $SAN_IP -l``). Then wait until every session and every
initiator that was logged in before the fault (as the fault recorded) is logged in again.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Recovery, RecoveryFailed, RunbookStep, wait
from stackdrill.core.params import Param, positive_float
from stackdrill.hostkit import iscsi


class RestoreIscsiSessions(Recovery):
    name = "restore_iscsi_sessions"
    description = ("Open the iSCSI portal, restore the targets' access, log initiators back in, "
                   "and wait for every initiator to be logged in again")
    params: ClassVar[Mapping[str, Param]] = {
        "targets": Param("shell pattern of the target IQNs", str, "*"),
        "timeout": Param("seconds the initiators may take to log back in", positive_float,
                         120.0),
    }

    def _facts(self) -> list[Mapping[str, Any]]:
        return [f for f in self.context.fault_facts if "method" in f]

    def runbook(self) -> list[RunbookStep]:
        steps = [
            RunbookStep(f"Open the iSCSI portal on {self.target.name}", self.open_portal,
                        (iscsi.TAGGED_DROP_RULES, "iptables -D <rule>",
                         iscsi.OTHER_DROP_RULES)),
            RunbookStep(f"Restore the targets' access lists on {self.target.name}",
                        self.restore_access,
                        (iscsi.TGT_SHOW, "tgtadm --lld iscsi --mode target --op bind --tid <tid> "
                                         "--initiator-address ALL")),
        ]
        sessions = [s for f in self._facts() for s in f.get("sessions", [])
                    if f["method"] == "initiator"]
        if sessions:
            steps.append(RunbookStep(
                f"Log {len(sessions)} session(s) back in on {self.target.name}",
                lambda: self.log_in(sessions),
                ("iscsiadm -m discovery -t st -p <portal>",
                 "iscsiadm -m node --target-name <iqn> -p <portal> -l")))
        steps.append(RunbookStep("Wait for every initiator to be logged in again",
                                 self.wait_logged_in, (iscsi.TGT_SHOW,)))
        return steps

    def open_portal(self) -> None:
        if not self.target.run("command -v iptables", record=False).ok:
            return
        for rule in self.target.run(iscsi.TAGGED_DROP_RULES).stdout.splitlines():
            if rule.strip():
                self.target.run(f"iptables -D {rule}", check=True)
        self.target.run(iscsi.OTHER_DROP_RULES)

    def restore_access(self) -> None:
        if self.target.run("command -v tgtadm", record=False).ok:
            shown = iscsi.parse_tgt_targets(self.target.run(iscsi.TGT_SHOW).stdout)
            recorded = {iqn: t["acl"] for f in self._facts()
                        for iqn, t in (f.get("targets") or {}).items() if isinstance(t, dict)}
            for iqn, target in shown.items():
                if iscsi.matches(iqn, self.values["targets"]) and not target.acl:
                    for address in recorded.get(iqn) or ["ALL"]:
                        self.target.run(iscsi.tgt_acl("bind", target.tid, address), check=True)
        elif self.target.run("command -v targetcli", record=False).ok:
            for fact in self._facts():
                for iqn in fact.get("targets") or []:
                    self.target.run(iscsi.lio_tpg(iqn, "enable"), check=True)

    def log_in(self, sessions: list[Mapping[str, Any]]) -> None:
        for portal in sorted({s["portal"] for s in sessions}):
            self.target.run(f"iscsiadm -m discovery -t st -p {shlex.quote(portal)}", check=True)
        for session in sessions:
            self.target.run(iscsi.iscsiadm_login(session["iqn"], session["portal"]),
                            check=True)

    def wait_logged_in(self) -> None:
        expected = {iqn: set(names) for f in self._facts()
                    for iqn, names in (f.get("initiators") or {}).items()}
        sessions = {s["iqn"] for f in self._facts() if f["method"] == "initiator"
                    for s in f.get("sessions", [])}
        if sessions:
            wait(lambda: sessions <= self._logged_in(), self.values["timeout"],
                 f"{len(sessions)} iSCSI session(s) listed again by iscsiadm on "
                 f"{self.target.name}")
        if not expected:
            return
        if not self.target.run("command -v tgtadm", record=False).ok:
            raise RecoveryFailed(f"{self.target.name}: cannot list the target's sessions")

        def back() -> bool:
            shown = iscsi.parse_tgt_targets(self.target.run(iscsi.TGT_SHOW,
                                                            record=False).stdout)
            return all(iqn in shown and names <= set(shown[iqn].initiators)
                       for iqn, names in expected.items())

        wait(back, self.values["timeout"],
             f"{sum(map(len, expected.values()))} initiator(s) logged in again on "
             f"{self.target.name}")

    def _logged_in(self) -> set[str]:
        listing = self.target.run("iscsiadm -m session", record=False).stdout
        return {s.iqn for s in iscsi.parse_iscsiadm_sessions(listing)}
