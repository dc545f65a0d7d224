"""Start or restart services in a given order, waiting for each to be active before the next.

This is the ops guide's dbus story ("Simply starting d-bus set the entire chain back on
track"): start dbus, then libvirtd. The order is the feature's, not the code's.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import ClassVar

from stackdrill.api import Recovery, RunbookStep
from stackdrill.core.params import Param, positive_float, word_list


class StartServices(Recovery):
    name = "start_services"
    description = ("start each service in order, as the deployment runs it (systemd, container, "
                   "LXC); wait until it runs")
    verb: ClassVar[str] = "start"
    params: ClassVar[Mapping[str, Param]] = {
        "services": Param("services in the order to act on, comma-separated", word_list),
        "timeout": Param("seconds each service may take to become active", positive_float, 30.0),
    }

    def runbook(self) -> list[RunbookStep]:
        steps = []
        for name in self.values["services"]:
            service = self.target.service(name)
            steps.append(RunbookStep(
                title=f"{self.verb.capitalize()} {name} on {self.target.name}",
                action=functools.partial(service.act, self.verb,
                                         timeout=self.values["timeout"]),
                commands=(service.command(self.verb), service.command("status")),
            ))
        return steps


class RestartServices(StartServices):
    name = "restart_services"
    description = ("restart each service in order, as the deployment runs it; wait until it "
                   "runs")
    verb = "restart"
