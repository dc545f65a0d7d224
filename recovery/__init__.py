"""Built-in recoveries, one module per kind, each a runbook from the operations guides."""

from __future__ import annotations

from stackdrill.api import Registries


def pytest_stackdrill_register(registries: Registries) -> None:
    from .after_compute_reboot import AfterComputeReboot
    from .after_controller_reboot import AfterControllerReboot
    from .align_ids import AlignIds
    from .bootstrap_galera import BootstrapGalera
    from .check_markers import CheckMarkers
    from .control_plane_backup import BackUpControlPlane, RestoreControlPlane
    from .evacuate_instances import EvacuateInstances
    from .move_instances_in_database import MoveInstancesInDatabase
    from .planned_compute_maintenance import PlannedComputeMaintenance
    from .recover_after_power_loss import RecoverAfterPowerLoss
    from .rejoin_controller import RejoinController
    from .remove_stale_domains import RemoveStaleDomains
    from .replace_swift_disk import ReplaceSwiftDisk
    from .restart_database import RestartDatabase
    from .restart_frozen_service import RestartFrozenService
    from .restart_rabbitmq import RestartRabbitMQ
    from .restore_in_priority_order import RestoreInPriorityOrder
    from .restore_iscsi_sessions import RestoreIscsiSessions
    from .roll_back_upgrade import RollBackUpgrade
    from .rolling_upgrade_computes import RollingUpgradeComputes
    from .services import RestartServices, StartServices
    from .start_rabbitmq_cluster import StartRabbitmqCluster
    from .storage_node_rings import AddStorageNodeToRings, RemoveStorageNodeFromRings
    from .upgrade_control_plane import UpgradeControlPlane
    from .write_markers import WriteMarkers

    for recovery in (StartServices, RestartServices, AfterControllerReboot, RestartRabbitMQ,
                     RestartDatabase, AfterComputeReboot, ReplaceSwiftDisk,
                     RemoveStorageNodeFromRings, AddStorageNodeToRings, RestoreIscsiSessions,
                     RecoverAfterPowerLoss, EvacuateInstances, MoveInstancesInDatabase,
                     RemoveStaleDomains, PlannedComputeMaintenance, BackUpControlPlane,
                     RestoreControlPlane, RestoreInPriorityOrder, AlignIds,
                     RestartFrozenService, BootstrapGalera, StartRabbitmqCluster,
                     RejoinController, WriteMarkers, CheckMarkers, UpgradeControlPlane,
                     RollingUpgradeComputes, RollBackUpgrade):
        registries.recoveries.register(recovery)
