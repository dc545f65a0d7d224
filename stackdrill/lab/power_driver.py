"""The lab's ``lab`` power driver, registered by the lab itself (the ``stackdrill.plugins`` entry
point ``lab``): it powers a lab host off by killing its init from outside, and on again
(:class:`stackdrill.lab.power.LabPower`).

Inventory: ``power: {driver: lab, name: compute1, lab_dir: /var/lib/stackdrill-lab}``; ``name``
defaults to the inventory's host name and ``lab_dir`` to the lab's default directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackdrill.inventory.model import HostSpec

if TYPE_CHECKING:
    from stackdrill.api._registry import Registries


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


def pytest_stackdrill_register(registries: Registries) -> None:
    """The ``lab`` driver."""
    registries.power_drivers.register("lab", LabPowerDriver)
