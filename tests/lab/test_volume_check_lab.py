"""The volume check on the lab: a volume created on the cloud becomes available on the lab's
block storage host and is deleted; one larger than the lab can hold fails with a reason (the
API's quota refusal or Cinder's scheduler message); and the steps say so in a drill."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stackdrill.cloud import volume_check
from stackdrill.cloud.access import CloudAccess
from stackdrill.lab.cloud.layout import BLOCK_BACKEND, BLOCK_STORAGE_HOST
from stackdrill.lab.lab import Lab

# Part of the long tier, not of CI: scripts/test -m long tests/lab runs it (README).
pytestmark = pytest.mark.long

FEATURE = """\
@lab
Feature: the volume check on the lab

  Scenario: a volume is created and becomes available
    Then a volume of 1 GiB created on the cloud becomes available within 120 seconds
"""


def check_volumes(cloud_access: CloudAccess) -> list[str]:
    conn = cloud_access.connection()
    return [volume.name for volume in conn.block_storage.volumes(details=False,
                                                                  all_projects=True)
            if (volume.name or "").startswith(volume_check.PREFIX)]


def test_a_volume_created_on_the_lab_becomes_available_and_is_deleted(
        lab: Lab, cloud_access: CloudAccess) -> None:
    outcome = volume_check.create_volume(cloud_access, 1, 120)
    assert outcome.available, outcome.render()
    assert outcome.backend.startswith(f"{BLOCK_STORAGE_HOST}@{BLOCK_BACKEND}"), outcome.render()
    assert check_volumes(cloud_access) == []


def test_a_volume_larger_than_the_lab_fails_with_a_reason(
        lab: Lab, cloud_access: CloudAccess) -> None:
    outcome = volume_check.create_volume(cloud_access, 100000, 120)
    assert outcome.status in ("refused", "error"), outcome.render()
    assert outcome.reason and "no message" not in outcome.reason, outcome.render()
    assert check_volumes(cloud_access) == []


def test_the_step_creates_a_volume_in_a_drill(lab: Lab, cloud_access: CloudAccess,
                                               tmp_path: Path) -> None:
    """A feature file alone, outside the checkout, run from another directory."""
    features = tmp_path / "features"
    features.mkdir()
    (features / "volume.feature").write_text(FEATURE)
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    env.pop("STACKDRILL_INVENTORY", None)
    result = subprocess.run(
        [sys.executable, "-m", "stackdrill.cli", "run", str(features), "--lab",
         "--reports", str(tmp_path / "reports"), "--journal", str(tmp_path / "journal.jsonl"),
         "--history", str(tmp_path / "history.jsonl"), "--", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout
    assert check_volumes(cloud_access) == []
