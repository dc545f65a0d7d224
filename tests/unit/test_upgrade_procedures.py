"""The upgrade procedures: the db syncs in the documented order, the online data migrations run
until they have nothing left, the install commands taken from the inventory's ``upgrade`` key,
and the runbooks built from the inventory alone (as the dry run builds them)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from stackdrill.builtin.faults.interrupt_db_sync import InterruptDbSync
from stackdrill.builtin.recovery.roll_back_upgrade import RollBackUpgrade
from stackdrill.builtin.recovery.rolling_upgrade_computes import RollingUpgradeComputes
from stackdrill.builtin.recovery.upgrade_control_plane import UpgradeControlPlane

from stackdrill.api import FaultError
from stackdrill.core.errors import InvalidValue
from stackdrill.core.params import ParamError
from stackdrill.hostkit.upgrades import (
    UpgradeFailed,
    db_syncs,
    install_command,
    online_migrations,
    run_online_migrations,
    sync_names,
)
from stackdrill.hosts.ssh import CommandResult
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.inventory.model import InventoryError, UpgradeSpec

INVENTORY = """\
cloud: staging
hosts:
  ctl1: {address: 10.0.0.1, roles: [controller]}
  cmp1: {address: 10.0.0.11, roles: [compute]}
  cmp2: {address: 10.0.0.12, roles: [compute]}
upgrade:
  install: apt-get install -y --only-upgrade nova-api nova-conductor
  install_previous: apt-get install -y --allow-downgrades nova-api=2:33.0.2-0ubuntu1
  bin_dir: /opt/openstack/bin
