"""The modules the built-in faults and recoveries were loaded from before they were renamed, and
where each class lives now, so that a journal written by an earlier version still loads.

The built-ins were top-level packages (``faults.service_kill``, ``recovery.backup``), then kept
those packages under names that say what they register (``faults.kill_service``), then moved
into ``stackdrill.builtin``; ``recovery.compute_failure`` was split into one module per
recovery. Class names never changed.
"""

from __future__ import annotations

from collections.abc import Mapping

BUILTIN_PACKAGE = "stackdrill.builtin"

RENAMED: Mapping[str, str] = {
    "faults.boot_hold": "faults.hold_services_at_boot",
    "faults.file_remove": "faults.remove_files",
    "faults.host_reboot": "faults.reboot_host",
    "faults.iscsi_sessions": "faults.drop_iscsi_sessions",
    "faults.power_off": "faults.power_off_host",
    "faults.service_kill": "faults.kill_service",
    "faults.service_stop": "faults.stop_service",
    "faults.table_drop": "faults.drop_table",
    "recovery.backup": "recovery.control_plane_backup",
    "recovery.compute_maintenance": "recovery.planned_compute_maintenance",
    "recovery.compute_reboot": "recovery.after_compute_reboot",
    "recovery.controller": "recovery.after_controller_reboot",
    "recovery.database": "recovery.restart_database",
    "recovery.id_alignment": "recovery.align_ids",
    "recovery.iscsi": "recovery.restore_iscsi_sessions",
    "recovery.power_loss": "recovery.recover_after_power_loss",
    "recovery.priority_order": "recovery.restore_in_priority_order",
    "recovery.rabbitmq": "recovery.restart_rabbitmq",
    "recovery.swift_disk": "recovery.replace_swift_disk",
    "recovery.swift_rings": "recovery.storage_node_rings",
}
"""Top-level module names before the built-ins were named after what they register."""

TOP_LEVEL: tuple[str, ...] = (
    *RENAMED.values(),
    "faults.disk_io_errors",
    "faults.id_mismatch",
    "faults.pull_disk",
    "recovery.services",
)
"""The top-level module names the built-ins had just before they moved into
``stackdrill.builtin``, besides those :data:`RENAMED` gives."""

SPLIT: Mapping[str, Mapping[str, str]] = {
    "recovery.compute_failure": {
        "EvacuateInstances": "recovery.evacuate_instances",
        "MoveInstancesInDatabase": "recovery.move_instances_in_database",
        "RemoveStaleDomains": "recovery.remove_stale_domains",
    },
}
"""Modules split into one per class: each class's module now, by its qualified name."""


def current_module(module: str, qualname: str) -> str | None:
    """The module a built-in journalled as ``module``.``qualname`` is loaded from now, or None
    when ``module`` is not a former name of a built-in."""
    prefix = BUILTIN_PACKAGE + "."
    short = module.removeprefix(prefix)
    split = SPLIT.get(short, {}).get(qualname)
    if split is not None:
        return prefix + split
    if module.startswith(prefix):
        return None
    if module in RENAMED:
        return prefix + RENAMED[module]
    return prefix + module if module in TOP_LEVEL else None
