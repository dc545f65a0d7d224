"""Stop a service cleanly, as an outage of RabbitMQ or the database would look to its clients.

The service is stopped the way the deployment runs it (a systemd unit, a Docker or Podman
container, a unit inside an LXC container), through the inventory's deployment profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.fault import Fault, FaultError
from stackdrill.params import Param
from stackdrill.units import service_state


class StopService(Fault):
    name = "stop_service"
    description = ("stop a service (systemctl stop, docker/podman stop, or inside its LXC "
                   "container); confirmed when it no longer runs")
    params: ClassVar[Mapping[str, Param]] = {
        "service": Param("the service to stop, by its logical name in the inventory"),
    }

    @property
    def service(self) -> str:
        return str(self.values["service"])

    def plan(self) -> list[str]:
        return [self.target.service_command(self.service, "stop")]

    def prepare(self) -> dict[str, Any]:
        state = service_state(self.target, self.service)
        if not state.active:
            raise FaultError(f"{self.target.name}: {self.service} is not running")
        return {"service": self.service,
                "stop": self.target.service_command(self.service, "stop"),
                "start": self.target.service_command(self.service, "start")}

    def inject(self, facts: Mapping[str, Any]) -> None:
        self.target.run(facts["stop"], check=True, timeout=120)

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        if service_state(self.target, facts["service"]).active:
            return None
        return f"{facts['service']} is stopped on {self.target.name}"

    def undo(self, facts: Mapping[str, Any]) -> None:
        self.target.run(facts["start"], check=True, timeout=120)
