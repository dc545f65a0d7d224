"""Power drivers: how a fault cuts a host's power or resets it, out of band.

The inventory names a host's driver (``power: {driver: lab, ...}``); drivers register in
:data:`DRIVERS`. The lab's driver kills the host's init from outside; ``ipmi``, ``redfish`` and
``libvirt`` (in :mod:`stackdrill.hosts.power.bmc`) drive servers' BMCs and virtual machines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from stackdrill.inventory.model import HostSpec


class PowerError(Exception):
    """A power action failed or the host has no usable power driver; one line."""


class PowerDriver(Protocol):
    def power_off(self) -> None: ...

    def power_on(self) -> None: ...

    def reset(self) -> None: ...

    def is_on(self) -> bool: ...


class LabPowerDriver:
    def __init__(self, host: HostSpec, options: Mapping[str, Any]) -> None:
        from stackdrill.lab.power import LabPower
        from stackdrill.lab.topology import LabPaths

        root = options.get("lab_dir")
        self._power = LabPower(LabPaths(Path(root)) if root else LabPaths.default())
        self._name = str(options.get("name", host.name))

    def power_off(self) -> None:
        self._power.power_off(self._name)

    def power_on(self) -> None:
        self._power.power_on(self._name)

    def reset(self) -> None:
        self._power.reboot(self._name, graceful=False)

    def is_on(self) -> bool:
        return self._power.is_on(self._name)


def _ipmi(host: HostSpec, options: Mapping[str, Any]) -> PowerDriver:
    from stackdrill.hosts.power.ipmi import IpmiPowerDriver

    return IpmiPowerDriver(host, options)


def _redfish(host: HostSpec, options: Mapping[str, Any]) -> PowerDriver:
    from stackdrill.hosts.power.redfish import RedfishPowerDriver

    return RedfishPowerDriver(host, options)


def _libvirt(host: HostSpec, options: Mapping[str, Any]) -> PowerDriver:
    from stackdrill.hosts.power.libvirt import LibvirtPowerDriver

    return LibvirtPowerDriver(host, options)


DRIVERS: dict[str, Callable[[HostSpec, Mapping[str, Any]], PowerDriver]] = {
    "lab": LabPowerDriver,
    "ipmi": _ipmi,
    "redfish": _redfish,
    "libvirt": _libvirt,
}

def power_secrets(hosts: Iterable[HostSpec]) -> list[str]:
    """Every power password the hosts' options give or point to, for the report redactor (each
    one, even where the options are otherwise incomplete or give more than one)."""
    from stackdrill.hosts.power.bmc import password

    secrets: list[str] = []
    for host in hosts:
        options = host.power or {}
        for key in ("password", "password_env", "password_file"):
            if key not in options:
                continue
            try:
                secret = password(host, {"driver": options.get("driver"), key: options[key]})
            except PowerError:
                continue
            if secret not in secrets:
                secrets.append(secret)
    return secrets


def power_driver(host: HostSpec) -> PowerDriver:
    if host.power is None:
        raise PowerError(f"{host.name}: the inventory gives it no power driver")
    name = str(host.power.get("driver"))
    factory = DRIVERS.get(name)
    if factory is None:
        known = ", ".join(sorted(DRIVERS))
        raise PowerError(f"{host.name}: unknown power driver {name!r} (known: {known})")
    return factory(host, host.power)
