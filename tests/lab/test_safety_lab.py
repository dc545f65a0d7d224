"""Safe to run on a real cloud: the dry run touches nothing, a production inventory is refused
without the right confirmation, and a second run against a cloud being drilled is refused."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackdrill.api._registry import load_registries
from stackdrill.cloud.access import CloudAccess
from stackdrill.core.waiting import poll_until
from stackdrill.engine.drill import Drill
from stackdrill.engine.journal import Journal
from stackdrill.hostkit.units import unit_statuses
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.lab.lab import Lab
from tests.feature_dirs import write_feature_dir
from tests.lab.test_bad_input import assert_one_line_error, drill_dir, lab_inventory

ROOT = Path(__file__).resolve().parents[2]
WATCHED = ["dbus", "libvirtd"]


@pytest.fixture
def lab_targets(lab: Lab) -> Iterator[Targets]:
    targets = Targets(load_inventory(lab.ensure_up()))
    yield targets
    targets.close()


def main_pids(targets: Targets) -> dict[str, int]:
    """Main PIDs of dbus and libvirtd on every compute host; 0 would mean not running."""
    pids = {}
    for target in targets.with_role("compute"):
        for unit, status in unit_statuses(target, WATCHED).items():
            pids[f"{target.name}/{unit}"] = status.main_pid
    assert all(pids.values()), pids
    return pids


def stackdrill(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with its own state directory: its lock and default journal live in tmp_path."""
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    return subprocess.run([sys.executable, "-m", "stackdrill.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def run_args(features: Path, inventory: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["run", str(features), "--inventory", str(inventory), "--journal",
            str(tmp_path / "journal.jsonl"), "--reports", str(tmp_path / "reports"), *extra,
            "--", "-c", "/dev/null", "--rootdir", str(features), "-q", "-p", "no:cacheprovider"]


def steady(observer: Drill) -> bool:
    """The state equals the verified state just recorded; if not (a value still in flux after
    a previous test), record it again."""
    if observer.deviations("steady?"):
        observer.record_baseline()
        return False
    return True


def test_plan_prints_the_commands_and_touches_no_host(lab_targets: Targets,
                                                      cloud_access: CloudAccess,
                                                      tmp_path: Path) -> None:
    """The plan of every drill the project ships: the whole verified state (every host's
    probes and the cloud's APIs) is the same after it, and dbus and libvirtd kept their PIDs."""
    observer = Drill("dry-run check", lab_targets, load_registries(),
                     Journal(tmp_path / "observer.jsonl"), cloud=cloud_access)
    observer.record_baseline(settle=180)
    poll_until(functools.partial(steady, observer), timeout=120,
               description="two snapshots in a row equal before the plan")
    before = observer.baseline
    assert before is not None
    pids = main_pids(lab_targets)
    result = stackdrill(tmp_path, "plan", "--lab", "features")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    first = lab_targets.with_role("compute")[0].name
    for line in (f"  fault kill_service on {first} (compute host, line ",
                 "    $ kill -s SEGV $(systemctl show -p MainPID --value dbus)",
                 "    $ systemctl stop <the active sockets that would start dbus again>",
                 f"  recovery start_services on {first} (compute host, line ",
                 "       $ systemctl start dbus",
                 "       $ systemctl start libvirtd",
                 "    $ kill -s KILL $(systemctl show -p MainPID --value libvirtd)",
                 "       $ systemctl restart libvirtd",
                 "  fault power_off_host on every host (line "):
        assert any(printed.startswith(line) for printed in out.splitlines()), out
    assert main_pids(lab_targets) == pids
    assert observer.deviations("after the plan") == []
    assert len(before.values) > 100 and any(p.startswith("cloud/") for p in before.values)
    assert not (tmp_path / "state").exists()  # no journal, no lock
    observer.close()


HARMLESS = """\
@drill
Feature: a drill that breaks nothing
  Scenario: only the verified state
    Given a compute host
    And the cloud is in its verified state
"""


def test_a_production_inventory_needs_the_right_confirmation(lab: Lab, lab_targets: Targets,
                                                             tmp_path: Path) -> None:
    inventory = lab_inventory(lab, tmp_path, production=True)
    features = drill_dir(tmp_path / "features")
    before = main_pids(lab_targets)

    refused = stackdrill(tmp_path, *run_args(features, inventory, tmp_path))
    assert_one_line_error(refused, "production cloud 'stackdrill-lab'",
                          "--confirm stackdrill-lab", "nothing injected")
    wrong = stackdrill(tmp_path, *run_args(features, inventory, tmp_path,
                                           "--confirm", "stackdrill-lob"))
    assert_one_line_error(wrong, "--confirm 'stackdrill-lob' does not match",
                          "'stackdrill-lab'")
    assert not Journal(tmp_path / "journal.jsonl").path.exists()
    assert main_pids(lab_targets) == before

    harmless = write_feature_dir(tmp_path / "harmless", "harmless", HARMLESS)
    confirmed = stackdrill(tmp_path, *run_args(harmless, inventory, tmp_path,
                                               "--confirm", "stackdrill-lab"))
    assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr


HOLDING = """\
@drill
Feature: a drill that holds the cloud
  Scenario: held until released
    Given a compute host
    And the run holds until {release} exists
"""

HOLDING_STEPS = '''\
from pathlib import Path

from pytest_bdd import given, parsers, then

from stackdrill.core.waiting import poll_until

pytest_plugins = ["stackdrill.builtin.steps.drill_steps"]


@given(parsers.parse("the run holds until {release} exists"))
@then(parsers.parse("the run holds until {release} exists"))
def hold(release: str) -> None:
    Path(release + ".holding").touch()
    poll_until(Path(release).exists, timeout=90, interval=0.1, description="released")
'''


def test_a_second_run_against_the_same_cloud_is_refused(lab: Lab, lab_targets: Targets,
                                                        tmp_path: Path) -> None:
    release = tmp_path / "release"
    holding = write_feature_dir(tmp_path / "holding", "holding",
                                HOLDING.format(release=release), HOLDING_STEPS)
    inventory = lab.paths.inventory
    # the lab's lock is GET_LOCK in its MariaDB; its holder's record is on the controller
    holder = "/var/lib/stackdrill/locks/stackdrill-lab.holder"
    controller = lab_targets.get("controller")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    first = subprocess.Popen(
        [sys.executable, "-m", "stackdrill.cli",
         *run_args(holding, inventory, tmp_path / "first")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        poll_until(Path(f"{release}.holding").exists, timeout=60, interval=0.1,
                   description="the first run is inside its drill")
        assert json.loads(controller.run(f"cat {holder}", record=False).stdout)["pid"] \
            == first.pid

        before = main_pids(lab_targets)
        second = stackdrill(tmp_path, *run_args(drill_dir(tmp_path / "second"), inventory,
                                                tmp_path / "second"))
        assert_one_line_error(second, "cloud stackdrill-lab is being drilled by pid "
                                      f"{first.pid} on host ")
        assert not (tmp_path / "second" / "journal.jsonl").exists()
        assert main_pids(lab_targets) == before
        assert first.poll() is None
    finally:
        release.touch()
        output, _ = first.communicate(timeout=60)
    assert first.returncode == 0, output
    # released, its record removed
    assert not controller.run(f"test -e {holder}", record=False).ok


TWO_CONTROLLERS = """\
@drill
Feature: a fault on every controller
  Scenario: dbus is killed on each controller at once
    Given a controller host
    When the fault "kill_service" is injected on every controller host:
      | service | dbus |
    Then the faults are confirmed within 10 seconds
"""


def dbus_pids(targets: Targets, names: list[str]) -> dict[str, int]:
    pids = {name: unit_statuses(targets.get(name), ["dbus"])["dbus"].main_pid for name in names}
    assert all(pids.values()), pids
    return pids


def test_a_guard_refuses_a_second_controller(lab: Lab, lab_targets: Targets,
                                             tmp_path: Path) -> None:
    """compute2 is given the controller role too: one step would put both controllers under a
    fault, over the default limit of one. The whole step is refused; neither host is touched."""
    inventory = lab_inventory(lab, tmp_path, hosts__compute2__roles=["compute", "controller"])
    features = write_feature_dir(tmp_path / "two", "two", TWO_CONTROLLERS)
    watched = ["controller", "compute2"]
    before = dbus_pids(lab_targets, watched)
    result = stackdrill(tmp_path, *run_args(features, inventory, tmp_path))
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert ("fault kill_service refused: it would put 2 controller hosts under faults at once "
            "(compute2, controller), the limit is 1") in out, out
    assert "no host of the 2 was touched" in out, out
    assert "Traceback" not in out
    assert dbus_pids(lab_targets, watched) == before
    journal = Journal(tmp_path / "journal.jsonl")
    assert not journal.path.exists() or journal.pending() == []
