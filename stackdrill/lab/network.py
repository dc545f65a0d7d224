"""The lab network: one bridge on the machine, one network namespace and veth pair per host."""

from __future__ import annotations

from pathlib import Path

from stackdrill.lab.system import sh
from stackdrill.lab.topology import BRIDGE, BRIDGE_ADDRESS, NETNS_PREFIX, VETH_PREFIX, LabHost


def _link_exists(name: str) -> bool:
    return sh(["ip", "link", "show", name], check=False).returncode == 0


def ensure_bridge() -> None:
    if not _link_exists(BRIDGE):
        sh(["ip", "link", "add", BRIDGE, "type", "bridge"])
    addresses = sh(["ip", "-br", "addr", "show", BRIDGE]).stdout
    if f"{BRIDGE_ADDRESS}/24" not in addresses:
        sh(["ip", "addr", "add", f"{BRIDGE_ADDRESS}/24", "dev", BRIDGE])
    sh(["ip", "link", "set", BRIDGE, "up"])


def create_host_network(host: LabHost, *, nonlocal_bind: bool = False) -> None:
    """A fresh namespace for the host, wired to the bridge; it outlives the host's reboots.
    ``nonlocal_bind``: its processes may bind addresses it does not hold (an HA controller's
    HAProxy binds the VIP's ports wherever the VIP is), set from outside the host, whose
    ``/proc/sys`` may be read-only."""
    remove_host_network(host.name, host.veth)
    sh(["ip", "netns", "add", host.netns])
    sh(["ip", "link", "add", host.veth, "type", "veth", "peer", "name", "eth0",
        "netns", host.netns])
    sh(["ip", "link", "set", host.veth, "master", BRIDGE, "up"])
    ns = ["ip", "-n", host.netns]
    sh([*ns, "link", "set", "lo", "up"])
    sh([*ns, "addr", "add", f"{host.address}/24", "dev", "eth0"])
    sh([*ns, "link", "set", "eth0", "up"])
    sh([*ns, "route", "add", "default", "via", BRIDGE_ADDRESS])
    if nonlocal_bind:
        sh(["ip", "netns", "exec", host.netns, "sysctl", "-q", "-w",
            "net.ipv4.ip_nonlocal_bind=1"])


def remove_host_network(name: str, veth: str) -> None:
    if _link_exists(veth):
        sh(["ip", "link", "del", veth], check=False)
    if Path(f"/run/netns/{NETNS_PREFIX}{name}").exists():
        sh(["ip", "netns", "del", f"{NETNS_PREFIX}{name}"], check=False)


def stale_namespaces() -> list[str]:
    netns_dir = Path("/run/netns")
    if not netns_dir.is_dir():
        return []
    return sorted(p.name[len(NETNS_PREFIX):] for p in netns_dir.iterdir()
                  if p.name.startswith(NETNS_PREFIX))


def remove_all() -> None:
    for name in stale_namespaces():
        remove_host_network(name, f"{VETH_PREFIX}{name}"[:15])
    if _link_exists(BRIDGE):
        sh(["ip", "link", "del", BRIDGE], check=False)
