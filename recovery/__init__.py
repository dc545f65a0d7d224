"""Built-in recoveries, one module per kind, each a runbook from the operations guides."""

from __future__ import annotations

from stackdrill.registry import Registries


def pytest_stackdrill_register(registries: Registries) -> None:
    from recovery.backup import BackUpControlPlane, RestoreControlPlane
    from recovery.compute_failure import (
        EvacuateInstances,
        MoveInstancesInDatabase,
        RemoveStaleDomains,
    )
    from recovery.compute_maintenance import PlannedComputeMaintenance
    from recovery.compute_reboot import AfterComputeReboot
    from recovery.controller import AfterControllerReboot
    from recovery.database import RestartDatabase
    from recovery.id_alignment import AlignIds
    from recovery.iscsi import RestoreIscsiSessions
    from recovery.power_loss import RecoverAfterPowerLoss
    from recovery.priority_order import RestoreInPriorityOrder
    from recovery.rabbitmq import RestartRabbitMQ
    from recovery.services import RestartServices, StartServices
    from recovery.swift_disk import ReplaceSwiftDisk
    from recovery.swift_rings import AddStorageNodeToRings, RemoveStorageNodeFromRings

    for recovery in (StartServices, RestartServices, AfterControllerReboot, RestartRabbitMQ,
                     RestartDatabase, AfterComputeReboot, ReplaceSwiftDisk,
                     RemoveStorageNodeFromRings, AddStorageNodeToRings, RestoreIscsiSessions,
                     RecoverAfterPowerLoss, EvacuateInstances, MoveInstancesInDatabase,
                     RemoveStaleDomains, PlannedComputeMaintenance, BackUpControlPlane,
                     RestoreControlPlane, RestoreInPriorityOrder, AlignIds):
        registries.recoveries.register(recovery)
