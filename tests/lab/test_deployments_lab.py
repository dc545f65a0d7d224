"""Deployment profiles and the virtual BMC against the lab: the packages profile finds the lab's
Debian units by os-release and drives them; IPMI and Redfish drivers power-cycle a lab host
through the virtual BMC backed by the lab's own power."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from stackdrill.api._registry import load_registries
from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.canary import ensure_canaries
from stackdrill.core.waiting import poll_until
from stackdrill.hosts.identity import boot_identity
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.lab.bmc import BmcProcess, LabPowerBackend
from stackdrill.lab.lab import Lab
from stackdrill.pytest_plugin.cloud_fixtures import domain_runner

# Part of the long tier, not of CI: scripts/test -m long tests/lab runs it (README).
pytestmark = pytest.mark.long

LAB_UNITS = {  # the units the lab's two namings give these services
    "packages": {"nova-compute": "nova-compute", "cinder-volume": "cinder-volume",
                 "glance-api": "glance-api"},
    "devstack": {"nova-compute": "devstack@n-cpu", "cinder-volume": "devstack@c-vol",
                 "glance-api": "devstack@g-api"},
}


@pytest.fixture
def profile_targets(lab: Lab, tmp_path: Path) -> Iterator[tuple[str, Targets]]:
    """The lab's hosts with its services list removed and the profile of the lab's unit naming
    declared (packages or devstack), so every unit name comes from the profile's data file."""
    data = yaml.safe_load(Path(lab.ensure_up()).read_text())
    data.pop("services", None)
    profile = data.get("profile") or "packages"
    data["profile"] = profile
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data))
    targets = Targets(load_inventory(path))
    yield profile, targets
    targets.close()


def test_the_profile_names_the_lab_units(profile_targets: tuple[str, Targets]) -> None:
    profile, targets = profile_targets
    controller = targets.get("controller")
    assert controller.os_release()["ID"] == "debian"
    assert controller.unit("rabbitmq") == "rabbitmq-server"
    assert controller.service("rabbitmq").is_running()
    assert controller.service("memcached").is_running()
    assert controller.unit("glance-api") == LAB_UNITS[profile]["glance-api"]
    assert controller.service("glance-api").is_running()
    compute = targets.get("compute1")
    assert compute.unit("nova-compute") == LAB_UNITS[profile]["nova-compute"]
    assert compute.service("nova-compute").is_running()
    storage = targets.get("storage1")
    assert storage.unit("cinder-volume") == LAB_UNITS[profile]["cinder-volume"]
    assert storage.service("cinder-volume").is_running()


def test_the_profile_restarts_a_service(profile_targets: tuple[str, Targets]) -> None:
    _, targets = profile_targets
    controller = targets.get("controller")
    before = controller.service("memcached").main_pid()
    controller.service("memcached").restart(timeout=30)
    after = controller.service("memcached").status()
    assert after.running
    assert after.main_pid not in (0, before)


@pytest.mark.parametrize("protocol", ["ipmi", "redfish"])
def test_virtual_bmc_powers_a_lab_host_off_and_on_and_resets_it(
        lab: Lab, tmp_path: Path, protocol: str, monkeypatch: pytest.MonkeyPatch,
        cloud_access: CloudAccess) -> None:
    inventory_path = Path(lab.ensure_up())
    password = secrets.token_urlsafe(12)
    monkeypatch.setenv("STACKDRILL_LAB_BMC_PASSWORD", password)
    targets = Targets(load_inventory(inventory_path))
    compute = targets.get("compute2")
    try:
        before = boot_identity(compute)
        with BmcProcess(f"lab:{lab.paths.root}", ["compute2"], {"admin": password}) as bmc:
            power = ({"driver": "ipmi", "address": "127.0.0.1", "port": bmc.ipmi_ports["compute2"]}
                     if protocol == "ipmi" else
                     {"driver": "redfish", "url": bmc.redfish_url, "system": "compute2"})
            data = yaml.safe_load(inventory_path.read_text())
            data["hosts"]["compute2"]["power"] = {**power, "username": "admin",
                                                  "password_env": "STACKDRILL_LAB_BMC_PASSWORD"}
            data["defaults"].pop("power", None)
            path = tmp_path / "inventory.yaml"
            path.write_text(yaml.safe_dump(data))
            spec = load_inventory(path).host("compute2")
            driver = load_registries().power_drivers.driver(spec)
            assert driver.is_on()
            driver.power_off()
            assert not driver.is_on()
            assert not LabPowerBackend(str(lab.paths.root)).is_on("compute2")
            driver.power_on()
            poll_until(lambda: boot_identity(compute) != before, timeout=120, interval=2.0,
                       description="compute2 booted after power on", ignore=(Exception,))
            assert driver.is_on()
            booted = boot_identity(compute)
            driver.reset()
            poll_until(lambda: boot_identity(compute) != booted, timeout=120, interval=2.0,
                       description="compute2 booted again after the reset", ignore=(Exception,))
            assert driver.is_on()
    finally:
        # The reset stopped compute2's canary (Nova may not know yet); the next test starts
        # from a running one.
        ensure_canaries(cloud_access, ["compute1", "compute2"],
                        domain_running=domain_runner(targets))
        targets.close()
