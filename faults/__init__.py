"""Built-in faults, one module per kind. They register through the same hook as any plugin."""

from __future__ import annotations

from stackdrill.api.registry import Registries


def pytest_stackdrill_register(registries: Registries) -> None:
    from faults.disk_io_errors import DiskIoErrors
    from faults.drop_iscsi_sessions import DropIscsiSessions
    from faults.drop_table import DropTable
    from faults.hold_services_at_boot import HoldServicesAtBoot
    from faults.id_mismatch import IdMismatch
    from faults.kill_service import KillService
    from faults.power_off_host import PowerOffHost
    from faults.pull_disk import PullDisk
    from faults.reboot_host import RebootHost
    from faults.remove_files import RemoveFiles
    from faults.stop_service import StopService

    for fault in (KillService, StopService, RebootHost, RemoveFiles, PowerOffHost, PullDisk,
                  DiskIoErrors, DropIscsiSessions, DropTable,
                  HoldServicesAtBoot, IdMismatch):
        registries.faults.register(fault)
