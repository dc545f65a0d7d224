"""Built-in faults, one module per kind. They register through the same hook as any plugin."""

from __future__ import annotations

from stackdrill.registry import Registries


def pytest_stackdrill_register(registries: Registries) -> None:
    from faults.boot_hold import HoldServicesAtBoot
    from faults.disk_io_errors import DiskIoErrors
    from faults.file_remove import RemoveFiles
    from faults.host_reboot import RebootHost
    from faults.id_mismatch import IdMismatch
    from faults.iscsi_sessions import DropIscsiSessions
    from faults.power_off import PowerOffHost
    from faults.pull_disk import PullDisk
    from faults.service_kill import KillService
    from faults.service_stop import StopService
    from faults.table_drop import DropTable

    for fault in (KillService, StopService, RebootHost, RemoveFiles, PowerOffHost, PullDisk,
                  DiskIoErrors, DropIscsiSessions, DropTable,
                  HoldServicesAtBoot, IdMismatch):
        registries.faults.register(fault)
