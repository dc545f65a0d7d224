"""The lab's Cinder volume driver (stackdrill/lab/cloud/inhost/stackdrill_lab_cinder.py) against
the Cinder it runs in: the lab's OpenStack virtualenv imports it, builds it with Cinder's own
configuration and tgtadm target helper, and drives it on files in a temporary directory.
Snapshots, volumes from snapshots and clones are copies that keep the data and the holes and
grow to the size asked; a connector from the driver's own host gets the volume's file (a
``local`` connection, which cinder-backup's own code opens), any other host the iSCSI target.
Skipped, saying so, where the virtualenv is not installed."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from stackdrill.lab.cloud.layout import VENV

INHOST = Path(__file__).resolve().parents[2] / "stackdrill/lab/cloud/inhost"
LAB_PYTHON = VENV / "bin/python"

SCRIPT = r'''
import json, os, sys, types
sys.path.insert(0, sys.argv[1])
from oslo_config import cfg
from cinder import objects
objects.register_all()  # as cinder-backup does before it loads its manager
import stackdrill_lab_cinder as lab
from cinder import exception
from cinder.backup import manager as backup_manager
from cinder.volume import configuration
from oslo_utils import units

directory = sys.argv[2]
cfg.CONF([], project="cinder", default_config_files=[])
cfg.CONF.set_override("target_helper", "tgtadm", group="backend_defaults")
cfg.CONF.set_override("lab_volumes_dir", directory, group="backend_defaults")
driver = lab.FileISCSIDriver(configuration=configuration.Configuration(
    lab.file_opts, config_group="lab-file"), host="storage1@lab-file")
driver.do_setup(None)

def volume(name, size):
    return types.SimpleNamespace(id=name, name=f"volume-{name}", size=size, volume_attachment=[])

def snapshot(name, of):
    return types.SimpleNamespace(id=name, name=f"snapshot-{name}", volume_name=of.name,
                                 volume_size=of.size)

def describe(path):
    stat = os.stat(path)
    with open(path, "rb") as handle:
        handle.seek(64 * units.Mi)
        data = handle.read(5)
    return {"size": stat.st_size, "allocated": stat.st_blocks * 512, "data": data.decode()}

found = {}
source = volume("a", 1)
driver.create_volume(source)
with open(driver.local_path(source), "r+b") as handle:
    handle.seek(64 * units.Mi)
    handle.write(b"lab!!")
snap = snapshot("s", source)
driver.create_snapshot(snap)
found["snapshot"] = describe(os.path.join(directory, snap.name))
restored = volume("b", 2)
driver.create_volume_from_snapshot(restored, snap)
found["from_snapshot"] = describe(driver.local_path(restored))
clone = volume("c", 1)
driver.create_cloned_volume(clone, source)
found["clone"] = describe(driver.local_path(clone))
driver.delete_snapshot(snap)
found["snapshot_left"] = os.path.exists(os.path.join(directory, snap.name))
driver.delete_snapshot(snap)  # already gone: no error

own = {"host": "storage1", "ip": "172.31.77.21"}
driver.validate_connector(own)
found["own_export"] = driver.create_export(None, source, own)
conn = driver.initialize_connection(source, own)
found["own_connection"] = conn
found["backup_opens"] = backup_manager.BackupManager._connect_device(None, conn)["device"]
found["own_shared"] = driver.terminate_connection(source, own, force=True)
try:
    driver.validate_connector({"host": "compute1", "ip": "172.31.77.11"})
except exception.InvalidConnectorException as exc:
    found["other_refused"] = type(exc).__name__
else:
    found["other_refused"] = None
print(json.dumps(found))
'''


@pytest.fixture(scope="module")
def driven(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the driver did, run once in the lab's virtualenv."""
    if not LAB_PYTHON.exists():
        pytest.skip(f"the lab's OpenStack virtualenv is not installed ({VENV})")
    work = tmp_path_factory.mktemp("lab-cinder")
    script = work / "drive.py"
    script.write_text(SCRIPT)
    result = subprocess.run(
        [str(LAB_PYTHON), "-B", str(script), str(INHOST), str(work / "volumes")],
        cwd=work, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                       "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    found["dir"] = str(work / "volumes")
    return found


GIB = 1 << 30


def test_a_snapshot_is_a_sparse_copy_of_the_volume(driven: dict[str, Any]) -> None:
    assert driven["snapshot"]["size"] == GIB
    assert driven["snapshot"]["data"] == "lab!!"
    assert driven["snapshot"]["allocated"] < 1 << 20  # the holes stay holes


def test_a_volume_from_a_snapshot_has_its_data_and_grows_to_its_own_size(
        driven: dict[str, Any]) -> None:
    assert driven["from_snapshot"] == {**driven["from_snapshot"], "size": 2 * GIB,
                                       "data": "lab!!"}
    assert driven["from_snapshot"]["allocated"] < 1 << 20


def test_a_clone_has_the_source_volumes_data(driven: dict[str, Any]) -> None:
    assert driven["clone"]["size"] == GIB and driven["clone"]["data"] == "lab!!"


def test_a_deleted_snapshots_file_is_gone_and_deleting_again_is_no_error(
        driven: dict[str, Any]) -> None:
    assert driven["snapshot_left"] is False


def test_the_drivers_own_host_reads_the_volume_file_without_an_export(
        driven: dict[str, Any]) -> None:
    path = f"{driven['dir']}/volume-a"
    assert driven["own_export"] is None
    assert driven["own_connection"]["driver_volume_type"] == "local"
    assert driven["own_connection"]["data"]["device_path"] == path
    # what cinder-backup's own code makes of it: os-brick's local connector, the file's path
    assert driven["backup_opens"] == {"type": "local", "path": path}
    assert driven["own_shared"] is False


def test_another_host_still_needs_an_iscsi_initiator(driven: dict[str, Any]) -> None:
    assert driven["other_refused"] == "InvalidConnectorException"
