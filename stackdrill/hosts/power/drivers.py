"""What a power driver is, and the table of drivers by the name an inventory gives them.

The table is filled through the ``pytest_stackdrill_register`` hook, as faults are: the built-in
``ipmi``, ``redfish`` and ``libvirt`` drivers by :mod:`stackdrill.hosts.power`, the lab's
``lab`` driver by the lab, any other by a plugin
(``registries.power_drivers.register("mybmc", MyBmcDriver)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from stackdrill.core.errors import ActionFailed, BadInput
from stackdrill.inventory.model import HostSpec

__all__ = ["PowerDriver", "PowerDriverFactory", "PowerDrivers", "PowerError"]


class PowerError(ActionFailed):
    """A power action failed or the host has no usable power driver; one line."""


class PowerDriver(Protocol):
    def power_off(self) -> None: ...

    def power_on(self) -> None: ...

    def reset(self) -> None: ...

    def is_on(self) -> bool: ...


PowerDriverFactory = Callable[[HostSpec, Mapping[str, Any]], PowerDriver]
"""Builds a host's driver from the host and its ``power`` options; a driver class is one."""


class PowerDrivers:
    """The power drivers by name (``power: {driver: ipmi, ...}`` in the inventory)."""

    kind = "power driver"

    def __init__(self) -> None:
        self._factories: dict[str, PowerDriverFactory] = {}

    def register(self, name: str, factory: PowerDriverFactory) -> PowerDriverFactory:
        """Add ``factory`` as the driver ``name``; two drivers under one name are refused."""
        existing = self._factories.get(name)
        if existing is not None and existing is not factory:
            raise BadInput(f"power driver {name!r} registered twice: {_label(existing)} "
                             f"and {_label(factory)}")
        self._factories[name] = factory
        return factory

    def get(self, name: str) -> PowerDriverFactory:
        factory = self._factories.get(name)
        if factory is None:
            known = ", ".join(sorted(self._factories)) or "none registered"
            raise PowerError(f"unknown power driver {name!r} (known: {known})")
        return factory

    def driver(self, host: HostSpec) -> PowerDriver:
        """The driver of ``host``, built from its ``power`` options; :class:`PowerError` when
        the inventory gives it none or names one that is not registered."""
        if host.power is None:
            raise PowerError(f"{host.name}: the inventory gives it no power driver")
        try:
            factory = self.get(str(host.power.get("driver")))
        except PowerError as exc:
            raise PowerError(f"{host.name}: {exc}") from None
        return factory(host, host.power)

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._factories))

    def __len__(self) -> int:
        return len(self._factories)


def _label(factory: PowerDriverFactory) -> str:
    return f"{getattr(factory, '__module__', '?')}.{getattr(factory, '__qualname__', factory)}"
