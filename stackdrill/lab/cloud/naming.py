"""How the lab names the systemd units of its OpenStack services.

``packages`` (the default) names each unit after its service (``nova-compute``), as Debian's
packages do for most of them. ``devstack`` names them as DevStack does (``devstack@n-cpu``,
``devstack@c-vol``, ``devstack@g-api``), taken from the ``devstack`` deployment profile's data
file, so the lab proves that profile: the same features run under either naming. The
infrastructure services (MariaDB, RabbitMQ, memcached, tgtd, libvirtd, dbus) keep their
distribution units under both, as in DevStack. Choose with ``stackdrill lab up --units`` or
``STACKDRILL_LAB_UNITS``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from stackdrill.core.errors import BadInput

NAMINGS = ("packages", "devstack")
ENV = "STACKDRILL_LAB_UNITS"

# The lab's own unit files (written by stackdrill/lab/cloud/configs.py and swift.py); the other
# units it runs come with the distribution.
OWN_SERVICES = (
    "keystone", "placement-api", "glance-api", "nova-api", "cinder-api", "neutron-api",
    "nova-conductor", "nova-scheduler", "cinder-scheduler", "nova-compute", "cinder-volume",
    "cinder-backup", "swift-proxy-server", "swift-account-server", "swift-container-server",
    "swift-object-server",
)


class NamingError(BadInput, ValueError):
    pass


@dataclass(frozen=True)
class LabNaming:
    """``units``: service -> unit, for the services the naming renames."""

    name: str = "packages"
    units: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def unit(self, service: str) -> str:
        return self.units.get(service, service)

    def service_file(self, service: str) -> str:
        return f"/etc/systemd/system/{self.unit(service)}.service"

    @property
    def profile(self) -> str | None:
        """The deployment profile an inventory of the lab names (none for ``packages``: the
        lab's services map gives every unit)."""
        return None if self.name == "packages" else self.name


PACKAGES = LabNaming()


def lab_naming(name: str | None = None) -> LabNaming:
    """The naming ``name``, else ``$STACKDRILL_LAB_UNITS``, else ``packages``."""
    chosen = name or os.environ.get(ENV) or "packages"
    if chosen not in NAMINGS:
        raise NamingError(f"lab unit naming {chosen!r}: expected one of {', '.join(NAMINGS)}")
    if chosen == "packages":
        return LabNaming()
    from stackdrill.inventory.profiles import load_profile

    profile = load_profile(chosen)
    units = {}
    for service in OWN_SERVICES:
        placement = profile.placement(service)
        if placement.kind == "systemd" and placement.unit and placement.unit != service:
            units[service] = placement.unit
    return LabNaming(chosen, MappingProxyType(units))
