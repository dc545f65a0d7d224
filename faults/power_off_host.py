"""Power a host off through its power driver and leave it off: a node down for a long time (a
failed power supply, a board awaiting parts). Undo powers it on again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stackdrill.api import Fault, FaultError
from stackdrill.hosts.identity import boot_identity
from stackdrill.hosts.power import PowerError
from stackdrill.hosts.ssh import HostError
from stackdrill.inventory.model import HostSpec, Inventory


class PowerOffHost(Fault):
    name = "power_off_host"
    description = ("Power the host off through its power driver and keep it off; confirmed "
                   "when the driver reports it off and it stops answering. Undo powers it on")

    @classmethod
    def inventory_problems(cls, raw_params: Mapping[str, str], inventory: Inventory,
                           hosts: Sequence[HostSpec]) -> list[str]:
        """Every host the fault may act on needs a power driver in the inventory."""
        unpowered = [spec.name for spec in hosts if spec.power is None]
        if not unpowered:
            return []
        return [f"the inventory gives {', '.join(unpowered)} no power driver, and powering a "
                f"host off needs one (add 'power' to the host or to 'defaults')"]

    def plan(self) -> list[str]:
        power = self.target.spec.power
        if power is None:
            raise HostError(f"{self.target.name}: the inventory gives it no power driver")
        return [f"power off via {power.get('driver')} driver"]

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
