"""Reboot a host: gracefully, as an operator's ``reboot`` does, or hard, by a power reset."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from stackdrill.api import Fault, FaultError
from stackdrill.core.errors import InvalidValue
from stackdrill.core.params import Param, parse_params
from stackdrill.hosts.identity import boot_identity
from stackdrill.hosts.power import PowerError
from stackdrill.hosts.ssh import HostError
from stackdrill.inventory.model import HostSpec, Inventory


def _mode(text: str) -> str:
    if text not in ("graceful", "hard"):
        raise InvalidValue(f"expected graceful or hard, got {text!r}")
    return text


def _proof(text: str) -> str:
    if text not in ("down", "boot_identity"):
        raise InvalidValue(f"expected down or boot_identity, got {text!r}")
    return text


class RebootHost(Fault):
    name = "reboot_host"
    description = ("Reboot the host: 'graceful' runs systemctl reboot on it, 'hard' resets it "
                   "through its power driver. Confirmed when its boot identity has changed, or "
                   "(unless proof is boot_identity) when its power driver reports it off.")
    params: ClassVar[Mapping[str, Param]] = {
        "mode": Param("graceful or hard", _mode, "graceful"),
        "proof": Param("down: a changed boot identity or the power driver reporting the host "
                       "off; boot_identity: only a changed boot identity (the host is back)",
                       _proof, "down"),
    }

    @classmethod
    def inventory_problems(cls, raw_params: Mapping[str, str], inventory: Inventory,
                           hosts: Sequence[HostSpec]) -> list[str]:
        """A hard reboot needs a power driver in the inventory for every host it may act on."""
        if parse_params(f"fault {cls.name!r}", cls.params, raw_params)["mode"] != "hard":
            return []
        unpowered = [spec.name for spec in hosts if spec.power is None]
        if not unpowered:
            return []
        return [f"the inventory gives {', '.join(unpowered)} no power driver, and a hard "
                f"reboot resets the host through one (add 'power' to the host or to "
                f"'defaults', or reboot with mode graceful)"]

    def plan(self) -> list[str]:
        if self.values["mode"] == "graceful":
            return ["systemctl reboot"]
        if self.target.spec.power is None:
            raise HostError(f"{self.target.name}: the inventory gives it no power driver")
        return [f"power reset via {self._driver_name()} driver"]

    def _driver_name(self) -> str:
        return str((self.target.spec.power or {}).get("driver", "none"))

    def prepare(self) -> dict[str, Any]:
        if self.values["mode"] == "hard":
            try:
                self.target.power_driver()
            except PowerError as exc:
                raise FaultError(str(exc)) from exc
        return {"boot_identity": boot_identity(self.target)}

    def inject(self, facts: Mapping[str, Any]) -> None:
        if self.values["mode"] == "graceful":
            # The connection may drop before the command returns.
            with contextlib.suppress(HostError):
                self.target.run("systemctl reboot", timeout=10)
        else:
            try:
                self.target.power_driver().reset()
            except PowerError as exc:
                raise FaultError(str(exc)) from exc

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """A host that does not answer proves nothing by itself (a network blip, a slow
        sshd): only a new boot identity, or the power driver seeing the host off, does."""
        try:
            current = boot_identity(self.target, timeout=3)
        except HostError:
            return self._seen_off() if self.values["proof"] == "down" else None
        if current != facts["boot_identity"]:
            return (f"{self.target.name} rebooted: boot identity {current} "
                    f"(was {facts['boot_identity']})")
        return None

    def _seen_off(self) -> str | None:
        if self.target.spec.power is None:
            return None
        try:
            if self.target.power_driver().is_on():
                return None
        except PowerError:
            return None
        return (f"{self.target.name} went down: its {self._driver_name()} power driver "
                f"reports it off")

    def undo(self, facts: Mapping[str, Any]) -> None:
        """Power the host on where its power driver reports it off; a host without a power
        driver is left to come back by itself."""
        if self.target.spec.power is None:
            return
        try:
            driver = self.target.power_driver()
            if not driver.is_on():
                driver.power_on()
        except PowerError as exc:
            raise FaultError(str(exc)) from exc
