"""Built-in faults, one module per kind. They register through the same hook as any plugin."""

from __future__ import annotations

from stackdrill.api import Registries


def pytest_stackdrill_register(registries: Registries) -> None:
    from .cpu_pressure import CpuPressure
    from .disk_fill import DiskFill
    from .disk_io_errors import DiskIoErrors
    from .drop_iscsi_sessions import DropIscsiSessions
    from .drop_table import DropTable
    from .freeze_service import FreezeService
    from .hold_services_at_boot import HoldServicesAtBoot
    from .id_mismatch import IdMismatch
    from .interrupt_db_sync import InterruptDbSync
    from .kill_service import KillService
    from .memory_pressure import MemoryPressure
    from .packet_loss import PacketLoss
    from .partition import Partition
    from .power_off_host import PowerOffHost
    from .pull_disk import PullDisk
    from .reboot_host import RebootHost
    from .remove_files import RemoveFiles
    from .stale_safe_to_bootstrap import StaleSafeToBootstrap
    from .stop_service import StopService

    for fault in (KillService, StopService, RebootHost, RemoveFiles, PowerOffHost, PullDisk,
                  DiskIoErrors, DropIscsiSessions, DropTable,
                  HoldServicesAtBoot, IdMismatch, FreezeService, Partition, PacketLoss,
                  DiskFill, CpuPressure, MemoryPressure, StaleSafeToBootstrap,
                  InterruptDbSync):
        registries.faults.register(fault)
