"""Stop a service cleanly, as an outage of RabbitMQ or the database would look to its clients.

The service is stopped the way the deployment runs it (a systemd unit, a Docker or Podman
container, a unit inside an LXC container), through the inventory's deployment profile.

A socket-activated systemd unit (libvirtd on Debian and Ubuntu) would be started again by its
next client, nova-compute among them, so by default the sockets that would start it again (its
own, and those of the services that depend on it) are stopped with it, and started again by the
undo.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api.fault import Fault, FaultError
from stackdrill.core.params import Param, boolean
from stackdrill.hostkit.units import (
    SOCKETS_PLACEHOLDER,
    reactivating_sockets,
    service_state,
    start_sockets,
    systemctl_command,
)


class StopService(Fault):
    name = "stop_service"
    description = ("stop a service (systemctl stop, docker/podman stop, or inside its LXC "
                   "container); confirmed when it no longer runs")
    params: ClassVar[Mapping[str, Param]] = {
        "service": Param("the service to stop, by its logical name in the inventory"),
        "sockets": Param("also stop the sockets that would start a systemd service again",
                         boolean, True),
    }

    @property
    def service(self) -> str:
        return str(self.values["service"])

    def _systemd_unit(self) -> str | None:
        placement = self.target.placement(self.service)
        if placement.kind != "systemd" or not self.values["sockets"]:
            return None
        return placement.unit

    def plan(self) -> list[str]:
        unit = self._systemd_unit()
        if unit is None:
            return [self.target.service_command(self.service, "stop")]
        quoted = shlex.quote(unit)
        return [f"systemctl stop <{SOCKETS_PLACEHOLDER} {quoted} again>",
                self.target.service_command(self.service, "stop")]

    def prepare(self) -> dict[str, Any]:
        state = service_state(self.target, self.service)
        if not state.active:
            raise FaultError(f"{self.target.name}: {self.service} is not running")
        unit = self._systemd_unit()
        sockets = reactivating_sockets(self.target, unit) if unit else []
        return {"service": self.service, "sockets": sockets,
                "stop": self.target.service_command(self.service, "stop"),
                "start": self.target.service_command(self.service, "start")}

    def inject(self, facts: Mapping[str, Any]) -> None:
        sockets = facts.get("sockets") or []
        if sockets:
            self.target.run(systemctl_command("stop", sockets), check=True, timeout=120)
        self.target.run(facts["stop"], check=True, timeout=120)

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        if service_state(self.target, facts["service"]).active:
            return None
        return f"{facts['service']} is stopped on {self.target.name}"

    def undo(self, facts: Mapping[str, Any]) -> None:
        start_sockets(self.target, facts.get("sockets") or [])
        self.target.run(facts["start"], check=True, timeout=120)
