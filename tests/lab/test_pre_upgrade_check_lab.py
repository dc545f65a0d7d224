"""The pre-upgrade phase's cleaning check on the lab (the single topology): a clean lab has
nothing to clean; a libvirt domain defined on compute1 with a uuid Nova does not know, and a
stopped nova-compute, are each a deviation the phase fails on, named in its terminal summary
and in the drill history. What each test breaks is put back in its ``finally``."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.canary import wait_compute_up
from stackdrill.core.waiting import poll
from stackdrill.hosts.target import Target, Targets
from stackdrill.lab.lab import Lab
from stackdrill.lab.topology import LabPaths

# Part of the long tier, not of CI: scripts/test -m long tests/lab runs it (README).
pytestmark = pytest.mark.long

ROOT = Path(__file__).resolve().parents[2]
CLOUD = "stackdrill-lab"
DOMAIN_XML = """<domain type='qemu'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>
"""


@pytest.fixture
def access(lab: Lab) -> Iterator[CloudAccess]:
    found = CloudAccess(CLOUD, config_files=[str(LabPaths.default().root / "clouds.yaml")])
    yield found
    found.close()


def pre_upgrade(tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """``stackdrill run --phase pre-upgrade`` on the lab, and the drill history it wrote."""
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    history = tmp_path / "history.jsonl"
    ran = subprocess.run(
        [sys.executable, "-m", "stackdrill.cli", "run", "features/upgrade", "--lab",
         "--phase", "pre-upgrade", "--reports", str(tmp_path / "reports"), "--history",
         str(history), "--", "-p", "no:cacheprovider"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
    records = [json.loads(line) for line in history.read_text().splitlines()] \
        if history.is_file() else []
    return ran, records


def record_of(tmp_path: Path) -> Path:
    return tmp_path / "state" / "stackdrill" / "upgrade" / f"{CLOUD}.json"


def assert_fails_on(tmp_path: Path, ran: subprocess.CompletedProcess[str],
                    records: list[dict[str, Any]], deviation: str) -> None:
    """The phase failed on ``deviation``: in the terminal summary, the drill's failure and its
    recorded deviations; and it recorded no pre-upgrade state."""
    assert not record_of(tmp_path).exists()
    output = ran.stdout + ran.stderr
    assert ran.returncode == 1, output
    assert f"DEVIATION: {deviation}" in output
    last = records[-1]
    assert last["result"] == "failed"
    assert "the cloud needs cleaning before the upgrade" in last["reason"]
    [check] = [c for c in last["deviations"] if c["label"] == "to clean before the upgrade"]
    assert deviation in check["deviations"], check


def test_a_clean_lab_has_nothing_to_clean(lab_targets: Targets, tmp_path: Path) -> None:
    ran, records = pre_upgrade(tmp_path)
    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output
    assert "to clean before the upgrade" in output and "nothing to clean" in output
    assert "DEVIATION" not in output
    [check] = [c for c in records[-1]["deviations"]
               if c["label"] == "to clean before the upgrade"]
    assert check["deviations"] == []
    assert record_of(tmp_path).is_file()


def virsh(host: Target, command: str) -> str:
    return host.run(f"virsh -c qemu:///system {command}", check=True, timeout=60).stdout


def test_a_domain_nova_does_not_know_is_reported_and_removed(lab_targets: Targets,
                                                             tmp_path: Path) -> None:
    compute1 = lab_targets.get("compute1")
    orphan = str(uuid.uuid4())
    name = f"stackdrill-orphan-{orphan[:8]}"
    path = f"/tmp/{name}.xml"
    compute1.run(f"printf %s {shlex.quote(DOMAIN_XML.format(name=name, uuid=orphan))} > {path}",
                 check=True)
    try:
        virsh(compute1, f"define {path}")
        assert orphan in virsh(compute1, "list --all --uuid").split()  # defined, not started
        ran, records = pre_upgrade(tmp_path)
        assert_fails_on(tmp_path, ran, records, (
            f"instances: compute1 defines libvirt domain {name} ({orphan}), which is no "
            f"instance Nova knows: undefine it (virsh undefine {orphan}) once nothing needs it"))
    finally:
        compute1.run(f"virsh -c qemu:///system undefine {orphan}; rm -f {path}", timeout=60)
    assert orphan not in virsh(compute1, "list --all --uuid").split()


def compute_state(access: CloudAccess, host: str) -> str | None:
    services = access.connection().compute.services(binary="nova-compute", host=host)
    return next((s.state for s in services), None)


def test_a_stopped_nova_compute_is_reported_as_a_service_down(
        lab_targets: Targets, access: CloudAccess, tmp_path: Path) -> None:
    compute1 = lab_targets.get("compute1")
    compute1.systemctl("stop", ["nova-compute"], timeout=120)
    try:
        poll(lambda: compute_state(access, "compute1") == "down", timeout=60, interval=2.0,
             description="nova-compute on compute1 down in the compute API")
        ran, records = pre_upgrade(tmp_path)
        assert_fails_on(tmp_path, ran, records, (
            "services: nova-compute on compute1 is down: start it, or, if compute1 is gone for "
            "good, delete its nova service record"))
    finally:
        compute1.systemctl("start", ["nova-compute"], timeout=120)
        wait_compute_up(access.connection(), "compute1", 120)
