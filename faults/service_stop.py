"""Stop a service cleanly, as an outage of RabbitMQ or the database would look to its clients."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.fault import Fault, FaultError
from stackdrill.params import Param
from stackdrill.units import unit_status


class StopService(Fault):
    name = "stop_service"
    description = "systemctl stop a service; confirmed when the unit is inactive"
    params: ClassVar[Mapping[str, Param]] = {
        "service": Param("the service to stop, by its logical name in the inventory"),
    }

    @property
    def unit(self) -> str:
        return self.target.unit(self.values["service"])

    def plan(self) -> list[str]:
        return [f"systemctl stop {self.unit}"]

    def prepare(self) -> dict[str, Any]:
        status = unit_status(self.target, self.unit)
        if status.active != "active":
            raise FaultError(f"{self.target.name}: {self.unit} is {status.active}, not running")
        return {"unit": self.unit}

    def inject(self, facts: Mapping[str, Any]) -> None:
        self.target.run(f"systemctl stop {facts['unit']}", check=True, timeout=120)

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        status = unit_status(self.target, facts["unit"])
        if status.active in ("inactive", "failed"):
            return f"{facts['unit']} is {status.active} on {self.target.name}"
        return None

    def undo(self, facts: Mapping[str, Any]) -> None:
        self.target.run(f"systemctl start {facts['unit']}", check=True, timeout=120)
