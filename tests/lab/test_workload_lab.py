"""The canaries run the heartbeat guest, and the workload monitor sees what its tenant would:
a guest whose qemu is stopped for 10 s stalls for 10 s, a domain destroyed and started again
is a reboot that loses no acknowledged write, and a ring log overwritten on the iSCSI target
loses the writes that were there."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.canary import CanaryWorkload
from stackdrill.cloud.heartbeat import HEARTBEAT_TAG, SLOT_BYTES, parse_console
from stackdrill.cloud.volume_data import locate
from stackdrill.cloud.workload import WorkloadMonitor, ring_reader
from stackdrill.core.waiting import poll
from stackdrill.hosts.target import Targets
from stackdrill.lab.cloud.layout import VENV
from stackdrill.lab.lab import Lab

# Part of the long tier, not of CI: scripts/test -m long tests/lab runs it (README).
pytestmark = pytest.mark.long

HOST = "compute1"
LANE = f"canary:{HOST}"


@pytest.fixture
def monitor(lab: Lab, canaries: CanaryWorkload, cloud_access: CloudAccess,
            targets: Targets) -> Iterator[WorkloadMonitor]:
    assert canaries.guest, "the canaries do not run the heartbeat guest"
    watch = WorkloadMonitor(cloud_access, canaries, ring_reader(cloud_access, targets),
                            interval=1.0)
    watch.start()
    try:
        yield watch
    finally:
        watch.stop()


def _domain(cloud_access: CloudAccess, canaries: CanaryWorkload) -> str:
    server = cloud_access.connection().compute.get_server(canaries.servers[HOST])
    assert server.compute_host == HOST
    return str(server.instance_name)


def _beats_after(monitor: WorkloadMonitor, since: float, timeout: float = 60.0) -> None:
    """Wait until the monitor has read heartbeats written after ``since``."""
    def fresh() -> bool:
        newest = monitor.newest_beat(HOST)
        return newest is not None and newest > since

    poll(fresh, timeout=timeout, interval=1.0, description="fresh heartbeats")


def test_the_openstack_cli_prints_the_canary_heartbeats(lab: Lab, canaries: CanaryWorkload,
                                                        tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    result = subprocess.run([str(VENV / "bin/openstack"), "console", "log", "show",
                             "--lines", "20", canaries.servers[HOST]],
                            env={**env, "OS_CLOUD": "stackdrill-lab"}, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    beats = [r for r in parse_console(result.stdout) if r.kind == HEARTBEAT_TAG]
    assert len(beats) >= 10 and beats[-1].ack > 0 and beats[-1].boot > 0


def test_qemu_stopped_for_10_seconds_is_a_10_second_stall(
        monitor: WorkloadMonitor, targets: Targets, cloud_access: CloudAccess,
        canaries: CanaryWorkload) -> None:
    pidfile = shlex.quote(f"/run/libvirt/qemu/{_domain(cloud_access, canaries)}.pid")
    compute = targets.get(HOST)
    compute.run(f"kill -STOP $(cat {pidfile})", check=True)
    try:
        time.sleep(10.0)  # the fault's duration, not a wait for a condition
    finally:
        compute.run(f"kill -CONT $(cat {pidfile})", check=True)
    resumed = time.time()
    _beats_after(monitor, resumed)
    figures = monitor.figures()
    assert 9.0 <= figures[f"{LANE}/stall_s"] <= 11.0, figures
    assert figures[f"{LANE}/reboots"] == 0
    long_ones = [o for o in monitor.outages() if o.lane == LANE and o.seconds >= 5.0]
    assert [o.kind for o in long_ones] == ["stall"], long_ones


def test_a_destroyed_and_restarted_domain_is_a_reboot_that_loses_no_write(
        monitor: WorkloadMonitor, targets: Targets, cloud_access: CloudAccess,
        canaries: CanaryWorkload) -> None:
    domain = shlex.quote(_domain(cloud_access, canaries))
    targets.get(HOST).run(f"virsh destroy {domain} && virsh start {domain}", check=True,
                          timeout=120)
    started = time.time()
    _beats_after(monitor, started, timeout=120)
    poll(lambda: monitor.figures().get(f"{LANE}/io_stall_s") is not None, timeout=30,
         interval=1.0, description="acknowledged writes after the reboot")
    lost = monitor.check_ring_logs()
    figures = monitor.figures()
    assert figures[f"{LANE}/reboots"] == 1, figures
    assert lost[HOST] == 0, monitor.errors()


def test_an_overwritten_ring_log_loses_the_writes_it_held(
        monitor: WorkloadMonitor, targets: Targets, cloud_access: CloudAccess,
        canaries: CanaryWorkload) -> None:
    _beats_after(monitor, time.time() + 8.0)  # 30-odd writes acknowledged since it started
    assert monitor.check_ring_logs()[HOST] == 0, monitor.errors()
    path = locate(cloud_access, targets, [canaries.volumes[HOST]])[0]
    ring = ring_reader(cloud_access, targets)(canaries.volumes[HOST])
    newest = ring.newest()
    assert newest is not None
    first = max(1, newest[0] - 15)  # the slots of the newest records, not the highest slots
    storage, backing = targets.get(path.target_host), shlex.quote(path.backing)
    saved = shlex.quote(f"/tmp/ring-slots-{first}")
    slots = f"bs={SLOT_BYTES} count=10 status=none"
    storage.run(f"dd if={backing} of={saved} skip={first} {slots} && "
                f"dd if=/dev/zero of={backing} seek={first} {slots} conv=notrunc,fsync",
                check=True)
    try:
        lost = monitor.check_ring_logs()[HOST]
    finally:  # the ring stays whole for the guest's next resume
        storage.run(f"dd if={saved} of={backing} seek={first} {slots} conv=notrunc,fsync "
                    f"&& rm -f {saved}", check=True)
    assert 1 <= lost <= 10, monitor.errors()
    assert monitor.figures()[f"{LANE}/lost_writes"] == lost
