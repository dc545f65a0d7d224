"""Which sockets would start a stopped service again, and how they are started again, against
a host that answers like systemd does (dbus pulled back in through a socket-activated libvirtd;
a socket refused while its service already runs)."""

from __future__ import annotations

import re
import shlex

from stackdrill.hostkit.units import reactivating_sockets, start_sockets
from stackdrill.hosts.ssh import CommandResult

TRIGGERS = {"dbus.socket": "dbus.service", "libvirtd.socket": "libvirtd.service",
            "libvirtd-ro.socket": "libvirtd.service", "libvirtd-tcp.socket": "libvirtd.service"}
REVERSE = {"dbus.service": ["systemd-logind.service", "libvirtd.service", "multi-user.target"],
           "dbus.socket": ["dbus.service", "sockets.target"]}


class FakeSystemd:
    name = "compute1"

    def __init__(self, active: dict[str, str]) -> None:
        self.active = active
        self.ran: list[str] = []

    def triggered_by(self, unit: str) -> list[str]:
        return [s for s, service in TRIGGERS.items() if service == unit]

    def answer(self, command: str) -> str:
        if command.startswith("systemctl show -p Id,TriggeredBy"):
            units = re.findall(r"\S+[.]service", command.split("$(", maxsplit=1)[0])
            listed = sorted({u for name in ["dbus.service", "dbus.socket"]
                             for u in REVERSE.get(name, []) if u.endswith(".service")})
            return "\n\n".join(f"Id={u}\nTriggeredBy={' '.join(self.triggered_by(u))}"
                               for u in [*units, *listed])
        if command.startswith("systemctl show -p Triggers --value"):
            return "\n".join(TRIGGERS[u] for u in shlex.split(command)[5:])
        if command.startswith("systemctl show -p TriggeredBy --value"):
            return "\n".join(" ".join(self.triggered_by(u)) for u in shlex.split(command)[5:])
        if command.startswith("systemctl show -p ActiveState"):
            return "\n\n".join(f"ActiveState={self.active.get(u, 'inactive')}"
                               for u in shlex.split(command)[4:])
        verb, *units = shlex.split(command)[1:]
        if verb == "start" and any(self.active.get(TRIGGERS.get(u, "")) == "active"
                                   for u in units if u.endswith(".socket")):
            raise AssertionError(f"systemd refuses {command}: its service already runs")
        for unit in units:
            self.active[unit] = "active" if verb == "start" else "inactive"
        for unit in units:  # a client connects at once: a listening socket starts its service
            if verb == "stop" and any(self.active.get(s) == "active"
                                      for s in self.triggered_by(unit)):
                self.active[unit] = "active"
        return ""

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True) -> CommandResult:
        self.ran.append(command)
        return CommandResult(self.name, command, 0, self.answer(command), "", 0.0, 0.0)


def test_dbus_is_kept_down_only_with_the_sockets_of_the_libvirtd_that_pulls_it_back() -> None:
    host = FakeSystemd({"dbus.socket": "active", "libvirtd.socket": "active",
                        "libvirtd-ro.socket": "active", "libvirtd-tcp.socket": "inactive"})
    assert reactivating_sockets(host, "dbus.service") == [  # type: ignore[arg-type]
        "dbus.socket", "libvirtd.socket", "libvirtd-ro.socket"]


def test_a_socket_whose_service_was_started_by_hand_is_started_with_it_again() -> None:
    host = FakeSystemd({"libvirtd.service": "active", "libvirtd.socket": "active",
                        "libvirtd-tcp.socket": "inactive"})
    start_sockets(host, ["libvirtd.socket", "libvirtd-tcp.socket"])  # type: ignore[arg-type]
    # libvirtd.socket, still listening, would start libvirtd again before the start of
    # libvirtd-tcp.socket, which systemd would then refuse: it stops and starts with them
    assert host.ran[-2:] == [
        "systemctl stop libvirtd.socket libvirtd.service",
        "systemctl start libvirtd-tcp.socket libvirtd.socket libvirtd.service"]
    assert host.active["libvirtd-tcp.socket"] == host.active["libvirtd.service"] == "active"
    assert host.active["libvirtd.socket"] == "active"


def test_sockets_of_a_stopped_service_are_started_without_touching_it() -> None:
    host = FakeSystemd({"dbus.socket": "inactive"})
    start_sockets(host, ["dbus.socket"])  # type: ignore[arg-type]
    assert host.ran[-1] == "systemctl start dbus.socket"
    assert host.active.get("dbus.service") is None
    start_sockets(host, ["dbus.socket"])  # type: ignore[arg-type]
    assert not host.ran[-1].startswith("systemctl start")
