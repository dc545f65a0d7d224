"""Keep services from starting at boot, as a data centre does before it brings a cloud back in
priority order after a complete failure: every service of a priority list that is enabled on
the host is disabled, nothing stopped, the way the deployment runs it (``systemctl disable`` of
its unit, on the host, in its LXC container, or Kolla's unit wrapping its container; a
container that no unit wraps gets the restart policy ``no``). Undo enables and starts them again
(a host that booted while they were held has them stopped)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Fault, FaultError
from stackdrill.core.params import Param
from stackdrill.hostkit.priorities import priority_list
from stackdrill.hostkit.units import systemctl_command
from stackdrill.hosts.service import Service
from stackdrill.hosts.ssh import HostError

# What ``systemctl is-enabled`` answers for a unit this fault disabled.
HELD = "disabled"


class HoldServicesAtBoot(Fault):
    name = "hold_services_at_boot"
    description = ("disable at boot every service a restoration priority list names that is "
                   "enabled on the host (nothing is stopped); undo enables and starts them")
    params: ClassVar[Mapping[str, Param]] = {
        "order": Param("a priority list: a built-in name or a YAML file",
                       priority_list, "ops-guide-table-11-1"),
    }

    def _services(self) -> list[Service]:
        """The priority list's services as this host runs them, each unit or container once."""
        found: dict[str, Service] = {}
        try:
            for name in self.values["order"].services():
                service = self.target.service(name)
                found.setdefault(service.describe(), service)
        except HostError as exc:
            raise FaultError(str(exc)) from exc
        return list(found.values())

    def plan(self) -> list[str]:
        services = self._services()
        if all(service.host_unit for service in services):
            units = ", ".join(service.label for service in services)
            return [f"systemctl disable <each of {units} enabled here>"]
        described = ", ".join(service.describe() for service in services)
        return [f"disable at boot <each of {described} enabled here>"]

    def _states(self, services: list[Service]) -> dict[str, str] | None:
        """Each service's boot state as ``systemctl is-enabled`` answers it, empty where nothing
        answered (a bus error while the host shuts down, a timeout, a container this host does
        not have); None if the read itself failed."""
        reads = []
        for service in services:
            try:
                state = service.boot_command("is-enabled")
            except HostError:  # an LXC container group this host does not have
                continue
            reads.append(f'echo {shlex.quote(service.name)} "$({state} 2>/dev/null)"')
        if not reads:
            return {}
        result = self.target.run("; ".join(reads), record=False)
        if not result.ok:
            return None
        return {fields[0]: " ".join(fields[1:]) for fields in
                (line.split() for line in result.stdout.splitlines()) if fields}

    def _enabled(self, services: list[Service]) -> list[Service]:
        states = self._states(services)
        if states is None:
            raise FaultError(f"{self.target.name}: cannot read the services' boot state")
        return [service for service in services if states.get(service.name) == "enabled"]

    def prepare(self) -> dict[str, Any]:
        services = self._enabled(self._services())
        if not services:
            raise FaultError(f"{self.target.name}: no service of the priority list is enabled "
                             f"at boot here; nothing to hold")
        return {"services": [service.name for service in services],
                "units": [service.label for service in services]}

    def _switch(self, names: list[str], verb: str) -> None:
        """``disable``, or ``enable`` (and start): the host's units in one ``systemctl``
        command, then each other service in its own."""
        services = [self.target.service(name) for name in names]
        units = [service.host_unit for service in services if service.host_unit]
        commands = [systemctl_command(f"{verb}{' --now' if verb == 'enable' else ''}", units)
                    ] if units else []
        commands += [service.boot_command(verb) for service in services
                     if not service.host_unit]
        for command in commands:
            self.target.run(command, check=True, timeout=300)

    def inject(self, facts: Mapping[str, Any]) -> None:
        self._switch(facts["services"], "disable")

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """Held only when each service reads exactly what ``systemctl disable`` leaves; an
        empty or any other answer proves nothing yet."""
        names = facts["services"]
        if not names:
            return None
        states = self._states([self.target.service(name) for name in names])
        if states is None or any(states.get(name) != HELD for name in names):
            return None
        return f"held at boot on {self.target.name}: {', '.join(facts['units'])}"

    def undo(self, facts: Mapping[str, Any]) -> None:
        """Enable the held services at boot again and start them (a host that booted while
        they were held has them stopped)."""
        # --now: a host that booted while they were held has them stopped; they ran before.
        if "services" in facts:
            self._switch(facts["services"], "enable")
        elif facts["units"]:  # a journal from before services had handles: host units
            self.target.run("systemctl enable --now " + " ".join(facts["units"]), check=True,
                            timeout=300)
