"""Power drivers: how a fault cuts a host's power or resets it, out of band.

The inventory names a host's driver (``power: {driver: ipmi, ...}``). Drivers register in the
:class:`PowerDrivers` table that :class:`stackdrill.api._registry.Registries` holds, through the
``pytest_stackdrill_register`` hook; a target builds its driver from that table. This package
registers ``ipmi``, ``redfish`` and ``libvirt`` (in :mod:`stackdrill.hosts.power.bmc`), which
drive servers' BMCs and virtual machines; the lab registers its own ``lab`` driver.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from stackdrill.hosts.power.drivers import (
    PowerDriver,
    PowerDriverFactory,
    PowerDrivers,
    PowerError,
)
from stackdrill.inventory.model import HostSpec

if TYPE_CHECKING:
    from stackdrill.api._registry import Registries

__all__ = ["PowerDriver", "PowerDriverFactory", "PowerDrivers", "PowerError",
           "power_secrets", "pytest_stackdrill_register"]


def _ipmi(host: HostSpec, options: Mapping[str, Any]) -> PowerDriver:
    from stackdrill.hosts.power.ipmi import IpmiPowerDriver

    return IpmiPowerDriver(host, options)


def _redfish(host: HostSpec, options: Mapping[str, Any]) -> PowerDriver:
    from stackdrill.hosts.power.redfish import RedfishPowerDriver

    return RedfishPowerDriver(host, options)


def _libvirt(host: HostSpec, options: Mapping[str, Any]) -> PowerDriver:
    from stackdrill.hosts.power.libvirt import LibvirtPowerDriver

    return LibvirtPowerDriver(host, options)


def pytest_stackdrill_register(registries: Registries) -> None:
    """The built-in drivers of servers' BMCs and virtual machines."""
    for name, factory in (("ipmi", _ipmi), ("redfish", _redfish), ("libvirt", _libvirt)):
        registries.power_drivers.register(name, factory)


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
