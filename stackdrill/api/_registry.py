"""Registries of faults, recoveries, probes and power drivers, filled through the
``pytest_stackdrill_register`` hook from entry points, pytest plugins and conftest files."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import pluggy

from stackdrill.api import _hookspecs
from stackdrill.core.errors import BadInput, InvalidValue
from stackdrill.hosts.power.drivers import PowerDrivers

_ENTRY_POINT_GROUP = "stackdrill.plugins"


class _Named(Protocol):
    name: str
    description: str


_T = TypeVar("_T", bound=_Named)


class UnknownName(BadInput, LookupError):
    """A feature or a journal names a fault, recovery or probe that is not registered; one line
    listing the registered names."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        listing = ", ".join(sorted(known)) or "none registered"
        super().__init__(f"unknown {kind} {name!r} (known: {listing})")

    def __str__(self) -> str:
        return str(self.args[0])


class DuplicateName(BadInput, ValueError):
    """Two different classes were registered under one name."""


class Registry(Generic[_T]):
    """The classes of one kind (faults, recoveries or probes) by their ``name``: what a
    feature's steps look up. ``name in registry`` says whether one is registered, iterating
    gives the names, sorted."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, type[_T]] = {}

    def register(self, item: type[_T]) -> type[_T]:
        """Add the class ``item`` under its ``name`` and return it (so it works as a class
        decorator too). Registering the same class again changes nothing, so a project's hook
        may run from its entry point and its ``conftest.py`` both; another class under a name
        already taken is refused (:class:`DuplicateName`), and so is a class without a
        ``name``."""
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

    def get(self, name: str) -> type[_T]:
        """The class registered as ``name``; :class:`UnknownName`, listing the registered
        names, when there is none."""
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
    """Everything a run can use, as the ``pytest_stackdrill_register`` hook receives it:
    ``faults``, ``recoveries`` and ``probes`` (each a :class:`Registry`, e.g.
    ``registries.faults.register(MyFault)``), and ``power_drivers``, the power drivers an
    inventory's hosts can name (``registries.power_drivers.register("mybmc", MyBmcDriver)``).
    Every registered probe takes part in every drill of the run; a fault or a recovery is used
    where a feature names it."""

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
    """The modules the ``stackdrill.plugins`` entry points name, loaded, each with its
    entry point's name."""
    plugins = []
    for ep in importlib.metadata.entry_points(group=_ENTRY_POINT_GROUP):
        plugins.append((f"{_ENTRY_POINT_GROUP}:{ep.name}", ep.load()))
    return plugins


def load_registries(extra_plugins: Iterable[object] = ()) -> Registries:
    """Registries outside a pytest run (the CLI's ``plan`` and ``recover``)."""
    pm = _PluginManager("pytest")
    pm.add_hookspecs(_hookspecs)
    for name, plugin in entry_point_plugins():
        pm.register(plugin, name=name)
    for plugin in extra_plugins:
        pm.register(plugin)
    registries = Registries()
    pm.hook.pytest_stackdrill_register(registries=registries)
    return registries
