"""Bad input ends in one line on stderr and exit code 2, with nothing injected."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stackdrill.engine.journal import Journal
from stackdrill.lab.lab import Lab
from tests.feature_dirs import write_feature_dir

ROOT = Path(__file__).resolve().parents[2]

FEATURE = """\
@drill
Feature: bad input
  Scenario: a drill
    Given a compute host running qemu domains
    And the cloud is in its verified state
    When the fault "{fault}" is injected on the compute host:
      | service | dbus |
    Then the fault is confirmed within 5 seconds
"""


def stackdrill(*args: str, cwd: Path = ROOT,
               state: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI; with ``state``, its lock, journal and history live there, not in the user's."""
    env = {**os.environ, "XDG_STATE_HOME": str(state)} if state else None
    return subprocess.run([sys.executable, "-m", "stackdrill.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def drill_dir(tmp_path: Path, fault: str = "kill_service") -> Path:
    return write_feature_dir(tmp_path, "drill", FEATURE.format(fault=fault))


def run_drill(tmp_path: Path, inventory: Path, fault: str = "kill_service"
              ) -> tuple[subprocess.CompletedProcess[str], Journal]:
    directory = drill_dir(tmp_path / "features", fault)
    journal = tmp_path / "journal.jsonl"
    result = stackdrill("run", str(directory), "--inventory", str(inventory),
                        "--journal", str(journal), "--reports", str(tmp_path / "reports"),
                        "--", "-c", "/dev/null", "--rootdir", str(directory), "-q",
                        "-p", "no:cacheprovider", state=tmp_path / "state")
    return result, Journal(journal)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    error_lines = [line for line in output.splitlines() if "error" in line.lower()]
    assert len(error_lines) == 1, output
    for fragment in fragments:
        assert fragment in error_lines[0], output


def lab_inventory(lab: Lab, tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(lab.paths.inventory.read_text())
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def up(lab: Lab) -> Lab:
    lab.ensure_up()
    return lab


def test_malformed_inventory(tmp_path: Path) -> None:
    inventory = tmp_path / "bad.yaml"
    inventory.write_text("hosts:\n  compute1:\n    address: 10.0.0.1\n    roles: compute\n")
    result, journal = run_drill(tmp_path, inventory)
    assert_one_line_error(result, str(inventory), "hosts.compute1.roles", "expected list")
    assert journal.pending() == [] and not journal.path.exists()


def test_unknown_fault_is_refused_before_any_host_is_touched(up: Lab, tmp_path: Path) -> None:
    result, journal = run_drill(tmp_path, up.paths.inventory, fault="melt_cpu")
    assert_one_line_error(result, "drill.feature:6", "unknown fault 'melt_cpu'",
                          "kill_service")
    assert not journal.path.exists()


def test_unreachable_host(up: Lab, tmp_path: Path) -> None:
    inventory = lab_inventory(up, tmp_path, hosts__compute2={
        "address": "172.31.77.99", "roles": ["compute"]})
    result, journal = run_drill(tmp_path, inventory)
    assert_one_line_error(result, "compute2 (172.31.77.99:22)", "unreachable")
    assert not journal.path.exists()


def test_wrong_ssh_key(up: Lab, tmp_path: Path) -> None:
    key = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    inventory = lab_inventory(up, tmp_path, defaults__ssh__key=str(key))
    result, journal = run_drill(tmp_path, inventory)
    assert_one_line_error(result, "authentication failed for root", str(key))
    assert not journal.path.exists()


def test_unknown_host_key_is_refused(up: Lab, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    inventory = lab_inventory(up, tmp_path, defaults__ssh__known_hosts=str(known_hosts))
    result, journal = run_drill(tmp_path, inventory)
    assert_one_line_error(result, "host key not in", str(known_hosts))
    assert not journal.path.exists()
