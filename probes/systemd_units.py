"""The state of the services each role must run, read from systemd in one command per host."""

from __future__ import annotations

from typing import Any, ClassVar

from stackdrill.hosts.target import Target
from stackdrill.probe import Probe
from stackdrill.units import unit_statuses


class SystemdUnits(Probe):
    name = "systemd_units"
    description = "ActiveState of the services each host's roles need"
    services_by_role: ClassVar[dict[str, tuple[str, ...]]] = {
        "*": ("dbus", "ssh"),
        "compute": ("libvirtd",),
    }
    rules = ("host:*/unit:*/main_pid ignore",)

    def services(self, target: Target) -> list[str]:
        wanted = list(self.services_by_role.get("*", ()))
        for role in target.spec.roles:
            wanted += [s for s in self.services_by_role.get(role, ()) if s not in wanted]
        return wanted

    def observe(self, target: Target) -> dict[str, Any]:
        services = self.services(target)
        units = [target.unit(s) for s in services]
        statuses = unit_statuses(target, units)
        values: dict[str, Any] = {}
        for service, unit in zip(services, units, strict=True):
            status = statuses[unit]
            values[f"unit:{service}/active"] = status.active
            values[f"unit:{service}/main_pid"] = status.main_pid
        return values

    def problems(self, values: dict[str, Any]) -> list[str]:
        return [f"{path.split('/')[0]} is {state}" for path, state in sorted(values.items())
                if path.endswith("/active") and state != "active"]
