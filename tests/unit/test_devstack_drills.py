"""``-m devstack`` selects real drills, and each of them acts only on units the devstack profile
maps: planned (a dry run, no host contacted) against the inventory the DevStack plugin writes for
the devstack job's all-in-one controller and for a controller with a subnode."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stackdrill.inventory.profiles import load_profile
from tests.unit.test_devstack_inventory import CONTROLLER, SUBNODE

ROOT = Path(__file__).resolve().parents[2]
NODES = {
    "all-in-one": [f"np0001,192.0.2.10,{CONTROLLER}"],
    "two-node": [f"np0001,192.0.2.10,{CONTROLLER}", f"np0002,192.0.2.11,{SUBNODE}"],
}


def stackdrill(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    return subprocess.run([sys.executable, "-m", "stackdrill.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def units_in(plan: str) -> set[str]:
    """The systemd units the plan's commands name (the last word of a systemctl command, or the
    unit of a ``systemctl show --value`` inside a command)."""
    units: set[str] = set()
    for line in plan.splitlines():
        command = line.strip()
        if not command.startswith("$ ") or "<" in command:
            continue
        units.update(re.findall(r"--value ([\w@.:-]+)", command))
        words = command[2:].split()
        if words[0] == "systemctl":
            units.add(words[-1])
    return units


@pytest.fixture(scope="module", params=sorted(NODES))
def plan(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp_path = tmp_path_factory.mktemp(request.param)
    inventory = tmp_path / "inventory.yaml"
    nodes = [arg for node in NODES[request.param] for arg in ("--node", node)]
    written = stackdrill(tmp_path, "inventory", "devstack", *nodes, "--unit", "mariadb=mysql",
                         "--ssh-key", str(tmp_path / "key"),
                         "--known-hosts", str(tmp_path / "known_hosts"),
                         "--output", str(inventory))
    assert written.returncode == 0, written.stderr
    result = stackdrill(tmp_path, "plan", "features", "-m", "devstack",
                        "--inventory", str(inventory))
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_devstack_marker_selects_drills(plan: str) -> None:
    header = re.match(r"plan: (\d+) scenarios? ", plan)
    assert header is not None, plan
    assert int(header.group(1)) >= 1, plan
    assert "libvirtd is killed with SIGKILL and its guests survive" in plan
    assert "RabbitMQ stops on the controller" in plan


def test_every_devstack_drill_can_be_planned_and_is_not_refused(plan: str) -> None:
    assert "cannot plan" not in plan
    assert not [line for line in plan.splitlines() if line.lstrip().startswith("!")], plan


def test_every_unit_a_devstack_drill_touches_is_mapped_by_the_profile(plan: str) -> None:
    profile = load_profile("devstack")
    mapped = {unit for unit in profile.services_of(None).values() if isinstance(unit, str)}
    touched = units_in(plan)
    assert touched, plan
    assert touched <= mapped, touched - mapped


def test_no_devstack_drill_reboots_or_powers_off_a_node(plan: str) -> None:
    """One node is the whole cloud and the drill host: a reboot would end the job."""
    faults = set(re.findall(r"^  fault (\S+) on ", plan, flags=re.MULTILINE))
    assert faults
    assert not faults & {"reboot_host", "power_off_host", "pull_disk", "hold_services_at_boot"}
