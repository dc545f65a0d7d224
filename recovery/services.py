"""Start or restart services in a given order, waiting for each to be active before the next.

This is the ops guide's dbus story ("Simply starting d-bus set the entire chain back on
track"): start dbus, then libvirtd. The order is the feature's, not the code's.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import ClassVar

from stackdrill.params import Param, positive_float, word_list
from stackdrill.runbook import Recovery, RecoveryFailed, RunbookStep
from stackdrill.units import unit_status
from stackdrill.waiting import WaitTimeout, poll


class StartServices(Recovery):
    name = "start_services"
    description = "systemctl start each service in order; wait until it is active"
    verb: ClassVar[str] = "start"
    params: ClassVar[Mapping[str, Param]] = {
        "services": Param("services in the order to act on, comma-separated", word_list),
        "timeout": Param("seconds each service may take to become active", positive_float, 30.0),
    }

    def runbook(self) -> list[RunbookStep]:
        steps = []
        for service in self.values["services"]:
            unit = self.target.unit(service)
            steps.append(RunbookStep(
                title=f"{self.verb.capitalize()} {service} on {self.target.name}",
                action=functools.partial(self._act, unit),
                commands=(f"systemctl {self.verb} {unit}", f"systemctl is-active {unit}"),
            ))
        return steps

    def _act(self, unit: str) -> None:
        self.target.run(f"systemctl {self.verb} {unit}", check=True)

        def active() -> bool:
            return unit_status(self.target, unit).active == "active"

        try:
            poll(active, timeout=self.values["timeout"], description=f"{unit} active")
        except WaitTimeout as exc:
            self.target.run(f"systemctl status --no-pager --lines=20 {unit}")
            raise RecoveryFailed(str(exc)) from exc
        self.target.run(f"systemctl is-active {unit}")


class RestartServices(StartServices):
    name = "restart_services"
    description = "systemctl restart each service in order; wait until it is active"
    verb = "restart"
