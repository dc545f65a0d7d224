"""Built-in state probes, one module per kind. They register through the same hook as plugins."""

from __future__ import annotations

from stackdrill.registry import Registries


def pytest_stackdrill_register(registries: Registries) -> None:
    from probes.libvirt_domains import LibvirtDomains
    from probes.systemd_units import SystemdUnits

    registries.probes.register(SystemdUnits)
    registries.probes.register(LibvirtDomains)
