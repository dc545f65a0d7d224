"""``stackdrill discover`` against the lab cloud finds the lab's own hosts: every host it names
is in the lab's inventory with the same address, with roles the lab gives it, and every
compute host is found."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stackdrill.inventory.loader import load_inventory
from stackdrill.lab.lab import Lab

# Part of the long tier, not of CI: scripts/test -m long tests/lab runs it (README).
pytestmark = pytest.mark.long

ROOT = Path(__file__).resolve().parents[2]


def test_discover_finds_the_lab_hosts(lab: Lab, tmp_path: Path) -> None:
    expected = load_inventory(lab.ensure_up())
    output = tmp_path / "discovered.yaml"
    clouds = lab.paths.root / "clouds.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "stackdrill.cli", "discover", "--os-cloud", "stackdrill-lab",
         "--output", str(output)],
        cwd=ROOT, env={**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds)},
        capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    found = load_inventory(output)  # validates against the inventory schema
    assert found.cloud == "stackdrill-lab"
    assert found.production is True
    by_address = {host.address: host for host in expected.hosts.values()}
    for host in found.hosts.values():
        # Cinder reports hosts by name only; this machine has no DNS for the lab's names, so
        # such a host keeps its name as its address.
        lab_host = by_address.get(host.address) or expected.hosts.get(host.address)
        assert lab_host is not None, f"{host.name} ({host.address}) is not a lab host"
        assert set(host.roles) <= set(lab_host.roles), (host.name, host.roles, lab_host.roles)
    found_addresses = {host.address for host in found.hosts.values()}
    for lab_host in expected.with_role("compute"):
        assert lab_host.address in found_addresses, lab_host.name
    controllers = [h for h in found.hosts.values() if "controller" in h.roles]
    assert [by_address[h.address].name for h in controllers] == \
        [h.name for h in expected.with_role("controller")]
