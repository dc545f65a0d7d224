"""nova-compute for the lab: Nova's own service, with ``iscsi`` volumes mapped to qemu's
initiator (see stackdrill_lab_nova).

The computes share /var/lib/nova/instances through a bind mount of one XFS filesystem. libvirt 9
recognises only network and cluster filesystems (NFS, GFS2, CephFS, ...) as shared and refuses to
live-migrate a disk on anything else ("Migration without shared storage is unsafe"); Nova's own
shared-storage check, which writes a file on one host and looks for it on the other, passes. So
the lab's live migrations carry VIR_MIGRATE_UNSAFE, which skips only libvirt's filesystem-type
heuristic: the disks use cache=none and the storage is the same filesystem on both hosts.

Run as: ``python -m stackdrill_lab_nova_compute --config-file /etc/nova/nova.conf``.
"""

from __future__ import annotations

import sys


def main() -> int:
    from nova.cmd import compute  # first: it applies Nova's own monkey patching
    from nova.virt.libvirt import driver

    driver.VOLUME_DRIVERS["iscsi"] = "stackdrill_lab_nova.QemuISCSIVolumeDriver"
    parse = driver.LibvirtDriver._parse_migration_flags

    def parse_with_shared_bind_mount(self: driver.LibvirtDriver) -> None:
        parse(self)
        self._live_migration_flags |= driver.libvirt.VIR_MIGRATE_UNSAFE

    driver.LibvirtDriver._parse_migration_flags = parse_with_shared_bind_mount
    return compute.main()


if __name__ == "__main__":
    sys.exit(main())
