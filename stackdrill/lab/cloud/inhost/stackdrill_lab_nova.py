"""Nova on the lab's computes: Cinder's iSCSI volumes through qemu's own initiator.

The machine's kernel has no iSCSI initiator, so os-brick (which drives open-iscsi) cannot
connect. qemu carries its own userspace initiator (libiscsi); libvirt expresses it as a network
disk, ``<source protocol='iscsi' name='IQN/LUN'><host .../></source>``. This module maps Cinder's
``iscsi`` connection info to that disk; ``stackdrill_lab_nova_compute`` registers it.
"""

from __future__ import annotations

import uuid

from nova.virt.libvirt.volume import volume as libvirt_volume


class QemuISCSIVolumeDriver(libvirt_volume.LibvirtBaseVolumeDriver):
    """iSCSI volumes attached through qemu's initiator: no host block device at all."""

    def __init__(self, host):
        super().__init__(host, is_block_dev=False)

    def _chap_secret(self, data):
        """The libvirt secret holding the target's CHAP password, defined if missing. Its UUID
        is derived from the target, so it is the same on every compute: a live migration
        sends the source's disk XML, secret UUID included, to the destination."""
        iqn = data["target_iqn"]
        wanted = str(uuid.uuid5(uuid.NAMESPACE_URL, f"stackdrill-lab:iscsi:{iqn}"))
        secret = self.host.find_secret("iscsi", iqn)
        if secret is not None and secret.UUIDString() != wanted:
            secret.undefine()
            secret = None
        if secret is None:
            secret = self.host.create_secret("iscsi", iqn, password=data["auth_password"],
                                             uuid=wanted)
        return secret

    def connect_volume(self, connection_info, instance):
        data = connection_info["data"]
        if data.get("auth_method") == "CHAP":
            self._chap_secret(data).setValue(data["auth_password"])

    def disconnect_volume(self, connection_info, instance, force=False):
        data = connection_info["data"]
        if data.get("auth_method") == "CHAP":
            self.host.delete_secret("iscsi", data["target_iqn"])

    def get_config(self, connection_info, disk_info):
        conf = super().get_config(connection_info, disk_info)
        data = connection_info["data"]
        host, _, port = data["target_portal"].rpartition(":")
        conf.source_type = "network"
        conf.source_protocol = "iscsi"
        conf.source_name = f"{data['target_iqn']}/{data.get('target_lun', 0)}"
        conf.source_hosts = [host]
        conf.source_ports = [port or "3260"]
        # Cinder's target helpers export with CHAP: qemu logs in with the same credentials.
        if data.get("auth_method") == "CHAP":
            conf.auth_username = data["auth_username"]
            conf.auth_secret_type = "iscsi"  # noqa: S105 (a libvirt secret type, not a secret)
            conf.auth_secret_uuid = self._chap_secret(data).UUIDString()
        return conf

    def extend_volume(self, connection_info, instance, requested_size):
        return requested_size
