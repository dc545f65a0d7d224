"""Built-in state probes, one module per kind. They register through the same hook as plugins."""

from __future__ import annotations

from stackdrill.api.registry import Registries


def pytest_stackdrill_register(registries: Registries) -> None:
    from probes.account_ids import AccountIds
    from probes.amqp_connections import AmqpConnections
    from probes.cloud_api import CloudApi
    from probes.iscsi_paths import IscsiPaths
    from probes.iscsi_targets import IscsiTargets
    from probes.libvirt_domains import LibvirtDomains
    from probes.nova_db import NovaDatabase
    from probes.swift_disks import SwiftDisks
    from probes.swift_objects import SwiftObjects
    from probes.swift_replicas import SwiftReplicas
    from probes.systemd_units import SystemdUnits

    for probe in (SystemdUnits, LibvirtDomains, AmqpConnections, CloudApi, NovaDatabase,
                  SwiftDisks, SwiftObjects, SwiftReplicas, IscsiTargets, IscsiPaths, AccountIds):
        registries.probes.register(probe)
