"""``partition``, ``packet_loss``, ``freeze_service``, ``disk_fill``, ``cpu_pressure`` and
``memory_pressure`` on the lab, through the drill engine, with ``restart_frozen_service`` and
``recover --pending`` after a run that died with a cut in place.

The harness's SSH keeps working through every partition (each host answers while the cut is in
place), the undo removes the drill's own rules and leaves a rule of the site's own, and each
fault's confirmation and undo are observed on the hosts themselves."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackdrill.api._registry import load_registries
from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.canary import CanaryWorkload
from stackdrill.engine.drill import Drill
from stackdrill.engine.guards import Guards
from stackdrill.engine.journal import Journal
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.lab.lab import Lab

SITE_RULE = "INPUT -p tcp --dport 9 -m comment --comment site-own-rule -j DROP"


@pytest.fixture
def lab_targets(lab: Lab, canaries: CanaryWorkload) -> Iterator[Targets]:
    targets = Targets(load_inventory(lab.ensure_up()),
                      power_drivers=load_registries().power_drivers)
    yield targets
    targets.close()


@pytest.fixture
def drill(lab_targets: Targets, tmp_path: Path, cloud_access: CloudAccess) -> Iterator[Drill]:
    # the controller cut off from every compute puts both computes under the fault
    guards = Guards.for_inventory(lab_targets.inventory, limits={"compute": 2})
    drill = Drill("lab-test", lab_targets, load_registries(), Journal(tmp_path / "j.jsonl"),
                  guards=guards, cloud=cloud_access)
    drill.record_baseline(settle=180)
    try:
        yield drill
    finally:
        drill.undo_all()
        drill.close()


@pytest.mark.parametrize(("host", "params"), [
    ("compute1", {"peers": "role:controller", "ports": "5672"}),
    ("controller", {"peers": "role:compute"}),
    ("storage1", {"peers": "controller", "direction": "incoming"}),
    ("compute1", {"peers": "controller", "direction": "outgoing"}),
])
def test_a_partition_is_seen_from_both_sides_and_ssh_keeps_working(
        drill: Drill, lab_targets: Targets, host: str, params: dict[str, str]) -> None:
    target = lab_targets.get(host)
    target.run(f"iptables -I {SITE_RULE}", check=True)
    try:
        active = drill.inject("partition", target, params)
        evidence = drill.confirm(active, timeout=60)
        assert "across the cut" in evidence
        for other in lab_targets:
            assert other.run("true").ok, f"SSH to {other.name} lost during the partition"
        drill.undo_all()
        drill.undo_all()  # idempotent
        left = target.run("iptables -S", check=True).stdout
        assert active.facts["tag"] not in left
        assert "site-own-rule" in left
    finally:
        target.run(f"while iptables -C {SITE_RULE} 2>/dev/null; do "
                   f"iptables -D {SITE_RULE}; done")


def test_packet_loss_is_measured_by_its_rules(drill: Drill, lab_targets: Targets) -> None:
    target = lab_targets.get("controller")
    active = drill.inject("packet_loss", target, {"percent": "30", "interface": "eth0"})
    evidence = drill.confirm(active, timeout=120)
    assert "asked 30 %" in evidence
    assert target.run("true").ok
    drill.undo_all()
    assert active.facts["tag"] not in target.run("iptables -S", check=True).stdout


def test_a_frozen_service_reads_state_t_and_runs_again_after_the_undo(
        drill: Drill, lab_targets: Targets) -> None:
    target = lab_targets.get("controller")
    active = drill.inject("freeze_service", target, {"service": "nova-conductor"})
    assert "State: T" in drill.confirm(active, timeout=30)
    drill.undo_all()
    pids = " ".join(map(str, active.facts["pids"]))
    states = target.run(f"for p in {pids}; do sed -n 's/^State:\\s*//p' /proc/$p/status; done",
                        check=True).stdout
    assert "T (stopped)" not in states


def test_a_filled_disk_is_confirmed_by_df_and_the_undo_removes_only_its_file(
        drill: Drill, lab_targets: Targets) -> None:
    target = lab_targets.get("compute1")
    active = drill.inject("disk_fill", target, {"path": "/var/lib/nova/instances",
                                                 "percent": "97"})
    assert "df shows" in drill.confirm(active, timeout=120)
    drill.undo_all()
    assert not target.run(f"test -e {active.facts['file']}").ok


def test_the_frozen_service_recovery_finds_state_t_and_restarts(
        drill: Drill, lab_targets: Targets) -> None:
    target = lab_targets.get("controller")
    active = drill.inject("freeze_service", target, {"service": "nova-conductor"})
    drill.confirm(active, timeout=30)
    record = drill.recover("restart_frozen_service", target, {"service": "nova-conductor"})
    assert record.ok, record.render()
    assert "State: T" in record.steps[0].title
    drill.wait_verified(180)


def test_a_partition_left_by_a_killed_run_is_removed_by_recover_pending_and_the_site_rule_kept(
        lab: Lab, drill: Drill, lab_targets: Targets, tmp_path: Path) -> None:
    target = lab_targets.get("compute1")
    target.run(f"iptables -I {SITE_RULE}", check=True)
    try:
        for fault, params in (("partition", {"peers": "role:controller", "ports": "5672"}),
                              ("packet_loss", {"percent": "20", "interface": "eth0"})):
            journal = Journal(tmp_path / f"{fault}.jsonl")
            dead = Drill("killed", lab_targets, load_registries(), journal)
            dead.baseline = drill.baseline
            dead.preflight_passed = True
            active = dead.inject(fault, target, params)
            dead.confirm(active, timeout=60)
            dead.close()  # the run dies here: its undo never runs
            result = subprocess.run(
                [sys.executable, "-m", "stackdrill.cli", "recover", "--pending", "--inventory",
                 str(lab.paths.inventory), "--journal", str(journal.path)],
                capture_output=True, text=True, timeout=600, check=False)
            assert result.returncode == 0, result.stdout + result.stderr
            left = target.run("iptables -S", check=True).stdout
            assert active.facts["tag"] not in left
            assert "site-own-rule" in left
    finally:
        target.run(f"while iptables -C {SITE_RULE} 2>/dev/null; do "
                   f"iptables -D {SITE_RULE}; done")


@pytest.mark.parametrize(("fault", "params", "seen"), [
    ("cpu_pressure", {"workers": "1", "load": "50"}, "CPU-seconds"),
    ("memory_pressure", {"percent": "10"}, "resident"),
])
def test_stress_pressure_is_observed_and_the_undo_ends_exactly_its_processes(
        drill: Drill, lab_targets: Targets, fault: str, params: dict[str, str],
        seen: str) -> None:
    target = lab_targets.get("compute2")
    # a process of the host's own, in a session of its own, without the tag
    pid = target.run("setsid -f sh -c 'echo $$ >/run/stackdrill-untagged.pid; exec sleep 600' "
                     "</dev/null >/dev/null 2>&1; sleep 0.2; cat /run/stackdrill-untagged.pid",
                     check=True).stdout.strip()
    try:
        active = drill.inject(fault, target, params)
        assert seen in drill.confirm(active, timeout=60)
        drill.undo_all()
        drill.undo_all()  # idempotent
        assert "stress-ng" not in target.run("ps -e -o comm=", check=True).stdout
        assert target.run(f"kill -0 {pid}").ok, "a process without the tag was ended"
    finally:
        target.run(f"kill {pid}; rm -f /run/stackdrill-untagged.pid")
