"""What the lab deploys beyond the services themselves, under both topologies and namings:
Glance's metadata definitions loaded after its schema (and the load refused when it leaves no
resource type), Cinder's resource filters on every host running cinder-api, and cinder-backup
with Swift as its target beside cinder-volume on the block storage host (its configuration, its
unit under each naming, the units ``lab status`` expects, the inventory's services, the
bootstrap starting it and waiting for it). The driver's snapshots and local connections are
tested in test_lab_cinder_driver.py; the lab itself in tests/lab/test_lab_gaps_lab.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from stackdrill.core.errors import WaitTimeout
from stackdrill.inventory.loader import load_inventory
from stackdrill.lab import status as lab_status
from stackdrill.lab.cloud import bootstrap, configs
from stackdrill.lab.cloud.bootstrap import CloudBootstrap, configure, load_metadefs
from stackdrill.lab.cloud.layout import VENV
from stackdrill.lab.cloud.naming import PACKAGES, lab_naming
from stackdrill.lab.cloud.secrets import NAMES, LabSecrets
from stackdrill.lab.lab import Lab
from stackdrill.lab.topology import HA, SINGLE, LabPaths, Topology

SECRETS = LabSecrets({name: f"pw-{name}" for name in NAMES})
TOPOLOGIES = pytest.mark.parametrize("topology", [SINGLE, HA], ids=["single", "ha"])


def need_venv(*rel: str) -> None:
    for path in rel:
        if not (VENV / path).exists():
            pytest.skip(f"the lab's OpenStack virtualenv is not installed ({VENV / path})")


# -- Glance's metadata definitions ---------------------------------------------------------------
def test_the_schema_stage_loads_glances_metadefs_after_its_schema() -> None:
    commands: list[tuple[str, str]] = []

    def in_host(host: str, command: str, **_: Any) -> subprocess.CompletedProcess[str]:
        commands.append((host, command))
        return subprocess.CompletedProcess([], 0, "", "")

    CloudBootstrap(in_host, LabPaths(Path("/nonexistent")), SECRETS, log=lambda _: None,
                   topology=HA).schemas()
    [(host, script)] = commands
    assert host == "controller1"
    assert (f"( {VENV}/bin/glance-manage db_sync && {load_metadefs()} ) "
            ">/var/log/stackdrill-schema-glance.log 2>&1 &") in script
    assert f"--path {VENV}/etc/glance/metadefs " in load_metadefs()


def test_the_package_ships_the_metadefs_the_bootstrap_loads() -> None:
    need_venv("etc/glance/metadefs")
    shipped = sorted(bootstrap.METADEFS.glob("*.json"))
    assert len(shipped) > 10
    associations = {association["name"] for path in shipped
                    for association in json.loads(path.read_text()).get(
                        "resource_type_associations", [])}
    assert {"OS::Glance::Image", "OS::Cinder::Volume", "OS::Nova::Flavor"} <= associations


@pytest.mark.parametrize(("count", "ok"), [("6", True), ("0", False)])
def test_a_load_that_leaves_no_resource_type_fails_saying_so(
        tmp_path: Path, count: str, ok: bool) -> None:
    """glance-manage exits 0 even when it found nothing to load; the count decides."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "mysql").write_text(f"#!/bin/sh\necho {count}\n")
    (fake / "mysql").chmod(0o755)
    command = load_metadefs(tmp_path / "metadefs").replace(f"{VENV}/bin/glance-manage", "true")
    result = subprocess.run(["bash", "-c", f"( {command} )"], capture_output=True, text=True,
                            env={"PATH": f"{fake}:/usr/bin:/bin"}, timeout=30, check=False)
    assert (result.returncode == 0) is ok
    if not ok:
        assert result.stdout.strip() == (
            f"glance: no metadata definition resource types loaded from {tmp_path}/metadefs")


# -- Cinder's resource filters -------------------------------------------------------------------
def configured(tmp_path: Path, topology: Topology) -> LabPaths:
    need_venv("etc/nova/api-paste.ini", "etc/cinder/resource_filters.json")
    paths = LabPaths(tmp_path)
    for host in topology.hosts:
        etc = paths.merged(host.name) / "etc"
        etc.mkdir(parents=True)
        (etc / "passwd").write_text(f"rabbitmq:x:{os.getuid()}:{os.getgid()}::/:/bin/false\n")
    configure(paths, SECRETS, PACKAGES, topology)
    return paths


@TOPOLOGIES
def test_every_host_running_cinder_api_has_its_resource_filters(
        tmp_path: Path, topology: Topology) -> None:
    paths = configured(tmp_path, topology)
    shipped = (VENV / "etc/cinder/resource_filters.json").read_text()
    for host in topology.hosts:
        installed = paths.merged(host.name) / "etc/cinder/resource_filters.json"
        if "controller" in host.roles:
            assert installed.read_text() == shipped, host.name
            assert installed.stat().st_mode & 0o777 == 0o644
        else:
            assert not installed.exists(), host.name
    assert "name" in json.loads(shipped)["volume"]