"""


def targets(tmp_path: Path, text: str = INVENTORY) -> Targets:
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    return Targets(load_inventory(path))


def test_the_db_syncs_run_in_the_documented_order_from_the_new_releases_commands() -> None:
    syncs = db_syncs(["neutron", "cinder", "nova", "placement", "glance", "keystone"],
                     "/opt/new/bin", ["/etc/nova/nova.conf", "/etc/nova/cell2.conf"])
    assert [s.command for s in syncs] == [
        "/opt/new/bin/keystone-manage db_sync",
        "/opt/new/bin/glance-manage db sync",
        "/opt/new/bin/placement-manage db sync",
        "/opt/new/bin/nova-manage api_db sync",
        "/opt/new/bin/nova-manage cell_v2 map_cell0",
        "/opt/new/bin/nova-manage --config-file /etc/nova/nova.conf db sync",
        "/opt/new/bin/nova-manage --config-file /etc/nova/cell2.conf db sync",
        "/opt/new/bin/cinder-manage db sync",
        "/opt/new/bin/neutron-db-manage --config-file /etc/neutron/neutron.conf "
        "--config-file /etc/neutron/plugins/ml2/ml2_conf.ini upgrade head",
    ]
    assert online_migrations(["cinder", "nova", "keystone"], None) == [
        ("nova", "nova-manage db online_data_migrations"),
        ("cinder", "cinder-manage db online_data_migrations")]


def test_a_subset_keeps_the_documented_order_and_an_unknown_service_is_refused() -> None:
    assert sync_names("cinder, keystone") == ["keystone", "cinder"]
    with pytest.raises(InvalidValue, match="unknown service 'heat'"):
        sync_names("nova, heat")


@dataclass
class Result:
    exit_status: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


class Host:
    name = "ctl1"

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.commands: list[str] = []

    def run(self, command: str, **_: Any) -> Result:
        self.commands.append(command)
        status = self.statuses.pop(0)
        return Result(status, stderr="Error attempting to run <function fill_virtual_interface>"
                      if status == 2 else "")


def test_online_migrations_run_again_while_they_did_work_and_fail_on_an_error() -> None:
    host = Host([1, 1, 0])
    assert run_online_migrations(host, "nova-manage db online_data_migrations") == 3  # type: ignore[arg-type]
    with pytest.raises(UpgradeFailed, match="exited 2: Error attempting to run"):
        run_online_migrations(Host([1, 2]), "nova-manage db online_data_migrations")  # type: ignore[arg-type]
    with pytest.raises(UpgradeFailed, match="still had work after 2 runs"):
        run_online_migrations(Host([1, 1]), "cinder-manage db online_data_migrations",  # type: ignore[arg-type]
                              rounds=2)


def test_the_install_commands_come_from_the_inventory_and_a_missing_one_is_named() -> None:
    spec = UpgradeSpec(install="upgrade-all", install_previous="downgrade-all")
    assert install_command(spec) == "upgrade-all"
    assert install_command(spec, compute=True) == "upgrade-all"
    assert install_command(spec, previous=True) == "downgrade-all"
    with pytest.raises(UpgradeFailed, match=r"set upgrade\.install_compute \(or install\)"):
        install_command(UpgradeSpec(), compute=True)


def test_the_inventory_upgrade_key_loads_and_refuses_a_bin_dir_that_is_not_a_plain_path(
        tmp_path: Path) -> None:
    spec = targets(tmp_path).get("ctl1").inventory.upgrade
    assert spec == UpgradeSpec(install="apt-get install -y --only-upgrade nova-api "
                                       "nova-conductor",
                               install_previous="apt-get install -y --allow-downgrades "
                                                "nova-api=2:33.0.2-0ubuntu1",
                               bin_dir="/opt/openstack/bin")
    with pytest.raises(InventoryError, match="upgrade"):
        targets(tmp_path, INVENTORY.replace("/opt/openstack/bin", "bin; rm -rf /"))


def test_the_control_plane_runbook_is_built_from_the_inventory_alone(tmp_path: Path) -> None:
    upgrade = UpgradeControlPlane(targets(tmp_path).get("ctl1"), {"syncs": "nova, keystone"})
    steps = upgrade.runbook()
    titles = [step.title for step in steps]
    assert titles[:3] == [
        "Stop the control plane on ctl1 (nova-api, cinder-api, neutron-api, glance-api, "
        "placement-api, keystone, nova-scheduler, nova-conductor, cinder-scheduler)",
        "Stop the block storage services on the storage hosts",
        "Install the new release on ctl1 and the storage hosts"]
    assert steps[2].commands == ("apt-get install -y --only-upgrade nova-api nova-conductor",)
    assert titles[3:7] == [
        "Synchronise the keystone schema (keystone-manage db_sync)",
        "Synchronise the nova schema (nova-manage api_db sync)",
        "Synchronise the nova schema (nova-manage cell_v2 map_cell0)",
        "Synchronise the nova schema (nova-manage --config-file /etc/nova/nova.conf db sync)"]
    assert titles[-3:] == ["Run nova's online data migrations until none is left",
                           "Run cinder's online data migrations until none is left",
                           "Check the upgrade (nova-status upgrade check)"]
    assert steps[-1].commands == ("/opt/openstack/bin/nova-status upgrade check",)


def test_the_rolling_upgrade_takes_each_compute_in_turn(tmp_path: Path) -> None:
    rolling = RollingUpgradeComputes(targets(tmp_path).get("ctl1"), {})
    titles = [step.title for step in rolling.runbook()]
    assert titles[:7] == [
        "cmp1: list its instances and disable it in the scheduler",
        "cmp1: migrate each instance off (live migration)",
        "cmp1: stop nova-compute",
        "cmp1: install the new release",
        "cmp1: start nova-compute on the new release and wait for its first report",
        "cmp1: enable it and migrate the instances back",
        "cmp1: check that every instance is where it was"]
    assert titles[7].startswith("cmp2: ") and len(titles) == 14
    with pytest.raises(InvalidValue, match="'ctl1' is not a compute"):
        RollingUpgradeComputes(targets(tmp_path).get("ctl1"), {"computes": "ctl1"}).runbook()


def test_the_rollback_and_the_interrupted_sync_are_planned_without_a_host(
        tmp_path: Path) -> None:
    host = targets(tmp_path).get("ctl1")
    titles = [step.title for step in RollBackUpgrade(host, {}).runbook()]
    assert titles[2:6] == ["Start the database on ctl1 if it is down",
                           "Load each database from its dump",
                           "Put the configuration back from the backup on each host",
                           "Install the previous release again"]
    plan = InterruptDbSync(host, {}).plan()
    assert "/opt/openstack/bin/nova-manage cell_v2 map_cell0" in plan
    assert any("LOCK TABLES nova.migrations READ" in line for line in plan)
    assert "nova-manage --config-file /etc/nova/nova.conf db sync" in plan[-2]
    with pytest.raises(ParamError, match=r"expected <database>\.<table>"):
        InterruptDbSync.validate({"table": "migrations"})


def test_the_lab_switch_is_a_valid_script_naming_both_releases() -> None:
    from stackdrill.lab.cloud.release import CURRENT, PREVIOUS, switch_script, upgrade_inventory

    script = switch_script()
    subprocess.run(["sh", "-n", "-c", script], check=True)
    assert f"venv={CURRENT.venv}; series={CURRENT.series}" in script
    assert f"venv={PREVIOUS.venv}; series={PREVIOUS.series}" in script
    assert upgrade_inventory(PREVIOUS) == {
        "install": f"/usr/local/sbin/stackdrill-lab-release {CURRENT.series}",
        "install_previous": f"/usr/local/sbin/stackdrill-lab-release {PREVIOUS.series}",
        "bin_dir": str(CURRENT.bin)}


def test_the_release_a_lab_runs_is_the_one_its_first_controller_was_switched_to(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stackdrill.lab.cloud.release import (
        CURRENT,
        PREVIOUS,
        RUNNING,
        record_release,
        running_release,
    )
    from stackdrill.lab.topology import LabPaths

    paths = LabPaths(tmp_path)
    paths.inventory.write_text("hosts: {}\n")  # a lab was built here (single topology)
    record_release(paths, PREVIOUS)
    assert running_release(paths) == PREVIOUS
    switched = paths.merged("controller") / RUNNING.lstrip("/")
    switched.parent.mkdir(parents=True)
    switched.write_text(f"{CURRENT.series}\n")
    assert running_release(paths) == CURRENT


class _Database:
    def __init__(self, running: bool) -> None:
        self.running = running

    def is_running(self) -> bool:
        return self.running


def test_the_interrupted_sync_is_confirmed_only_by_its_failure_with_the_database_down(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No status yet, or the database still up: not confirmed; a sync that succeeded: the
    fault did nothing, and says so; a failed sync under a stopped database: confirmed."""
    host = targets(tmp_path).get("ctl1")
    status = {"text": ""}
    database = _Database(running=True)

    def run(command: str, **_: Any) -> CommandResult:
        out = status["text"] if command.startswith("cat ") else "DBConnectionError: lost"
        return CommandResult(host="ctl1", command=command, exit_status=0, stdout=out,
                             stderr="", started=0.0, duration=0.1)

    monkeypatch.setattr(host, "run", run)
    monkeypatch.setattr(host, "service", lambda _name: database)
    fault = InterruptDbSync(host, {})
    facts = {"database": "mariadb", "table": "nova.migrations"}
    assert fault.confirm(facts) is None  # the sync has not ended
    status["text"] = "255\n"
    assert fault.confirm(facts) is None  # it failed, but the database still runs
    database.running = False
    confirmed = fault.confirm(facts)
    assert confirmed is not None and "exited 255" in confirmed
    status["text"] = "0\n"
    with pytest.raises(FaultError, match="the sync succeeded"):
        fault.confirm(facts)
