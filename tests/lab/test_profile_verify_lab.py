"""``stackdrill profile verify`` on the lab, under whichever unit naming it was brought up with
(``packages``, or ``devstack`` with ``stackdrill lab up --units devstack``): every service its
inventory maps matches what the hosts run, and an inventory copy that names one unit as the lab's
naming does not (Neutron's unit as DevStack named it before 2025.1, ``devstack@q-svc``) is a
mismatch naming the unit the lab runs instead and what to write."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stackdrill.inventory.loader import load_inventory
from stackdrill.lab.lab import Lab

# Part of the long tier, not of CI: scripts/test -m long tests/lab runs it (README).
pytestmark = pytest.mark.long

ROOT = Path(__file__).resolve().parents[2]
OLD_NEUTRON_UNIT = "devstack@q-svc"  # neither naming of the lab uses it


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stackdrill.cli", "profile", "verify", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_the_lab_runs_what_its_inventory_maps(lab: Lab) -> None:
    inventory = load_inventory(lab.ensure_up())
    result = verify("--lab")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].startswith("profile verify: ") and lines[-1].endswith(": all match")
    compute_unit = inventory.services["nova-compute"].unit
    assert f"compute1: nova-compute (unit {compute_unit}): ok" in lines
    assert f"compute2: nova-compute (unit {compute_unit}): ok" in lines
    assert any(line.startswith("storage1: cinder-volume (unit ") for line in lines)
    assert all(": ok" in line for line in lines[:-1]), result.stdout


def test_a_unit_the_lab_does_not_run_is_a_mismatch_naming_the_one_it_does(
        lab: Lab, tmp_path: Path) -> None:
    data = yaml.safe_load(Path(lab.ensure_up()).read_text())
    runs = data["services"]["neutron-api"]["unit"]  # neutron-api, or devstack@neutron-api
    assert runs != OLD_NEUTRON_UNIT
    data["services"]["neutron-api"] = {"unit": OLD_NEUTRON_UNIT}
    copy = tmp_path / "inventory.yaml"
    copy.write_text(yaml.safe_dump(data, sort_keys=False))
    result = verify("--inventory", str(copy))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    renamed = [line for line in lines if line.startswith("controller: neutron-api ")]
    assert len(renamed) == 1, result.stdout
    assert renamed[0].startswith(
        f"controller: neutron-api (unit {OLD_NEUTRON_UNIT}): renamed: no unit "
        f"{OLD_NEUTRON_UNIT}.service, but {runs}.service (active); fix: set "
        f"services.neutron-api.unit to {runs} in {copy}"), renamed[0]
    others = [line for line in lines[:-1] if line not in renamed]
    assert others and all(": ok" in line for line in others), result.stdout
    assert lines[-1].endswith(" ok, 1 renamed: MISMATCH"), lines[-1]
