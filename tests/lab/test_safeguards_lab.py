"""A safeguard trips during a real drill on the lab: the wait for recovery is interrupted, the
fault is undone, the drill is recorded as aborted and ``stackdrill run`` exits 3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackdrill.core.waiting import poll_until
from stackdrill.engine.journal import Journal
from stackdrill.hostkit.units import unit_statuses
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.lab.lab import Lab
from tests.feature_dirs import write_feature_dir

ROOT = Path(__file__).resolve().parents[2]

# libvirtd stops on the first compute host; the safeguard says it must not (grace 5 s), and
# nothing in the scenario starts it again, so only the safeguard ends the 300 s wait.
FEATURE = """\
@drill
Feature: a drill a safeguard stops
  Scenario: libvirtd stays down
    Given a compute host
    And the cloud is in its verified state
    And the safeguards:
      | path                        | check | grace |
      | host:*/unit:libvirtd/active | exact | 5     |
    When the fault "stop_service" is injected on the compute host:
      | service | libvirtd |
    Then the fault is confirmed within 30 seconds
    And the cloud is back to its verified state within 300 seconds

  Scenario: never starts after an abort
    Given a compute host
    And the cloud is in its verified state
"""


@pytest.fixture
def lab_targets(lab: Lab) -> Iterator[Targets]:
    targets = Targets(load_inventory(lab.ensure_up()))
    yield targets
    targets.close()


def test_a_tripped_safeguard_aborts_the_drill_and_undoes_the_fault(lab: Lab,
                                                                   lab_targets: Targets,
                                                                   tmp_path: Path) -> None:
    compute = lab_targets.with_role("compute")[0]
    assert unit_statuses(compute, ["libvirtd"])["libvirtd"].active == "active"
    features = write_feature_dir(tmp_path / "features", "safeguard", FEATURE)
    journal = tmp_path / "journal.jsonl"
    history = tmp_path / "history.jsonl"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "stackdrill.cli", "run", str(features), "--lab",
         "--journal", str(journal), "--history", str(history),
         "--reports", str(tmp_path / "reports"),
         "--", "-c", "/dev/null", "--rootdir", str(features), "-q", "-p", "no:cacheprovider",
         "--safeguard-interval", "1"],
        cwd=ROOT, env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
        capture_output=True, text=True, timeout=600, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert time.monotonic() - started < 240, output  # the 300 s wait was interrupted
    assert "Traceback" not in output
    assert result.stderr.strip().splitlines()[-1].startswith(
        "stackdrill: aborted by safeguard: "), output
    assert Journal(journal).pending() == []
    poll_until(lambda: unit_statuses(compute, ["libvirtd"])["libvirtd"].active == "active",
               timeout=60, interval=1, description="libvirtd running again after the undo")
    records = [json.loads(line) for line in history.read_text().splitlines()]
    assert [(r["scenario"], r["result"]) for r in records] == [
        ("libvirtd stays down", "aborted")], records
    assert "host:*/unit:libvirtd/active exact (grace 5s)" in records[0]["reason"]
    kinds = [event["kind"] for event in records[0]["events"]]
    assert kinds.index("aborted") < kinds.index("undone")
