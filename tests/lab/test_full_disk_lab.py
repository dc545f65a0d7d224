"""A full disk on the drill host: the run's journal, or its drill history, cannot be written.
The run is refused with one line (exit 2) before anything is injected: the lab's dbus keeps
its main PID on every compute, and the journal holds no entry."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackdrill.hosts.target import Target, Targets

ROOT = Path(__file__).resolve().parents[2]

FEATURE = """\
@drill
Feature: a drill from a drill host whose disk is full
  Scenario: dbus is killed on a compute host
    Given a compute host
    And the cloud is in its verified state
    When the fault "kill_service" is injected on the compute host:
      | service | dbus |
    Then the fault is confirmed within 30 seconds
"""


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs filled to the last byte."""
    mount = tmp_path / "full"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        subprocess.run(["dd", "if=/dev/zero", f"of={mount / 'filler'}", "bs=64k"],
                       capture_output=True, check=False)  # stops at ENOSPC
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def dbus_pids(computes: list[Target]) -> dict[str, str]:
    return {t.name: t.run("systemctl show -p MainPID --value dbus").stdout.strip()
            for t in computes}


def run(tmp_path: Path, inventory: Path, journal: Path, history: Path
        ) -> subprocess.CompletedProcess[str]:
    features = tmp_path / "features"
    features.mkdir(exist_ok=True)
    (features / "full_disk.feature").write_text(FEATURE)
    return subprocess.run(
        [sys.executable, "-m", "stackdrill.cli", "run", str(features), "--inventory",
         str(inventory), "--journal", str(journal), "--reports", str(tmp_path / "reports"),
         "--history", str(history), "--", "-c", "/dev/null", "--rootdir", str(features), "-q",
         "-p", "no:cacheprovider"],
        cwd=ROOT, env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
        capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.parametrize("full", ["journal", "history"])
def test_a_full_disk_refuses_the_run_before_any_injection(
        full: str, full_disk: Path, tmp_path: Path, lab_targets: Targets) -> None:
    computes = lab_targets.with_role("compute")
    before = dbus_pids(computes)
    assert all(pid not in ("", "0") for pid in before.values()), before
    journal = (full_disk if full == "journal" else tmp_path) / "journal.jsonl"
    history = (full_disk if full == "history" else tmp_path) / "history.jsonl"
    inventory = lab_targets.inventory.path
    result = run(tmp_path, inventory, journal, history)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, (result.stdout[-2000:], result.stderr[-2000:])
    assert len(lines) == 1 and "nothing injected" in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert dbus_pids(computes) == before
    assert not journal.exists() or not journal.read_text().strip()
