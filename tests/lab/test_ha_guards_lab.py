"""The quorum guard meets a real cluster. On the HA lab (three controllers, the inventory's
clusters ``galera`` and ``rabbitmq``), a fault on 2 of the 3 Galera members is refused without
the cluster's tag: the whole step, before any host is touched (MariaDB's main process on every
controller is the same after the run, and nothing is journalled). With the clusters' tags the
dry run plans the same step without a refusal; the drills that break the quorum for real
(``features/ha``) carry them.

Skipped unless the lab that is up is the HA one (``stackdrill lab up --topology ha``): these
tests do not bring a lab up."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackdrill.engine.journal import Journal
from stackdrill.hostkit.units import unit_statuses
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.lab.lab import Lab
from tests.feature_dirs import write_feature_dir
from tests.lab.test_safety_lab import run_args, stackdrill

FEATURE = """\
@allow_down_controller_2 {tags}
Feature: two Galera members at once
  Scenario: MariaDB stops on 2 controllers
    Given a controller host
    When the fault "stop_service" is injected on 2 controller hosts:
      | service | mariadb |
    Then the faults are confirmed within 60 seconds
"""
REFUSAL = ("fault stop_service refused: it would put 2 of the 3 members of cluster galera under "
           "faults at once (controller1, controller2), the limit is 1 (fewer than half keeps its "
           "quorum); a feature that means to break it says @allow_down_galera_2")


@pytest.fixture
def ha_inventory(lab: Lab) -> Path:
    """The inventory of the HA lab that is up."""
    path = lab.paths.inventory
    if not path.is_file():
        pytest.skip("no lab is up; these tests need the HA lab (stackdrill lab up --topology ha)")
    if "galera" not in load_inventory(path).clusters:
        pytest.skip("the lab that is up is not the HA one (stackdrill lab up --topology ha)")
    return path


def mariadb_pids(inventory: Path) -> dict[str, int]:
    targets = Targets(load_inventory(inventory))
    try:
        pids = {target.name: unit_statuses(target, ["mariadb"])["mariadb"].main_pid
                for target in targets.with_role("controller")}
    finally:
        targets.close()
    assert len(pids) == 3 and all(pids.values()), pids
    return pids


def test_a_fault_on_two_of_three_galera_members_is_refused_without_the_tag(
        ha_inventory: Path, tmp_path: Path) -> None:
    features = write_feature_dir(tmp_path / "two", "two", FEATURE.format(tags=""))
    before = mariadb_pids(ha_inventory)
    result = stackdrill(tmp_path, *run_args(features, ha_inventory, tmp_path))
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert REFUSAL in out, out
    assert "no host of the 2 was touched" in out, out
    assert "Traceback" not in out
    assert mariadb_pids(ha_inventory) == before
    journal = Journal(tmp_path / "journal.jsonl")
    assert not journal.path.exists() or journal.pending() == []


def test_the_plan_refuses_it_too_and_the_clusters_tags_lift_the_refusal(
        ha_inventory: Path, tmp_path: Path) -> None:
    plain = write_feature_dir(tmp_path / "plain", "two", FEATURE.format(tags=""))
    tagged = write_feature_dir(tmp_path / "tagged", "two", FEATURE.format(
        tags="@allow_down_galera_2 @allow_down_rabbitmq_2"))
    plans = {}
    for name, features in (("plain", plain), ("tagged", tagged)):
        result = stackdrill(tmp_path, "plan", str(features), "--inventory", str(ha_inventory),
                            "--", "-c", "/dev/null", "--rootdir", str(features))
        assert result.returncode == 0, result.stdout + result.stderr
        plans[name] = result.stdout
    assert f"    ! {REFUSAL}" in plans["plain"].splitlines(), plans["plain"]
    assert "(hosts under faults at once raised to: controller 2, galera 2, rabbitmq 2)" \
        in plans["tagged"], plans["tagged"]
    assert not [line for line in plans["tagged"].splitlines() if line.startswith("    ! ")]
