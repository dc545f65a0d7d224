"""Hooks through which faults, recoveries, probes and power drivers are registered.

Built-ins and third-party plugins register the same way: implement ``pytest_stackdrill_register``
in a ``conftest.py``, a pytest plugin, or a module named by a ``stackdrill.plugins`` entry point.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from stackdrill.api._registry import Registries

hookspec = pluggy.HookspecMarker("pytest")


@hookspec
def pytest_stackdrill_register(registries: Registries) -> None:
    """Add fault, recovery and probe classes (``registries.faults.register(MyFault)``) and
    power drivers (``registries.power_drivers.register("mybmc", MyBmcDriver)``)."""