# -- cinder-backup ---------------------------------------------------------------------------------
@TOPOLOGIES
def test_cinder_backup_targets_swift_with_each_users_token_on_the_storage_host(
        topology: Topology) -> None:
    storage = configs.block_storage_files(topology.host("storage1"), SECRETS, PACKAGES, topology)
    conf = storage["/etc/cinder/cinder.conf"]
    default = conf.split("\n[", 1)[0]
    for line in ("backup_driver = cinder.backup.drivers.swift.SwiftBackupDriver",
                 "backup_swift_auth = per_user",
                 "swift_catalog_info = object-store:swift:publicURL",
                 "backup_workers = 1", "backup_native_threads_pool_size = 20"):
        assert f"\n{line}\n" in default, line
    size = int(default.split("backup_swift_object_size = ")[1].split()[0])
    assert size % 32768 == 0  # a multiple of Cinder's backup_swift_block_size
    unit = storage["/etc/systemd/system/cinder-backup.service"]
    assert ("ExecStart=/opt/stackdrill-lab/openstack/bin/cinder-backup "
            "--config-file /etc/cinder/cinder.conf\n") in unit
    for controller in topology.controllers:
        files = configs.controller_files(controller, SECRETS, PACKAGES, topology)
        assert "backup_" not in files["/etc/cinder/cinder.conf"]
        assert not any("cinder-backup" in path for path in files)


def test_cinder_backups_unit_follows_the_naming() -> None:
    naming = lab_naming("devstack")
    storage = configs.block_storage_files(SINGLE.host("storage1"), SECRETS, naming)
    assert "/etc/systemd/system/devstack@c-bak.service" in storage
    assert "/etc/systemd/system/cinder-backup.service" not in storage


@TOPOLOGIES
@pytest.mark.parametrize("name", ["packages", "devstack"])
def test_lab_status_and_the_inventory_know_cinder_backup(
        tmp_path: Path, topology: Topology, name: str) -> None:
    naming = lab_naming(name)
    unit = {"packages": "cinder-backup", "devstack": "devstack@c-bak"}[name]
    for host in topology.hosts:
        expected = lab_status.expected_units(host, naming, cloud=True, topology=topology)
        assert (unit in expected) == (host.name == "storage1"), host.name
    lab = Lab(LabPaths(tmp_path), naming, topology)
    LabSecrets.load_or_create(tmp_path / "secrets.json")
    lab.write_inventory(cloud=True)
    assert load_inventory(lab.paths.inventory).service("cinder-backup").unit == unit


class FakeCloud:
    """What the bootstrap's wait reads: every compute up, and the block storage services."""

    def __init__(self, cinder: list[tuple[str, str, str]]) -> None:
        computes = [SimpleNamespace(host=h, state="up") for h in ("compute1", "compute2")]
        self.compute = SimpleNamespace(
            services=lambda binary: computes,
            hypervisors=lambda: [SimpleNamespace(name=s.host) for s in computes])
        self.block_storage = SimpleNamespace(services=lambda: [
            SimpleNamespace(binary=b, host=h, state=s) for b, h, s in cinder])

    def close(self) -> None:
        return None


@pytest.mark.parametrize(("cinder", "up"), [
    ([("cinder-volume", "storage1@lab-file", "up"), ("cinder-backup", "storage1", "up")], True),
    ([("cinder-volume", "storage1@lab-file", "up"), ("cinder-backup", "storage1", "down")],
     False),
    ([("cinder-volume", "storage1@lab-file", "up")], False),
])
def test_the_bootstrap_starts_cinder_backup_and_waits_until_it_is_up(
        monkeypatch: pytest.MonkeyPatch, cinder: list[tuple[str, str, str]], up: bool) -> None:
    commands: list[tuple[str, str]] = []

    def in_host(host: str, command: str, **_: Any) -> subprocess.CompletedProcess[str]:
        commands.append((host, command))
        return subprocess.CompletedProcess([], 0, "active\n" * 20, "")

    cloud = CloudBootstrap(in_host, LabPaths(Path("/nonexistent")), SECRETS,
                           log=lambda _: None)
    cloud.services()
    assert ("storage1", "systemctl enable --now tgt cinder-volume cinder-backup") in commands
    monkeypatch.setattr(CloudBootstrap, "admin_connection", lambda self: FakeCloud(cinder))
    if up:
        cloud.wait_computes(timeout=0)
    else:
        with pytest.raises(WaitTimeout, match="cinder-volume and cinder-backup up"):
            cloud.wait_computes(timeout=0)


# -- Keystone's roles ----------------------------------------------------------------------------
class FakeIdentity:
    """Keystone as the catalog stage uses it: finds answer from what exists, creations add."""

    def __init__(self) -> None:
        self.roles = {"admin", "member", "reader", "service"}
        self.created_roles: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith(("find_", "create_", "assign_")) or name == "endpoints":
            return lambda *args, **kwargs: [] if name == "endpoints" else SimpleNamespace(
                id=name, **{k: v for k, v in kwargs.items() if k != "id"})
        raise AttributeError(name)

    def find_role(self, name: str) -> Any:
        return SimpleNamespace(id=name) if name in self.roles else None

    def create_role(self, name: str) -> Any:
        self.roles.add(name)
        self.created_roles.append(name)
        return SimpleNamespace(id=name)


def test_the_catalog_stage_creates_swifts_reseller_admin_role_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    identity = FakeIdentity()
    conn = SimpleNamespace(identity=identity, close=lambda: None)
    identity.get_token = lambda: "token"  # type: ignore[attr-defined]
    monkeypatch.setattr(CloudBootstrap, "admin_connection", lambda self: conn)
    cloud = CloudBootstrap(lambda *a, **k: None, LabPaths(Path("/nonexistent")), SECRETS,
                           log=lambda _: None)
    cloud.catalog()
    cloud.catalog()
    assert identity.created_roles == ["ResellerAdmin"]
