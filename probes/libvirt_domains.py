"""Which libvirt domains run on a compute host, and which qemu process runs each.

The qemu processes are read from libvirt's pid files and /proc, so they are observed even while
libvirtd is down. ``virsh`` is only asked when libvirtd is active: on a socket-activated host,
asking it would start libvirtd and hide the very fault being drilled. ``libvirt/answering`` is
true only when ``virsh`` listed the domains: an active unit whose daemon does not answer is not
answering. libvirtd is the deployment's (``target.service("libvirtd")``): in Kolla's
``nova_libvirt`` container, ``virsh`` runs there.
"""

from __future__ import annotations

from typing import Any

from stackdrill.api import Probe, ProbeOutput
from stackdrill.hosts.target import Target

SCRIPT = r"""
for f in /run/libvirt/qemu/*.pid; do
  [ -e "${f%.pid}.xml" ] || continue
  pid=$(cat "$f")
  if [ -d "/proc/$pid" ]; then alive=yes; else alive=no; fi
  echo "pid $(basename "$f" .pid) $pid $alive"
done
if {running} && listed=$({list}); then
  echo answering
  printf '%s\n' "$listed" | tail -n +3 | sed -e '/^$/d' -e 's/^/dom /'
fi
"""


class LibvirtDomains(Probe):
    name = "libvirt_domains"
    description = "libvirt domains, their state, and their qemu process ids"
    roles = ("compute",)

    def command(self, target: Target) -> str:
        libvirtd = target.service("libvirtd")
        return SCRIPT.replace("{running}", libvirtd.running_test()).replace(
            "{list}", libvirtd.inside("virsh -c qemu:///system list --all"))

    def parse(self, target: Target, output: ProbeOutput) -> dict[str, Any]:
        result = output.require_ok()
        values: dict[str, Any] = {"libvirt/answering": False}
        for line in result.splitlines():
            fields = line.split()
            if fields[:1] == ["pid"] and len(fields) == 4:
                _, name, pid, alive = fields
                values[f"domain:{name}/qemu_pid"] = int(pid)
                values[f"domain:{name}/qemu_alive"] = alive == "yes"
            elif fields == ["answering"]:
                values["libvirt/answering"] = True
            elif fields[:1] == ["dom"] and len(fields) >= 4:
                values[f"domain:{fields[2]}/state"] = " ".join(fields[3:])
        return values

    @staticmethod
    def running(values: dict[str, Any]) -> list[str]:
        """The domains of an observation that libvirt lists as running and whose qemu process
        is alive."""
        return [path.split("/")[0] for path, state in values.items()
                if path.endswith("/state") and state == "running"
                and values.get(path.removesuffix("/state") + "/qemu_alive") is True]

    def problems(self, values: dict[str, Any]) -> list[str]:
        found = []
        if not values.get("libvirt/answering"):
            found.append("libvirtd is not answering")
        found += [f"{path.split('/')[0]} qemu process is gone" for path, alive
                  in sorted(values.items()) if path.endswith("/qemu_alive") and not alive]
        found += [f"{path.split('/')[0]} is {state}" for path, state in sorted(values.items())
                  if path.endswith("/state") and state != "running"]
        return found
