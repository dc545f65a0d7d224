"""A lab-only Cinder volume driver: each volume is a sparse file, exported over iSCSI by tgtd.

The control path is Cinder's own: the target helper (``target_helper = tgtadm``) writes the
persistent tgt target file and runs ``tgt-admin --update``, exactly as it does for LVM volumes.
Only the backing store differs (a file instead of a logical volume), because the lab's kernel
has no device-mapper.

Snapshots and clones are copies of the file (``cp --reflink=auto --sparse=always``: shared
extents where the file system has reflinks, else a copy that keeps the holes), independent of
their source once made. A connector from this driver's own host (cinder-backup beside
cinder-volume) gets the file itself, a ``local`` connection, as no iSCSI initiator works in the
lab's kernel; every other host gets the iSCSI target.
"""

from __future__ import annotations

import os

from cinder import exception
from cinder.image import image_utils
from cinder.volume import driver
from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import importutils, units

LOG = logging.getLogger(__name__)

file_opts = [
    cfg.StrOpt("lab_volumes_dir", default="/var/lib/stackdrill-lab-volumes",
               help="Directory holding one sparse file per volume."),
    cfg.IntOpt("lab_capacity_gb", default=50, help="Capacity reported to the scheduler."),
]
cfg.CONF.register_opts(file_opts, group="backend_defaults")


class FileISCSIDriver(driver.VolumeDriver):
    """Sparse-file volumes exported by Cinder's tgtadm target helper."""

    VERSION = "1.0.0"
    CI_WIKI_NAME = "stackdrill-lab"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.configuration.append_config_values(file_opts)
        self.backend_name = (self.configuration.safe_get("volume_backend_name")
                             or "lab-file")
        helper = self.configuration.safe_get("target_helper")
        self.target_driver = importutils.import_object(
            self.target_mapping[helper], configuration=self.configuration,
            executor=self._execute)
        self.protocol = self.target_driver.protocol

    @property
    def _dir(self):
        return self.configuration.lab_volumes_dir

    def local_path(self, volume, vg=None):
        return os.path.join(self._dir, volume.name)

    def do_setup(self, context):
        os.makedirs(self._dir, exist_ok=True)

    def check_for_setup_error(self):
        if not os.path.isdir(self._dir):
            raise exception.VolumeBackendAPIException(
                data=f"{self._dir} is not a directory")

    def create_volume(self, volume):
        with open(self.local_path(volume), "xb") as handle:
            handle.truncate(volume.size * units.Gi)

    def _snapshot_path(self, snapshot):
        return os.path.join(self._dir, snapshot.name)

    def _copy(self, source, target, size_gb):
        """``target`` made a copy of ``source``, grown to ``size_gb`` if that is larger."""
        self._execute("cp", "--reflink=auto", "--sparse=always", source, target)
        if os.path.getsize(target) < size_gb * units.Gi:
            os.truncate(target, size_gb * units.Gi)

    def create_cloned_volume(self, volume, src_vref):
        self._copy(self.local_path(src_vref), self.local_path(volume), volume.size)

    def delete_volume(self, volume):
        try:
            os.unlink(self.local_path(volume))
        except FileNotFoundError:
            LOG.info("volume file of %s already gone", volume.id)

    def extend_volume(self, volume, new_size):
        os.truncate(self.local_path(volume), new_size * units.Gi)
        self.target_driver.extend_target(volume)

    def copy_image_to_volume(self, context, volume, image_service, image_id,
                             disable_sparse=False):
        image_utils.fetch_to_raw(context, image_service, image_id, self.local_path(volume),
                                 self.configuration.volume_dd_blocksize, size=volume.size,
                                 disable_sparse=disable_sparse)

    def copy_volume_to_image(self, context, volume, image_service, image_meta):
        image_utils.upload_volume(context, image_service, image_meta, self.local_path(volume),
                                  volume)

    def create_snapshot(self, snapshot):
        source = os.path.join(self._dir, snapshot.volume_name)
        self._copy(source, self._snapshot_path(snapshot), snapshot.volume_size)

    def delete_snapshot(self, snapshot):
        try:
            os.unlink(self._snapshot_path(snapshot))
        except FileNotFoundError:
            LOG.info("snapshot file of %s already gone", snapshot.id)

    def create_volume_from_snapshot(self, volume, snapshot):
        self._copy(self._snapshot_path(snapshot), self.local_path(volume), volume.size)

    # The data path: Cinder's target helper, unchanged, for every host but this one.
    def _local(self, connector):
        """Whether ``connector`` is this driver's own host (``storage1`` of
        ``storage1@lab-file``), where the volume's file can be read as it is."""
        own = (self.host or "").partition("@")[0]
        return bool(own) and (connector or {}).get("host") == own

    def ensure_export(self, context, volume):
        return self.target_driver.ensure_export(context, volume, self.local_path(volume))

    def create_export(self, context, volume, connector):
        if self._local(connector):
            return None
        info = self.target_driver.create_export(context, volume, self.local_path(volume))
        return {"provider_location": info["location"], "provider_auth": info["auth"]}

    def remove_export(self, context, volume):
        self.target_driver.remove_export(context, volume)

    def initialize_connection(self, volume, connector):
        if self._local(connector):
            return {"driver_volume_type": "local",
                    "data": {"device_path": self.local_path(volume)}}
        return self.target_driver.initialize_connection(volume, connector)

    def validate_connector(self, connector):
        if self._local(connector):
            return None
        return self.target_driver.validate_connector(connector)

    def terminate_connection(self, volume, connector, **kwargs):
        if self._local(connector):
            return False
        # As Cinder's LVM driver: one export per volume, kept while another attachment uses
        # it (a live migration holds the source's and the destination's at once).
        self.target_driver.terminate_connection(volume, connector, **kwargs)
        return len(volume.volume_attachment) > 1

    def _update_volume_stats(self):
        stat = os.statvfs(self._dir)
        free = min(stat.f_bavail * stat.f_frsize / units.Gi,
                   float(self.configuration.lab_capacity_gb))
        self._stats = {
            "volume_backend_name": self.backend_name,
            "vendor_name": "stackdrill lab",
            "driver_version": self.VERSION,
            "storage_protocol": self.protocol,
            "pools": [{
                "pool_name": self.backend_name,
                "total_capacity_gb": float(self.configuration.lab_capacity_gb),
                "free_capacity_gb": round(free, 2),
                "reserved_percentage": 0,
                "QoS_support": False,
                "thin_provisioning_support": True,
                "thick_provisioning_support": False,
                "max_over_subscription_ratio": 20.0,
                "multiattach": False,
                "backend_state": "up",
            }],
        }
