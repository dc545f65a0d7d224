"""Built-in faults, one module per kind. They register through the same hook as any plugin."""

from __future__ import annotations

from stackdrill.registry import Registries


def pytest_stackdrill_register(registries: Registries) -> None:
    from faults.service_kill import KillService

    registries.faults.register(KillService)
