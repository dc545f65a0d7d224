"""The lab's unit naming: DevStack's names come from the devstack profile's data file, the lab
writes its unit files under them, and its inventory maps every service to them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stackdrill.inventory.loader import load_inventory
from stackdrill.inventory.profiles import load_profile
from stackdrill.lab.cloud import configs, swift
from stackdrill.lab.cloud.naming import ENV, NamingError, lab_naming
from stackdrill.lab.cloud.secrets import NAMES, LabSecrets
from stackdrill.lab.lab import Lab
from stackdrill.lab.topology import LabPaths, host_by_name

SECRETS = LabSecrets({name: f"pw-{name}" for name in NAMES})
ROOT = Path(__file__).resolve().parents[2]


def test_devstack_naming_is_the_devstack_profiles() -> None:
    naming = lab_naming("devstack")
    profile = load_profile("devstack")
    assert naming.unit("nova-compute") == "devstack@n-cpu"
    assert naming.unit("cinder-volume") == "devstack@c-vol"
    assert naming.unit("glance-api") == "devstack@g-api"
    assert naming.unit("swift-object-server") == "devstack@s-object"
    for service, unit in naming.units.items():
        assert profile.placement(service).unit == unit
    # infrastructure and the Swift daemons DevStack runs without units of their own keep
    # their names
    for service in ("mariadb", "rabbitmq-server", "libvirtd", "tgt", "swift-object-replicator"):
        assert naming.unit(service) == service
    assert naming.profile == "devstack"


def test_packages_naming_keeps_the_service_names() -> None:
    naming = lab_naming("packages")
    assert naming.unit("nova-compute") == "nova-compute"
    assert naming.profile is None


def test_the_naming_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "devstack")
    assert lab_naming().name == "devstack"
    monkeypatch.delenv(ENV)
    assert lab_naming().name == "packages"
    with pytest.raises(NamingError, match="expected one of packages, devstack"):
        lab_naming("kolla")


def test_unit_files_are_written_under_the_namings_names() -> None:
    naming = lab_naming("devstack")
    compute = configs.compute_files(host_by_name("compute1"), SECRETS, naming)
    assert "/etc/systemd/system/devstack@n-cpu.service" in compute
    assert "/etc/systemd/system/nova-compute.service" not in compute
    controller = configs.controller_files(host_by_name("controller"), SECRETS, naming)
    units = sorted(p for p in controller if p.startswith("/etc/systemd/system/"))
    assert units == sorted(f"/etc/systemd/system/devstack@{name}.service" for name in (
        "keystone", "placement-api", "g-api", "n-api", "c-api", "neutron-api", "n-super-cond",
        "n-sch", "c-sch"))
    storage = swift.storage_units(naming)
    assert "/etc/systemd/system/devstack@s-account.service" in storage
    assert "/etc/systemd/system/swift-account-replicator.service" in storage
    assert "/etc/systemd/system/devstack@s-proxy.service" in swift.proxy_files(SECRETS, naming)


@pytest.mark.parametrize("name", ["packages", "devstack"])
def test_the_lab_inventory_maps_services_to_the_namings_units(name: str, tmp_path: Path) -> None:
    lab = Lab(LabPaths(tmp_path), lab_naming(name))
    LabSecrets.load_or_create(tmp_path / "secrets.json")  # lab up writes it before the inventory
    lab.write_inventory(cloud=True)
    inventory = load_inventory(lab.paths.inventory)
    expected = {"packages": "nova-compute", "devstack": "devstack@n-cpu"}[name]
    assert inventory.service("nova-compute").unit == expected
    assert inventory.service("rabbitmq").unit == "rabbitmq-server"
    assert inventory.deployment == name
    data = yaml.safe_load(lab.paths.inventory.read_text())
    assert data.get("profile") == (None if name == "packages" else "devstack")


def test_a_bad_naming_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "stackdrill.cli", "lab", "status"],
                            env={"PATH": "/usr/bin:/bin", ENV: "kolla",
                                 "STACKDRILL_LAB_DIR": str(tmp_path)},
                            capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr == ("stackdrill: error: lab unit naming 'kolla': expected one of "
                             "packages, devstack\n")
