"""Registries of faults, recoveries, probes and power drivers, filled through the
``pytest_stackdrill_register`` hook from entry points, pytest plugins and conftest files."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import pluggy

from stackdrill.api import hookspecs
from stackdrill.core.errors import BadInput, InvalidValue
from stackdrill.hosts.power.drivers import PowerDrivers

ENTRY_POINT_GROUP = "stackdrill.plugins"


class Named(Protocol):
    name: str
    description: str


T = TypeVar("T", bound=Named)


class UnknownName(BadInput, LookupError):
    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        listing = ", ".join(sorted(known)) or "none registered"
        super().__init__(f"unknown {kind} {name!r} (known: {listing})")

    def __str__(self) -> str:
        return str(self.args[0])


class DuplicateName(BadInput, ValueError):
    pass


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, type[T]] = {}

    def register(self, item: type[T]) -> type[T]:
        name = getattr(item, "name", None)
        if not isinstance(name, str) or not name:
            raise InvalidValue(f"{item!r} has no `name`; a {self.kind} needs one")
        existing = self._items.get(name)
        if existing is not None and existing is not item:
            raise DuplicateName(f"{self.kind} {name!r} registered twice: "
                                f"{existing.__module__}.{existing.__qualname__} and "
                                f"{item.__module__}.{item.__qualname__}")
        self._items[name] = item
        return item

    def get(self, name: str) -> type[T]:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownName(self.kind, name, self._items) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class Registries:
    faults: Registry[Any] = field(default_factory=lambda: Registry("fault"))
    recoveries: Registry[Any] = field(default_factory=lambda: Registry("recovery"))
    probes: Registry[Any] = field(default_factory=lambda: Registry("probe"))
    power_drivers: PowerDrivers = field(default_factory=PowerDrivers)


class _PluginManager(pluggy.PluginManager):
    """Accepts unmarked ``pytest_stackdrill_*`` functions, as pytest itself does."""

    def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith("pytest_stackdrill_"):
            return pluggy.HookimplOpts(wrapper=False, hookwrapper=False, optionalhook=False,
                                       tryfirst=False, trylast=False, specname=None)
        return opts


def entry_point_plugins() -> list[tuple[str, object]]:
    plugins = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        plugins.append((f"{ENTRY_POINT_GROUP}:{ep.name}", ep.load()))
    return plugins


def load_registries(extra_plugins: Iterable[object] = ()) -> Registries:
    """Registries outside a pytest run (the CLI's ``plan`` and ``recover``)."""
    pm = _PluginManager("pytest")
    pm.add_hookspecs(hookspecs)
    for name, plugin in entry_point_plugins():
        pm.register(plugin, name=name)
    for plugin in extra_plugins:
        pm.register(plugin)
    registries = Registries()
    pm.hook.pytest_stackdrill_register(registries=registries)
    return registries
