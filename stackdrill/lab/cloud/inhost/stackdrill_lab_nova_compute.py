"""nova-compute for the lab: Nova's own service, with ``iscsi`` volumes mapped to qemu's
initiator (see stackdrill_lab_nova).

Run as: ``python -m stackdrill_lab_nova_compute --config-file /etc/nova/nova.conf``.
"""

from __future__ import annotations

import sys


def main() -> int:
    from nova.cmd import compute  # first: it applies Nova's own monkey patching
    from nova.virt.libvirt import driver

    driver.VOLUME_DRIVERS["iscsi"] = "stackdrill_lab_nova.QemuISCSIVolumeDriver"
    return compute.main()


if __name__ == "__main__":
    sys.exit(main())
