"""Built-in state probes, one module per kind. They register through the same hook as plugins."""

from __future__ import annotations

from stackdrill.api import Registries


def pytest_stackdrill_register(registries: Registries) -> None:
    from .account_ids import AccountIds
    from .amqp_connections import AmqpConnections
    from .cloud_api import CloudApi
    from .cloud_images import CloudImages
    from .filesystem_use import FilesystemUse
    from .galera_cluster import GaleraCluster
    from .haproxy_backends import HaproxyBackends
    from .iscsi_paths import IscsiPaths
    from .iscsi_targets import IscsiTargets
    from .keystone_tokens import KeystoneTokens
    from .libvirt_domains import LibvirtDomains
    from .nova_db import NovaDatabase
    from .rabbitmq_cluster import RabbitmqCluster
    from .swift_disks import SwiftDisks
    from .swift_objects import SwiftObjects
    from .swift_replicas import SwiftReplicas
    from .systemd_units import SystemdUnits
    from .vip_holder import VipHolder

    for probe in (SystemdUnits, LibvirtDomains, AmqpConnections, CloudApi, CloudImages,
                  NovaDatabase, SwiftDisks, SwiftObjects, SwiftReplicas, IscsiTargets, IscsiPaths,
                  AccountIds, FilesystemUse, KeystoneTokens, GaleraCluster, RabbitmqCluster,
                  VipHolder, HaproxyBackends):
        registries.probes.register(probe)
