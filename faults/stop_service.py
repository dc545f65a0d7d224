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

from stackdrill.api import Fault, FaultError
from stackdrill.core.params import Param, boolean
from stackdrill.hostkit.units import (
    SOCKETS_PLACEHOLDER,
    reactivating_sockets,
    start_sockets,
    systemctl_command,
)
from stackdrill.hosts.service import Service


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
    def service(self) -> Service:
        return self.target.service(str(self.values["service"]))

    def _systemd_unit(self, service: Service) -> str | None:
        return service.host_unit if self.values["sockets"] else None

    def plan(self) -> list[str]:
        service = self.service
        unit = self._systemd_unit(service)
        if unit is None:
            return [service.command("stop")]
        quoted = shlex.quote(unit)
        return [f"systemctl stop <{SOCKETS_PLACEHOLDER} {quoted} again>",
                service.command("stop")]

    def prepare(self) -> dict[str, Any]:
        service = self.service
        if not service.is_running():
            raise FaultError(f"{self.target.name}: {service.name} is not running")
        unit = self._systemd_unit(service)
        sockets = reactivating_sockets(self.target, unit) if unit else []
        return {"service": service.name, "sockets": sockets,
                "stop": service.command("stop"), "start": service.command("start")}

    def inject(self, facts: Mapping[str, Any]) -> None:
        sockets = facts.get("sockets") or []
        if sockets:
            self.target.run(systemctl_command("stop", sockets), check=True, timeout=120)
        self.target.run(facts["stop"], check=True, timeout=120)

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """The service no longer runs, read the way the deployment runs it."""
        if self.target.service(facts["service"]).is_running():
            return None
        return f"{facts['service']} is stopped on {self.target.name}"

    def undo(self, facts: Mapping[str, Any]) -> None:
        """Start the sockets the injection stopped, then the service."""
        start_sockets(self.target, facts.get("sockets") or [])
        self.target.run(facts["start"], check=True, timeout=120)
