"""Power a host off through its power driver and leave it off: a node down for a long time (a
failed power supply, a board awaiting parts). Undo powers it on again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackdrill.api.fault import Fault, FaultError
from stackdrill.hosts.identity import boot_identity
from stackdrill.hosts.power import PowerError
from stackdrill.hosts.ssh import HostError


class PowerOffHost(Fault):
    name = "power_off_host"
    description = ("Power the host off through its power driver and keep it off; confirmed "
                   "when the driver reports it off and it stops answering. Undo powers it on")

    def _driver_name(self) -> str:
        return str((self.target.spec.power or {}).get("driver", "none"))

    def plan(self) -> list[str]:
        return [f"power off via {self._driver_name()} driver"]

    def prepare(self) -> dict[str, Any]:
        try:
            driver = self.target.power_driver()
            if not driver.is_on():
                raise FaultError(f"{self.target.name} is already powered off")
        except PowerError as exc:
            raise FaultError(str(exc)) from exc
        return {"boot_identity": boot_identity(self.target)}

    def inject(self, facts: Mapping[str, Any]) -> None:
        try:
            self.target.power_driver().power_off()
        except PowerError as exc:
            raise FaultError(str(exc)) from exc

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """The power driver reports the host off, and the host does not answer."""
        try:
            if self.target.power_driver().is_on():
                return None
        except PowerError:
            return None
        try:
            boot_identity(self.target, timeout=3)
        except HostError as exc:
            return f"{self.target.name} is powered off and does not answer ({exc})"
        return None

    def undo(self, facts: Mapping[str, Any]) -> None:
        """Power the host on through its power driver, unless it is on already."""
        try:
            driver = self.target.power_driver()
            if not driver.is_on():
                driver.power_on()
        except PowerError as exc:
            raise FaultError(str(exc)) from exc
