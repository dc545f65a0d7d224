"""The drill vocabulary every run gets from the plugin: the built-in step modules, loaded as
pytest plugins, and the markers the drills' tags become.

pytest-bdd finds a step definition as a pytest fixture (``given``/``when``/``then`` add one to
the module that defines the step), looked up through pytest's fixture manager from the
scenario's test: a step module's steps match only once pytest registered the module as a
plugin (or it is a ``conftest.py``, or the test module itself). The plugin's ``__init__`` lists
:func:`step_modules` in its ``pytest_plugins``, so they are registered with the plugin itself:
their fixtures are global, a ``conftest.py`` or test module that defines a step with the same
text wins over them, and a ``pytest_plugins`` entry naming one of them again is a no-op (pytest
registers a module name once).

The markers are registered here for runs outside the checkout, whose ``pyproject.toml`` lists
them too: a marker an ini file already declares is left as declared.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

STEP_PACKAGE = "stackdrill.builtin.steps"

MARKERS: dict[str, str] = {
    "drill": "a Gherkin drill scenario that injects faults (its hosts are checked before "
             "anything runs)",
    "lab": "a drill written for the embedded lab's layout; a tag only: --lab brings the lab up",
    "wip": "drills written and not yet run on the lab; left out unless the marker expression "
           "names wip (-m wip)",
    "long": "drills that power hosts off for minutes",
    "compute": "drills of compute nodes",
    "control_plane": "drills of the cloud controller and its services",
    "devstack": "drills safe on DevStack, all-in-one or with subnodes",
    "block_storage": "drills of Cinder volumes and their iSCSI data path",
    "disaster": "drills of whole-cloud failures (power loss, restores)",
    "object_storage": "drills of Swift disks, storage nodes and rings",
    "network": "drills of network partitions, packet loss, frozen services and full disks",
    "ha": "drills of a highly available control plane (Galera, a RabbitMQ cluster, HAProxy and "
          "a keepalived VIP on several controllers); skipped against an inventory that names "
          "no such clusters and VIP",
    "tempest": "drills that end with Tempest's tests (stackdrill tempest install builds its "
               "virtualenv)",
    "alerts": "drills that say which alerts the cloud's monitoring must fire and clear (the "
              "inventory's alerts key names its Alertmanager)",
}
"""The tags of the shipped drills, as markers: ``--strict-markers`` accepts them anywhere."""


def step_modules() -> list[str]:
    """Every module of the built-in step package, by name, in the order of their names: the
    modules ``stackdrill list steps`` catalogues."""
    package = importlib.import_module(STEP_PACKAGE)
    return sorted(f"{STEP_PACKAGE}.{found.name}"
                  for found in pkgutil.iter_modules(package.__path__))


def declared_markers(config: pytest.Config) -> set[str]:
    """The names of the markers the ini files (and plugins so far) declare."""
    return {line.split(":")[0].split("(")[0].strip() for line in config.getini("markers")}


def pytest_configure(config: pytest.Config) -> None:
    declared = declared_markers(config)
    for name, meaning in MARKERS.items():
        if name not in declared:
            config.addinivalue_line("markers", f"{name}: {meaning}")
