"""Keep services from starting at boot, as a data centre does before it brings a cloud back in
priority order after a complete failure: every service of a priority list that is enabled on
the host is disabled (``systemctl disable``, nothing stopped). Undo enables and starts them
again (a host that booted while they were held has them stopped)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api.fault import Fault, FaultError
from stackdrill.core.params import Param
from stackdrill.hostkit.priorities import priority_list
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

    def _units(self) -> list[str]:
        try:
            return [self.target.unit(service) for service in self.values["order"].services()]
        except HostError as exc:
            raise FaultError(str(exc)) from exc

    def plan(self) -> list[str]:
        return [f"systemctl disable <each of {', '.join(self._units())} enabled here>"]

    def _states(self, units: list[str]) -> dict[str, str] | None:
        """Each unit's ``systemctl is-enabled`` answer, empty where systemctl answered nothing
        (a bus error while the host shuts down, a timeout); None if the read itself failed."""
        quoted = " ".join(shlex.quote(u) for u in units)
        result = self.target.run(f"for u in {quoted}; do echo \"$u $(systemctl is-enabled "
                                 f"\"$u\" 2>/dev/null)\"; done", record=False)
        if not result.ok:
            return None
        return {fields[0]: " ".join(fields[1:]) for fields in
                (line.split() for line in result.stdout.splitlines()) if fields}

    def _enabled(self, units: list[str]) -> list[str]:
        states = self._states(units)
        if states is None:
            raise FaultError(f"{self.target.name}: cannot read the units' boot state")
        return [unit for unit in units if states.get(unit) == "enabled"]

    def prepare(self) -> dict[str, Any]:
        units = self._enabled(self._units())
        if not units:
            raise FaultError(f"{self.target.name}: no service of the priority list is enabled "
                             f"at boot here; nothing to hold")
        return {"units": units}

    def inject(self, facts: Mapping[str, Any]) -> None:
        if facts["units"]:
            self.target.run("systemctl disable " + " ".join(facts["units"]), check=True)

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """Held only when each unit reads exactly what ``systemctl disable`` leaves; an empty
        or any other answer proves nothing yet."""
        if not facts["units"]:
            return None
        states = self._states(facts["units"])
        if states is None or any(states.get(unit) != HELD for unit in facts["units"]):
            return None
        return f"held at boot on {self.target.name}: {', '.join(facts['units'])}"

    def undo(self, facts: Mapping[str, Any]) -> None:
        # --now: a host that booted while they were held has them stopped; they ran before.
        if facts["units"]:
            self.target.run("systemctl enable --now " + " ".join(facts["units"]), check=True,
                            timeout=300)
