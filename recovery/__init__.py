"""Built-in recoveries, one module per kind, each a runbook from the operations guides."""

from __future__ import annotations

from stackdrill.registry import Registries


def pytest_stackdrill_register(registries: Registries) -> None:
    from recovery.services import RestartServices, StartServices

    registries.recoveries.register(StartServices)
    registries.recoveries.register(RestartServices)
