"""The initiator side of iSCSI on a compute host: established connections to each portal.

In the lab the initiator is qemu's own (libiscsi), so the kernel knows no iSCSI session; the
TCP connections to port 3260 are what the guests' volumes ride on, on every kind of initiator.
Where open-iscsi runs, ``iscsiadm -m session`` is listed too.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from stackdrill.api import Probe, ProbeOutput
from stackdrill.hostkit.iscsi import parse_iscsiadm_sessions
from stackdrill.hosts.target import Target

# ss failing is the probe failing; iscsiadm exits 21 when there is no session, which is no error
SCRIPT = """\
connections=$(ss -Htn state established '( dport = :3260 )') || exit
printf '%s\\n' "$connections" | awk 'NF {print "conn", $NF}'
if command -v iscsiadm >/dev/null 2>&1; then
  iscsiadm -m session 2>/dev/null | sed 's/^/session /'
fi
exit 0
"""


class IscsiPaths(Probe):
    name = "iscsi_paths"
    description = "established iSCSI connections per portal, and open-iscsi's sessions"
    roles = ("compute",)

    def command(self, target: Target) -> str:
        return SCRIPT

    def parse(self, target: Target, output: ProbeOutput) -> dict[str, Any]:
        lines = output.require_ok().splitlines()
        portals = Counter(line.split()[1] for line in lines
                          if line.startswith("conn ") and len(line.split()) == 2)
        values: dict[str, Any] = {f"iscsi_portal:{portal}/connections": count
                                  for portal, count in sorted(portals.items())}
        sessions = "\n".join(line[len("session "):] for line in lines
                             if line.startswith("session "))
        for session in parse_iscsiadm_sessions(sessions):
            values[f"iscsi_session:{session.iqn}/portal"] = session.portal
        return values
