"""Pre-upgrade and post-upgrade phases on the lab. On a lab of the previous release
(``stackdrill lab up --release previous``) the upgrade is real: ``--phase upgrade`` installs the
current release over it, and the post-upgrade phase lists each service's release and API
version that changed. On any lab, restarting every OpenStack service stands in for it: the
cloud must then match its pre-upgrade record. A canary server deleted between the phases, and
an API version lower than the record's, make the post-upgrade phase fail, naming them."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.canary import ensure_canaries
from stackdrill.engine.upgrade import load, record_path, save
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.lab.cloud.layout import COMPUTE_UNITS, CONTROLLER_UNITS
from stackdrill.lab.cloud.release import CURRENT, PREVIOUS, running_release
from stackdrill.lab.lab import Lab
from stackdrill.lab.topology import LabPaths

# Part of the long tier, not of CI: scripts/test -m long tests/lab runs it (README).
pytestmark = pytest.mark.long

ROOT = Path(__file__).resolve().parents[2]
CLOUD = "stackdrill-lab"
OPENSTACK_SERVICES = [s for s in CONTROLLER_UNITS
                      if s not in ("mariadb", "rabbitmq-server", "memcached")]


@pytest.fixture
def lab_targets(lab: Lab) -> Iterator[Targets]:
    targets = Targets(load_inventory(lab.ensure_up()))
    yield targets
    targets.close()


@pytest.fixture
def access(lab: Lab) -> Iterator[CloudAccess]:
    found = CloudAccess(CLOUD, config_files=[str(LabPaths.default().root / "clouds.yaml")])
    yield found
    found.close()


def phase(tmp_path: Path, name: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    return subprocess.run(
        [sys.executable, "-m", "stackdrill.cli", "run", "features/upgrade", "--lab",
         "--phase", name, "--reports", str(tmp_path / "reports" / name), "--history",
         str(tmp_path / "history.jsonl"), "--", "-p", "no:cacheprovider"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)


def upgrade(targets: Targets) -> None:
    """What an upgrade does to the services, short of new packages: restart each of them."""
    for target in targets.with_role("controller"):
        target.systemctl("restart", OPENSTACK_SERVICES, timeout=300)
    for target in targets.with_role("compute"):
        target.systemctl("restart", COMPUTE_UNITS, timeout=300)


def test_the_cloud_matches_its_pre_upgrade_state_after_the_services_restart(
        lab_targets: Targets, access: CloudAccess, tmp_path: Path) -> None:
    pre = phase(tmp_path, "pre-upgrade")
    assert pre.returncode == 0, pre.stdout + pre.stderr
    record = load(record_path(tmp_path / "state" / "stackdrill", CLOUD), CLOUD)
    assert sorted(record.canaries) == sorted(t.name for t in lab_targets.with_role("compute"))
    assert record.versions["compute"].startswith("2.")
    assert any(path.startswith("cloud/server:stackdrill-canary-") for path in
               record.snapshot.values)

    upgrade(lab_targets)
    post = phase(tmp_path, "post-upgrade")
    output = post.stdout + post.stderr
    assert post.returncode == 0, output
    assert "changed since the pre-upgrade record" in output
    assert "changed: no service version changed" in output
    assert "DEVIATION" not in output

    records = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text()
               .splitlines()]
    assert [r["result"] for r in records] == ["passed", "passed"]
    assert records[-1]["changes"] == []


def test_a_canary_deleted_between_the_phases_fails_post_upgrade(
        lab_targets: Targets, access: CloudAccess, tmp_path: Path) -> None:
    pre = phase(tmp_path, "pre-upgrade")
    assert pre.returncode == 0, pre.stdout + pre.stderr
    record = load(record_path(tmp_path / "state" / "stackdrill", CLOUD), CLOUD)
    host, server_id = sorted(record.canaries.items())[0]
    conn = access.connection()
    try:
        conn.compute.delete_server(server_id)
        conn.compute.wait_for_delete(conn.compute.get_server(server_id), wait=120)
        post = phase(tmp_path, "post-upgrade")
        output = post.stdout + post.stderr
        assert post.returncode == 1, output
        gone = f"canary on {host} (server {server_id}) is gone"
        assert gone in output
        assert f"DEVIATION: {gone}" in output  # the terminal summary
        last = json.loads((tmp_path / "history.jsonl").read_text().splitlines()[-1])
        assert last["result"] == "failed"
        assert gone in last["reason"]
        assert gone in last["deviations"][-1]["deviations"]
    finally:
        ensure_canaries(access, [t.name for t in lab_targets.with_role("compute")])


@pytest.mark.long  # a pair of phases of its own (about 4 minutes): run with -m long
def test_an_api_version_lower_than_the_records_fails_post_upgrade(
        lab_targets: Targets, access: CloudAccess, tmp_path: Path) -> None:
    """The record says the compute API went up to 2.999 before the upgrade: the cloud's own
    highest version is now lower, as after an upgrade that took a microversion away."""
    pre = phase(tmp_path, "pre-upgrade")
    assert pre.returncode == 0, pre.stdout + pre.stderr
    path = record_path(tmp_path / "state" / "stackdrill", CLOUD)
    record = load(path, CLOUD)
    now = record.versions["compute"]
    save(dataclasses.replace(record, versions={**record.versions, "compute": "2.999"}), path)
    post = phase(tmp_path, "post-upgrade")
    output = post.stdout + post.stderr
    assert post.returncode == 1, output
    assert f"DEVIATION: compute API went down: 2.999 -> {now}" in output
    last = json.loads((tmp_path / "history.jsonl").read_text().splitlines()[-1])
    assert last["result"] == "failed"
    assert "compute API went down" in last["reason"]


def test_the_previous_release_upgraded_in_place_passes_the_post_upgrade_phase(
        lab: Lab, lab_targets: Targets, access: CloudAccess, tmp_path: Path) -> None:
    """The real upgrade, on a lab brought up with --release previous: the same canaries on the
    same hosts afterwards, each service's release and the compute API's version listed as
    changed, and the lab running the current release."""
    if running_release(LabPaths.default()) != PREVIOUS:
        pytest.skip("the lab does not run the previous release: stackdrill lab down; "
                    "stackdrill lab up --release previous")
    pre = phase(tmp_path, "pre-upgrade")
    assert pre.returncode == 0, pre.stdout + pre.stderr
    before = load(record_path(tmp_path / "state" / "stackdrill", CLOUD), CLOUD)
    upgraded = phase(tmp_path, "upgrade")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert running_release(LabPaths.default()) == CURRENT
    post = phase(tmp_path, "post-upgrade")
    output = post.stdout + post.stderr
    assert post.returncode == 0, output
    assert f"changed: nova {before.releases['nova']} -> " in output
    assert "DEVIATION" not in output
    records = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text()
               .splitlines()]
    assert [r["result"] for r in records] == ["passed", "passed", "passed"]
    figures = records[1]["tenant"]["figures"]
    assert all(figures[f"canary:{host}/reboots"] == 0 for host in before.canaries)
