"""The state of the services each role must run, read in the host's batch as the deployment
runs them (:func:`stackdrill.hosts.service.status_command`: one ``systemctl show`` for the host's
units, one ``inspect`` for its containers, one ``systemctl show`` in each LXC container), and
recorded in systemd's words whatever runs them.

The base services (dbus, sshd, and libvirtd on computes) are always watched; the OpenStack
services of a role are watched when the inventory names them in ``services``, which is how a
deployment says it runs them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from stackdrill.api import Probe, ProbeFailed, ProbeOutput
from stackdrill.hosts.service import Service, parse_statuses, status_command
from stackdrill.hosts.ssh import HostError
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

    def handles(self, target: Target) -> list[Service]:
        return [target.service(name) for name in self.services(target)]

    def command(self, target: Target) -> str:
        return status_command(self.handles(target))

    def parse(self, target: Target, output: ProbeOutput) -> dict[str, Any]:
        services = self.handles(target)
        text = output.require_ok()
        try:
            statuses = parse_statuses(services, text)
        except HostError as exc:
            raise ProbeFailed(f"{target.name}: {exc}") from None
        values: dict[str, Any] = {}
        for service, status in zip(services, statuses, strict=True):
            values[f"unit:{service.name}/active"] = status.active
            values[f"unit:{service.name}/main_pid"] = status.main_pid
        return values

    def problems(self, values: dict[str, Any]) -> list[str]:
        return [f"{path.split('/')[0]} is {state}" for path, state in sorted(values.items())
                if path.endswith("/active") and state != "active"]
