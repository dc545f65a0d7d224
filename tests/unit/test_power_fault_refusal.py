"""A power fault (power_off_host, reboot_host with mode hard) on a host the inventory gives no
power driver is refused at collection, by ``plan`` and ``run`` alike, naming the host: one line,
exit 2, nothing injected or journalled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from stackdrill.builtin.faults.power_off_host import PowerOffHost
from stackdrill.builtin.faults.reboot_host import RebootHost

from stackdrill import cli
from stackdrill.engine.plan import dry_run_target
from stackdrill.hosts.ssh import HostError
from stackdrill.inventory.loader import parse_inventory
from tests.unit.fake_cloud import fake_project, run_args, stackdrill
from tests.unit.test_feature_input_refused import assert_refused, plan_args

POWERED = {"driver": "ipmi", "address": "10.0.0.11", "username": "drills",
           "password_env": "BMC_PASSWORD"}

FEATURE = """\
Feature: power on the fake cloud
  Scenario: a compute host loses power
    Given a compute host
    And the cloud is in its verified state
    When the fault "{fault}" is injected on the compute host{table}
    Then the fault is confirmed within 5 seconds
"""


def _hosts(compute2_power: dict[str, Any] | None) -> dict[str, Any]:
    compute2: dict[str, Any] = {"address": "192.0.2.12", "roles": ["compute"]}
    if compute2_power is not None:
        compute2["power"] = compute2_power
    return {"compute1": {"address": "192.0.2.11", "roles": ["compute"], "power": POWERED},
            "compute2": compute2}


def _feature(fault: str, mode: str | None) -> str:
    table = f":\n      | mode | {mode} |" if mode else ""
    return FEATURE.format(fault=fault, table=table)


@pytest.mark.parametrize(("fault", "mode", "needs"), [
    ("power_off_host", None, "powering a host off needs one"),
    ("reboot_host", "hard", "a hard reboot resets the host through one"),
])
@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_power_fault_on_a_host_without_a_power_driver_is_refused(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], command: str, fault: str,
        mode: str | None, needs: str) -> None:
    features, inventory = fake_project(tmp_path, _feature(fault, mode),
                                       inventory={"cloud": "unit", "hosts": _hosts(None)})
    argv = run_args(tmp_path, features, inventory) if command == "run" \
        else plan_args(features, inventory)
    ran = stackdrill(argv, tmp_path, capfd)
    assert_refused(ran, tmp_path, features, f"drills.feature:5: fault {fault!r}: ",
                   f"the inventory gives compute2 no power driver, and {needs}")
    assert "compute1" not in ran.stderr


@pytest.mark.parametrize(("fault", "mode"), [("power_off_host", None), ("reboot_host", "hard")])
def test_the_same_fault_is_planned_when_every_host_has_a_power_driver(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], fault: str, mode: str | None) -> None:
    hosts = _hosts({**POWERED, "address": "10.0.0.12"})
    features, inventory = fake_project(tmp_path, _feature(fault, mode),
                                       inventory={"cloud": "unit", "hosts": hosts})
    ran = stackdrill(plan_args(features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_OK, ran
    verb = "power off" if fault == "power_off_host" else "power reset"
    assert f"$ {verb} via ipmi driver" in ran.stdout


def test_a_graceful_reboot_needs_no_power_driver(tmp_path: Path,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = fake_project(tmp_path, _feature("reboot_host", None),
                                       inventory={"cloud": "unit", "hosts": _hosts(None)})
    ran = stackdrill(plan_args(features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_OK, ran
    assert "$ systemctl reboot" in ran.stdout


def test_the_fault_classes_name_every_host_without_a_driver(tmp_path: Path) -> None:
    bare = {"address": "192.0.2.13", "roles": ["compute"]}
    inventory = parse_inventory({"hosts": {**_hosts(None), "compute3": bare}},
                                tmp_path / "inventory.yaml")
    hosts = inventory.with_role("compute")
    assert PowerOffHost.inventory_problems({}, inventory, hosts) == [
        "the inventory gives compute2, compute3 no power driver, and powering a host off "
        "needs one (add 'power' to the host or to 'defaults')"]
    assert RebootHost.inventory_problems({"mode": "graceful"}, inventory, hosts) == []
    assert RebootHost.inventory_problems({}, inventory, hosts) == []
    assert len(RebootHost.inventory_problems({"mode": "hard"}, inventory, hosts)) == 1
    assert PowerOffHost.inventory_problems({}, inventory, hosts[:1]) == []


def test_planning_on_a_host_without_a_driver_says_why(tmp_path: Path) -> None:
    inventory = parse_inventory({"hosts": _hosts(None)}, tmp_path / "inventory.yaml")
    target = dry_run_target(inventory, "compute2")
    with pytest.raises(HostError, match="compute2: the inventory gives it no power driver"):
        PowerOffHost(target, {}).plan()
    with pytest.raises(HostError, match="compute2: the inventory gives it no power driver"):
        RebootHost(target, {"mode": "hard"}).plan()
    assert RebootHost(target, {}).plan() == ["systemctl reboot"]
