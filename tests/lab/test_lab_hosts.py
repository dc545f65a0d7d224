"""The lab's hosts are real: SSH with checked host keys, systemd, libvirt, and a power driver."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackdrill.cloud.canary import CanaryWorkload
from stackdrill.core.waiting import poll
from stackdrill.hostkit.units import unit_status
from stackdrill.hosts import HostUnreachable
from stackdrill.hosts.target import Target, Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.lab.lab import Lab
from stackdrill.lab.topology import host_by_name

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lab_targets(lab: Lab) -> Iterator[Targets]:
    targets = Targets(load_inventory(lab.ensure_up()))
    yield targets
    targets.close()


def boot_identity(target: Target) -> str:
    """The kernel's boot_id plus PID 1's start time: a container reboot changes the second."""
    result = target.run("cat /proc/sys/kernel/random/boot_id; cut -d' ' -f22 /proc/1/stat",
                        check=True, record=False)
    return " ".join(result.stdout.split())


def test_every_host_answers_over_ssh_with_its_own_identity(lab_targets: Targets) -> None:
    names = {}
    for target in lab_targets:
        result = target.run("hostname; cat /etc/machine-id; systemctl is-system-running",
                            check=False)
        hostname, machine_id, state = result.stdout.split()
        assert hostname == target.name
        assert state in ("running", "degraded")
        names[machine_id] = hostname
    assert len(names) == 5


def test_the_machines_home_temporary_and_working_trees_do_not_show_through(
        lab_targets: Targets, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A file the machine writes into its /root, /tmp or checkout while the lab runs stays out
    of every host (overlayfs leaves such changes to its lower layer undefined)."""
    checkout = Path(__file__).resolve().parents[2]
    marker = f"stackdrill-hidden-{os.getpid()}"
    written = [Path("/root") / marker, Path("/tmp") / marker, checkout / marker]
    for path in written:
        path.write_text("machine\n")
    try:
        for target in lab_targets:
            listing = " ".join(str(path) for path in written)
            result = target.run(f"ls -d {listing} 2>/dev/null; true", record=False)
            assert result.stdout.strip() == "", f"{target.name} sees {result.stdout.split()}"
            # the OpenStack services' interpreter is still there, read-only
            python = target.run("/opt/stackdrill-lab/openstack/bin/python -c 'print(1)'",
                                record=False)
            assert python.stdout.strip() == "1", target.name
    finally:
        for path in written:
            path.unlink(missing_ok=True)


def test_compute_hosts_run_the_canaries_as_qemu_domains(lab_targets: Targets,
                                                         canaries: CanaryWorkload) -> None:
    for target in lab_targets.with_role("compute"):
        host = target.host
        assert host.service("dbus").is_running
        assert host.service("libvirtd").is_running
        assert host.service(target.unit("nova-compute")).is_running
        qemu = host.process.filter(comm="qemu-system-x86")
        listing = target.run("virsh list --uuid", check=True).stdout.split()
        assert canaries.servers[target.name] in listing
        assert len(qemu) == len(listing)


def test_non_compute_hosts_do_not_run_libvirt(lab_targets: Targets) -> None:
    for target in lab_targets:
        if "compute" in target.spec.roles:
            continue
        assert not target.host.service("libvirtd").is_running


def test_power_off_and_on_is_a_cold_boot(lab: Lab, lab_targets: Targets) -> None:
    target = lab_targets.get("storage2")
    before = boot_identity(target)
    lab.power.power_off("storage2")
    assert lab.power.init_pid("storage2") is None
    with pytest.raises(HostUnreachable):
        target.run("true", timeout=3)
    lab.power.power_on("storage2")
    lab.wait_booted(host_by_name("storage2"))
    target.connection.reconnect(timeout=30)
    assert boot_identity(target) != before


def test_graceful_reboot_from_inside_comes_back(lab: Lab, lab_targets: Targets) -> None:
    target = lab_targets.get("storage1")
    before = boot_identity(target)
    old_init = lab.power.init_pid("storage1")
    lab.power.reboot("storage1")

    def new_init() -> bool:
        pid = lab.power.init_pid("storage1")
        return pid is not None and pid != old_init

    poll(new_init, timeout=60, description="storage1 rebooted")
    lab.wait_booted(host_by_name("storage1"))
    target.connection.reconnect(timeout=30)
    assert boot_identity(target) != before
    assert lab.power.is_on("storage1")


def lab_status() -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stackdrill.cli", "lab", "status"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def test_lab_status_names_a_stopped_unit_and_exits_1(lab_targets: Targets) -> None:
    """A lab with one watched unit down is not fully up: exit 1 and a problem line naming the
    unit and its host; once the unit is started again, exit 0."""
    controller = lab_targets.get("controller")
    unit = controller.unit("cinder-scheduler")
    assert unit_status(controller, unit).active == "active"
    controller.run(controller.service("cinder-scheduler").command("stop"), check=True)
    try:
        down = lab_status()
        assert down.returncode == 1, down.stdout + down.stderr
        problems = [line for line in down.stdout.splitlines() if line.startswith("problem: ")]
        assert f"problem: controller: unit {unit} is inactive" in problems, down.stdout
        assert "lab: not fully up" in down.stdout
    finally:
        controller.service("cinder-scheduler").start(timeout=60)
        poll(lambda: lab_status().returncode == 0, timeout=120, interval=2,
             description="lab status to exit 0 again")
