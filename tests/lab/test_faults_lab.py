"""``kill_service`` and ``remove_files`` on the lab, through the drill engine: the damage is
confirmed and the undo puts it back (dbus crashed with SIGSEGV and kept down, taking libvirtd
with it; libvirtd killed with SIGKILL, its guests spared; a signal that does no damage is never
confirmed; files removed and restored). A run killed with SIGKILL after a ``kill_service`` is
restored from the journal by ``stackdrill recover --pending``, and a drill interrupted by
SIGTERM or by Ctrl-C twice runs its pending undo. The other built-in faults are covered
elsewhere: each is injected by a run that is then killed and restored by ``recover --pending`` in
``test_killed_runs_lab.py`` (most cases marked ``long``), and confirmed by the drills in
``features/``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackdrill.api._probe import CloudContext
from stackdrill.api._registry import load_registries
from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.canary import CanaryWorkload
from stackdrill.core.waiting import poll_until
from stackdrill.engine.drill import Drill
from stackdrill.engine.journal import Journal
from stackdrill.engine.snapshot import health_problems
from stackdrill.hostkit.units import unit_status
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.lab.lab import Lab
from tests.feature_dirs import write_feature_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lab_targets(lab: Lab, canaries: CanaryWorkload,
                cloud_access: CloudAccess) -> Iterator[Targets]:
    """The lab's hosts; after each test, the cloud must be healthy again (Nova re-enables a
    compute service it disabled only at its next periodic task), so tests do not leak."""
    registries = load_registries()
    targets = Targets(load_inventory(lab.ensure_up()), power_drivers=registries.power_drivers)
    yield targets
    probes = [registries.probes.get(name)() for name in registries.probes]
    context = CloudContext(cloud_access, targets)
    try:
        poll_until(lambda: not health_problems(targets, probes, context), timeout=180,
                   interval=2.0, max_interval=5.0, description="the lab cloud healthy again")
    finally:
        targets.close()


@pytest.fixture
def drill(lab_targets: Targets, tmp_path: Path, cloud_access: CloudAccess) -> Iterator[Drill]:
    drill = Drill("lab-test", lab_targets, load_registries(), Journal(tmp_path / "j.jsonl"),
                  cloud=cloud_access)
    yield drill
    assert drill.undo_all() == []


def test_dbus_crash_kept_down_takes_libvirtd_with_it_and_is_undone(
        drill: Drill, lab_targets: Targets) -> None:
    compute = lab_targets.get("compute2")
    drill.record_baseline()
    qemu_before = compute.run("pgrep -x qemu-system-x86", check=True).stdout
    active = drill.inject("kill_service", compute,
                          {"service": "dbus", "signal": "SIGSEGV", "keep_down": "yes"})
    assert drill.journal.pending()[0].undo["main_pid"] == active.facts["main_pid"]
    evidence = drill.confirm(active, timeout=10)
    assert "SIGSEGV" in evidence
    # Stopping dbus.socket stops dbus.service too: "failed" or "inactive", whichever systemd
    # records first; never running.
    assert unit_status(compute, "dbus").active in ("failed", "inactive")
    assert unit_status(compute, "dbus.socket").active == "inactive"
    assert unit_status(compute, "libvirtd").active == "inactive"
    assert compute.run("pgrep -x qemu-system-x86", check=True).stdout == qemu_before
    paths = {d.path for d in drill.deviations("fault")}
    assert "host:compute2/unit:dbus/active" in paths
    assert "host:compute2/libvirt/answering" in paths

    assert drill.undo_all() == []
    assert drill.journal.pending() == []
    assert unit_status(compute, "dbus").active == "active"
    assert unit_status(compute, "dbus.socket").active == "active"
    compute.systemctl("start", ["libvirtd"])
    drill.wait_verified(180)


def test_libvirtd_sigkill_spares_the_guests(drill: Drill, lab_targets: Targets) -> None:
    compute = lab_targets.get("compute1")
    drill.record_baseline()
    active = drill.inject("kill_service", compute, {"service": "libvirtd"})
    old_pid = active.facts["main_pid"]
    assert "SIGKILL" in drill.confirm(active, timeout=10)
    assert compute.run(f"test -e /proc/{old_pid}").exit_status != 0
    assert compute.run("pgrep -x qemu-system-x86").ok
    drill.wait_verified(180)


def test_a_confirm_that_never_sees_damage_times_out(drill: Drill, lab_targets: Targets) -> None:
    from stackdrill.engine.drill import FaultNotConfirmed

    compute = lab_targets.get("compute1")
    drill.record_baseline()
    active = drill.inject("kill_service", compute, {"service": "libvirtd", "signal": "SIGCONT"})
    with pytest.raises(FaultNotConfirmed, match="not reached within"):
        drill.confirm(active, timeout=2)


KILLED_RUN = """
import sys
from pathlib import Path
from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.canary import CanaryWorkload
from stackdrill.engine.drill import Drill
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.engine.journal import Journal
from stackdrill.api._probe import CloudContext
from stackdrill.engine.snapshot import health_problems
from stackdrill.api._registry import load_registries

