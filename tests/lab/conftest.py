"""Lab tests run against the embedded lab, brought up once per session with ``--lab``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stackdrill.api._registry import load_registries
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.lab.lab import Lab


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/lab/" in item.nodeid:
            item.add_marker(pytest.mark.lab)


@pytest.fixture(scope="session")
def lab(pytestconfig: pytest.Config) -> Lab:
    if not pytestconfig.getoption("lab"):
        pytest.skip("lab tests need --lab")
    return Lab()


@pytest.fixture
def lab_targets(lab: Lab) -> Iterator[Targets]:
    """The lab's hosts, with its power driver, brought up first if need be."""
    targets = Targets(load_inventory(lab.ensure_up()),
                      power_drivers=load_registries().power_drivers)
    yield targets
    targets.close()
