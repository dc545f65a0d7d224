"""Built-in recoveries, one module per kind, each a runbook from the operations guides."""

from __future__ import annotations

from stackdrill.api.registry import Registries


def pytest_stackdrill_register(registries: Registries) -> None:
    from recovery.after_compute_reboot import AfterComputeReboot
    from recovery.after_controller_reboot import AfterControllerReboot
    from recovery.align_ids import AlignIds
    from recovery.compute_failure import (
        EvacuateInstances,
        MoveInstancesInDatabase,
        RemoveStaleDomains,
    )
    from recovery.control_plane_backup import BackUpControlPlane, RestoreControlPlane
    from recovery.planned_compute_maintenance import PlannedComputeMaintenance
    from recovery.recover_after_power_loss import RecoverAfterPowerLoss
    from recovery.replace_swift_disk import ReplaceSwiftDisk
    from recovery.restart_database import RestartDatabase
    from recovery.restart_rabbitmq import RestartRabbitMQ
    from recovery.restore_in_priority_order import RestoreInPriorityOrder
    from recovery.restore_iscsi_sessions import RestoreIscsiSessions
    from recovery.services import RestartServices, StartServices
    from recovery.storage_node_rings import AddStorageNodeToRings, RemoveStorageNodeFromRings

    for recovery in (StartServices, RestartServices, AfterControllerReboot, RestartRabbitMQ,
                     RestartDatabase, AfterComputeReboot, ReplaceSwiftDisk,
                     RemoveStorageNodeFromRings, AddStorageNodeToRings, RestoreIscsiSessions,
                     RecoverAfterPowerLoss, EvacuateInstances, MoveInstancesInDatabase,
                     RemoveStaleDomains, PlannedComputeMaintenance, BackUpControlPlane,
                     RestoreControlPlane, RestoreInPriorityOrder, AlignIds):
        registries.recoveries.register(recovery)
