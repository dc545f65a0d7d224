"""iSCSI targets as the target host's tgtd sees them: each target's logged-in initiators.

Read with ``tgtadm --lld iscsi --mode target --op show``, the view a storage operator checks
first. Hosts without tgtd report nothing. Account (CHAP) lines are never kept.
"""

from __future__ import annotations

from typing import Any

from stackdrill.api import Probe, ProbeOutput
from stackdrill.hostkit.iscsi import TGT_SHOW, parse_tgt_targets
from stackdrill.hosts.target import Target

SCRIPT = """\
command -v tgtadm >/dev/null 2>&1 || { echo no-tgtadm; exit 0; }
systemctl is-active -q tgt 2>/dev/null || systemctl is-active -q tgtd 2>/dev/null \
  || { echo tgtd-down; exit 0; }
""" + TGT_SHOW + "\n"


class IscsiTargets(Probe):
    name = "iscsi_targets"
    description = "tgtd's iSCSI targets and the initiators logged in to each"
    roles = ("storage",)

    def command(self, target: Target) -> str:
        return SCRIPT

    def parse(self, target: Target, output: ProbeOutput) -> dict[str, Any]:
        text = output.require_ok()
        first = text.strip().splitlines()[:1]
        if first == ["no-tgtadm"]:
            return {}
        if first == ["tgtd-down"]:
            return {"tgtd/answering": False}
        values: dict[str, Any] = {"tgtd/answering": True}
        for iqn, info in parse_tgt_targets(text).items():
            values[f"iscsi_target:{iqn}/initiators"] = info.initiators
            values[f"iscsi_target:{iqn}/sessions"] = info.sessions
            values[f"iscsi_target:{iqn}/luns"] = info.luns
        return values

    def problems(self, values: dict[str, Any]) -> list[str]:
        if values.get("tgtd/answering") is False:
            return ["tgtd is not running"]
        return [f"{path.rsplit('/', 1)[0]} exports no LUN" for path, luns in sorted(values.items())
                if path.endswith("/luns") and luns == 0]