registries = load_registries()
targets = Targets(load_inventory(sys.argv[1]), power_drivers=registries.power_drivers)
drill = Drill("killed", targets, registries, Journal(Path(sys.argv[2])))
drill.record_baseline(settle=120)
drill.inject("kill_service", targets.get("compute2"),
             {"service": "dbus", "signal": "SIGKILL", "keep_down": "yes"})
print("injected", flush=True)
sys.stdin.readline()
"""


def test_recover_pending_restores_what_a_sigkilled_run_left(lab: Lab, lab_targets: Targets,
                                                           tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    inventory = str(lab.paths.inventory)
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(KILLED_RUN), inventory,
                             str(journal)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "injected"
    proc.kill()
    proc.wait(timeout=10)
    compute = lab_targets.get("compute2")
    assert unit_status(compute, "dbus").active != "active"
    assert len(Journal(journal).pending()) == 1

    result = subprocess.run([sys.executable, "-m", "stackdrill.cli", "recover", "--pending",
                             "--inventory", inventory, "--journal", str(journal)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("restored kill_service on compute2")
    assert unit_status(compute, "dbus").active == "active"
    assert Journal(journal).pending() == []
    compute.systemctl("start", ["libvirtd"])


STUCK_DRILL = """\
@drill
Feature: a drill that never recovers
  Scenario: dbus stays down
    Given a compute host running qemu domains
    And the cloud is in its verified state
    When the fault "kill_service" is injected on the compute host:
      | service   | dbus |
      | keep_down | yes  |
    Then the fault is confirmed within 10 seconds
    And the cloud is back to its verified state within 120 seconds
"""


@pytest.mark.parametrize("interrupt", ["sigterm", "ctrl-c twice"])
def test_an_interrupted_drill_runs_every_pending_undo(interrupt: str, lab: Lab,
                                                      lab_targets: Targets,
                                                      tmp_path: Path) -> None:
    """SIGTERM, or Ctrl-C as a terminal sends it (to the whole process group), pressed a second
    time while the undo runs: dbus is started again and nothing is left pending."""
    features = write_feature_dir(tmp_path / "features", "stuck", STUCK_DRILL)
    journal = tmp_path / "journal.jsonl"
    compute = lab_targets.get("compute1")
    # With dbus down, a new SSH login waits for logind; keep this test's connection open.
    compute.run("true", check=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "stackdrill.cli", "run", str(features), "--inventory",
         str(lab.paths.inventory), "--journal", str(journal), "--reports", str(tmp_path),
         "--history", str(tmp_path / "history.jsonl"),
         "--", "-c", "/dev/null", "--rootdir", str(features), "-p", "no:cacheprovider"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    assert proc.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
    reader.start()

    def dbus_down() -> bool:
        return unit_status(compute, "dbus").active != "active"

    try:
        poll_until(dbus_down, timeout=60, description="the stuck drill broke dbus")
        assert len(Journal(journal).pending()) == 1
    finally:
        if interrupt == "sigterm":
            proc.terminate()
        else:
            os.killpg(proc.pid, signal.SIGINT)
            poll_until(lambda: any("undoing every fault" in line for line in lines),
                       timeout=30, description="the run acknowledged Ctrl-C")
            os.killpg(proc.pid, signal.SIGINT)  # pressed again while it undoes
        proc.wait(timeout=120)
        reader.join(timeout=10)
    output = "".join(lines)
    assert proc.returncode == 130, output
    if interrupt != "sigterm":
        assert "interrupted again; undoing the faults first" in output, output
    assert unit_status(compute, "dbus").active == "active", output
    assert Journal(journal).pending() == []
    compute.systemctl("start", ["libvirtd"])


def test_removed_files_are_confirmed_gone_and_restored_by_undo(
        drill: Drill, lab_targets: Targets) -> None:
    storage = lab_targets.get("storage1")
    storage.run("mkdir -p /etc/stackdrill-test && echo keep-me > /etc/stackdrill-test/a.conf",
                check=True)
    drill.record_baseline(settle=120)
    active = drill.inject("remove_files", storage, {"path": "/etc/stackdrill-test/*.conf"})
    assert "a.conf" in drill.confirm(active, timeout=5)
    assert not storage.run("test -e /etc/stackdrill-test/a.conf").ok
    assert drill.undo_all() == []
    assert storage.run("cat /etc/stackdrill-test/a.conf", check=True).stdout == "keep-me\n"
    storage.run("rm -rf /etc/stackdrill-test", check=True)
