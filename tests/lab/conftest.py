"""Lab tests run against the embedded lab, brought up once per session with ``--lab``."""

from __future__ import annotations

import pytest

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
