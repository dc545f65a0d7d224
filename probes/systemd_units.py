"""The state of the services each role must run: one ``systemctl show`` in the host's batch.

The base services (dbus, sshd, and libvirtd on computes) are always watched; the OpenStack
services of a role are watched when the inventory names them in ``services``, which is how a
deployment says it runs them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from stackdrill.api.probe import Probe, ProbeFailed, ProbeOutput
from stackdrill.hostkit.units import parse_show, show_command
from stackdrill.hosts.target import Target


class SystemdUnits(Probe):
    name = "systemd_units"
    description = "ActiveState of the services each host's roles need"
    base_services: ClassVar[dict[str, tuple[str, ...]]] = {
        "*": ("dbus", "ssh"),
        "compute": ("libvirtd",),
    }
    role_services: ClassVar[dict[str, tuple[str, ...]]] = {
        "controller": ("mariadb", "rabbitmq", "memcached", "keystone", "placement-api",
                       "glance-api", "nova-api", "nova-conductor", "nova-scheduler",
                       "cinder-api", "cinder-scheduler", "neutron-api"),
        "compute": ("nova-compute",),
    }
    rules = ("host:*/unit:*/main_pid ignore",)

    def services(self, target: Target) -> list[str]:
        wanted = list(self.base_services["*"])
        declared = target.inventory.services
        for role in target.spec.roles:
            wanted += self.base_services.get(role, ())
            wanted += [s for s in self.role_services.get(role, ()) if s in declared]
        return list(dict.fromkeys(wanted))

    def command(self, target: Target) -> str:
        return show_command([target.unit(s) for s in self.services(target)])

    def parse(self, target: Target, output: ProbeOutput) -> dict[str, Any]:
        services = self.services(target)
        units = [target.unit(s) for s in services]
        statuses = parse_show(units, output.require_ok())
        values: dict[str, Any] = {}
        for service, unit in zip(services, units, strict=True):
            status = statuses.get(unit)
            if status is None:
                raise ProbeFailed(f"{target.name}: systemctl show said nothing of {unit}")
            values[f"unit:{service}/active"] = status.active
            values[f"unit:{service}/main_pid"] = status.main_pid
        return values

    def problems(self, values: dict[str, Any]) -> list[str]:
        return [f"{path.split('/')[0]} is {state}" for path, state in sorted(values.items())
                if path.endswith("/active") and state != "active"]
