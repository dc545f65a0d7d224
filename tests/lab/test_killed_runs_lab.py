"""A run SIGKILLed at each stage of a drill, for each fault type: right after the injection, and
in the middle of its recovery. ``stackdrill recover --pending`` must then bring the lab back to
the verified state recorded before the run, and say what it restored.

Two cases run with every lab test run (a killed service after the injection, a dropped table in
the middle of its restore); the others take about 30 minutes together, so they are marked
``long``; run them with ``scripts/test -m long tests/lab/test_killed_runs_lab.py``. A third
routine case drills a fault of the test's own, defined in the ``conftest.py`` of a feature
directory outside the checkout: ``recover --pending``, from another working directory, loads it
from the file the journal names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stackdrill.api._registry import load_registries
from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.canary import CanaryWorkload
from stackdrill.engine.drill import Drill
from stackdrill.engine.journal import Journal
from stackdrill.hosts.target import Targets
from stackdrill.lab.lab import Lab
from tests.feature_dirs import kill_once_injected, write_feature_dir

ROOT = Path(__file__).resolve().parents[2]

# The dying run: it injects, says so, and holds there; or, for the "recovering" stage, it goes
# on into the recovery, stops after the runbook's ``hold_after`` first steps and says
# "recovering". The test SIGKILLs it on that word: after the injection, or in the middle of
# the recovery (journalled by then, with the fault).
DYING_RUN = """
import json, sys
from pathlib import Path
from stackdrill.cloud.access import CloudAccess
from stackdrill.engine.drill import Drill
from stackdrill.core.evidence import Redactor
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.engine.journal import Journal
from stackdrill.api._registry import load_registries
from tests.feature_dirs import kill_once_injected, write_feature_dir

inventory, journal, clouds, case = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
loaded = load_inventory(inventory)
registries = load_registries()
targets = Targets(loaded, power_drivers=registries.power_drivers)
cloud = CloudAccess(loaded.cloud, Redactor(), config_files=[clouds])
drill = Drill("killed", targets, registries, Journal(Path(journal)), cloud=cloud)
drill.record_baseline(settle=180)
if case["before"]:
    drill.recover(case["before"], targets.get(case["host"]), {})
drill.inject(case["fault"], targets.get(case["host"]), case["params"])
print("injected", flush=True)
if case["stage"] == "recovering":
    drill.confirm(drill.last_fault, timeout=60)
    add = drill.timeline.add
    steps = []

    def add_then_hold(kind, *args, **kwargs):
        event = add(kind, *args, **kwargs)
        if kind == "recovery-step":
            steps.append(kind)
            if len(steps) == case["hold_after"]:
                print("recovering", flush=True)
                sys.stdin.readline()  # held here until killed
        return event

    drill.timeline.add = add_then_hold
    drill.recover(case["recovery"], targets.get(case["host"]), case["recovery_params"])
    print("recovered", flush=True)
sys.stdin.readline()
"""


@dataclass(frozen=True)
class Case:
    fault: str
    host: str
    params: dict[str, str] = field(default_factory=dict)
    recovery: str = ""
    recovery_params: dict[str, str] = field(default_factory=dict)
    budget: float = 300.0
    hold_after: int = 1  # runbook steps done when the run is killed "recovering"
    before: str = ""  # a procedure the drill runs before the fault (a backup)


CASES = {
    "kill_service": Case("kill_service", "compute2",
                         {"service": "dbus", "signal": "SIGSEGV", "keep_down": "yes"},
                         "start_services", {"services": "dbus, systemd-logind, libvirtd"}),
    "stop_service": Case("stop_service", "controller", {"service": "rabbitmq-server"},
                         "restart_rabbitmq"),
    "drop_iscsi_sessions": Case("drop_iscsi_sessions", "storage1",
                                {"method": "target", "hold": "yes",
                                 "targets": "iqn.2010-10.org.openstack:volume-*"},
                                "restore_iscsi_sessions"),
    "pull_disk": Case("pull_disk", "storage1", {"disk": "d1"}, "replace_swift_disk",
                      {"disk": "d1"}, budget=600),
    "disk_io_errors": Case("disk_io_errors", "storage1", {"disk": "d2"}, "replace_swift_disk",
                           {"disk": "d2"}, budget=600),
    # killed with glance-api stopped by the runbook, the table or the file still gone: the
    # fault's undo puts them back, the runbook's rollback starts glance-api
    "drop_table": Case("drop_table", "controller", {"database": "glance", "table": "images"},
                       "restore_control_plane", {"services": "glance-api",
                                                 "databases": "glance"},
                       before="back_up_control_plane"),
    "remove_files": Case("remove_files", "controller", {"path": "/etc/glance/glance-api.conf"},
                         "restore_control_plane", {"services": "glance-api",
                                                   "configs": "glance"},
                         before="back_up_control_plane"),
    # killed with nova-compute and libvirtd stopped by the runbook: its rollback starts them
    "id_mismatch": Case("id_mismatch", "compute2", {"users": "libvirt-qemu", "groups": "kvm"},
                        "align_ids", hold_after=4),
    # killed half way through the restoration, which starts services and stops none: nothing
    # to roll back, and the fault's undo enables the held services again
    "hold_services_at_boot": Case("hold_services_at_boot", "compute1",
                                  {"order": "ops-guide-table-11-1"},
                                  "restore_in_priority_order", {"order": "ops-guide-table-11-1"},
                                  hold_after=3),
    # a storage node without iSCSI targets: it serves again as soon as it is back up, while a
    # compute's guests would need the recovery, not only the undo, to run again. Killed once
    # the rings without it are built and copied to the other nodes: the rollback puts the
    # rings from before back everywhere, then the undo powers the node on.
    "power_off_host": Case("power_off_host", "storage2", {}, "remove_storage_node_from_rings",
                           hold_after=4, budget=600),
    "reboot_host": Case("reboot_host", "controller", {"mode": "hard"},
                        "after_controller_reboot", hold_after=2),
    # written with the network faults, not yet run on the lab: the undo from the journal must
    # continue the frozen processes, and delete exactly the tagged rules or the filled file
    "freeze_service": Case("freeze_service", "controller", {"service": "nova-conductor"},
                           "restart_frozen_service", {"service": "nova-conductor"}),
    "partition": Case("partition", "compute2", {"peers": "role:controller", "ports": "5672"}),
    "packet_loss": Case("packet_loss", "compute2", {"percent": "30", "interface": "eth0"}),
    "disk_fill": Case("disk_fill", "compute2", {"path": "/var/lib/nova/instances",
                                                 "percent": "97"}),
    # the undo from the journal must end exactly the stress-ng processes the dead run's tag
    # marks, and leave none behind
    "cpu_pressure": Case("cpu_pressure", "compute2", {"workers": "1", "load": "50"}),
    "memory_pressure": Case("memory_pressure", "compute2", {"percent": "10"}),
    # the HA lab's (``lab up --topology ha``), skipped on the single lab: the undo from the
    # journal must mark the member 0 again and start its MariaDB, which rejoins the other two
    "stale_safe_to_bootstrap": Case("stale_safe_to_bootstrap", "controller3", {}),
    # a lab of the previous release's (``lab up --release previous``), skipped on the others:
    # killed with the database stopped under Nova's db sync, or with the dumps loaded by the
    # rollback and the services still stopped; the undo rolls the upgrade back from the backup
    "interrupt_db_sync": Case("interrupt_db_sync", "controller",
                              {"service": "nova", "table": "nova.migrations"},
                              "roll_back_upgrade", hold_after=4, budget=600,
                              before="back_up_control_plane"),
}
# the cases that need a cloud whose inventory says how to install each release
UPGRADE_CASES = ("interrupt_db_sync",)
# on the HA lab (``lab up --topology ha``), where a cut from every controller would put three
# controllers under the fault, which the guards refuse: the compute is cut from one
HA_CASES = {
    "partition": Case("partition", "compute2", {"peers": "host:controller1", "ports": "5672"}),
}
# cases written and not yet run on the lab: selected only by ``-m wip``
NOT_YET_RUN: tuple[str, ...] = ()
STAGES = [(name, "injected") for name in CASES] + [
    (name, "recovering") for name, case in CASES.items() if case.recovery]
ROUTINE = {("kill_service", "injected"), ("drop_table", "recovering")}


def test_every_fault_type_is_covered() -> None:
    assert set(CASES) == set(load_registries().faults)


@pytest.mark.parametrize(("name", "stage"), [
    pytest.param(name, stage, id=f"{name}-{stage}",
                 marks=(() if (name, stage) in ROUTINE else (pytest.mark.long,))
                 + ((pytest.mark.wip,) if name in NOT_YET_RUN else ()))
    for name, stage in STAGES])
def test_recover_pending_after_a_sigkill_restores_the_verified_state(
        name: str, stage: str, lab: Lab, lab_targets: Targets, canaries: CanaryWorkload,
        cloud_access: CloudAccess, tmp_path: Path) -> None:
    case = CASES[name]
    if lab_targets.inventory.clusters:
        case = HA_CASES.get(name, case)
    if case.host not in lab_targets.inventory.hosts:
        pytest.skip(f"{case.host} is a host of the HA lab (lab up --topology ha)")
    if name in UPGRADE_CASES and not lab_targets.inventory.upgrade.install:
        pytest.skip(f"{name} upgrades the cloud: a lab of the previous release "
                    f"(lab up --release previous)")
    journal = tmp_path / "journal.jsonl"
    verifier = Drill("verifier", lab_targets, load_registries(), Journal(tmp_path / "v.jsonl"),
                     cloud=cloud_access)
    verifier.record_baseline(settle=180)
    clouds = str(lab.paths.root / "clouds.yaml")
    proc = subprocess.Popen(
        [sys.executable, "-c", DYING_RUN, str(lab.paths.inventory), str(journal), clouds,
         json.dumps({**case.__dict__, "stage": stage})],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    words: list[str] = []
    try:
        while stage not in words:
            line = proc.stdout.readline()
            assert line, f"the run ended before {stage!r}: {words}"
            words.append(line.strip())
    finally:
        proc.kill()
        proc.wait(timeout=30)
        if stage not in words:  # leave no fault behind for the next case
            recover_pending(lab, journal)
    pending = Journal(journal).pending()
    assert [(e.kind, e.fault) for e in pending] == [("fault", case.fault)] + (
        [("recovery", case.recovery)] if stage == "recovering" else [])

    result = recover_pending(lab, journal)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    if stage == "recovering":  # newest first: the recovery, then the fault
        assert lines[0].startswith("rolled back the interrupted recovery"), result.stdout
        assert f" {case.recovery} on {case.host} " in lines[0], result.stdout
        if name == "id_mismatch":  # killed with the services its runbook stopped
            assert "started nova-compute on compute2" in lines[0], result.stdout
        if name == "power_off_host":  # killed with the rings without storage2 everywhere
            rings = lab_targets.with_role("controller")[0].name  # where the builders live
            assert "put back account.builder, container.builder, object.builder, " \
                   "account.ring.gz, container.ring.gz, object.ring.gz from before storage2's " \
                   f"removal on {rings}; rings copied to " in lines[0], result.stdout
        lines = lines[1:]
    assert lines[0].startswith(f"restored {case.fault} on {case.host}"), result.stdout
    assert Journal(journal).pending() == []
    verifier.wait_verified(case.budget)


def recover_pending(lab: Lab, journal: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stackdrill.cli", "recover", "--pending",
                           "--inventory", str(lab.paths.inventory), "--journal", str(journal)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, check=False)


# -- a fault of the user's own, from a conftest.py ----------------------------------------------
# memcached's main process paused with SIGSTOP (systemd still says active), continued with
# SIGCONT. The name is one no built-in registers: a second registration of a name is refused
# (DuplicateName), and ``recover --pending`` loads a fault from the journalled file only when no
# plugin registers its name. (The built-in ``freeze_service`` stops a service's whole process
# tree; this one only the main process.) The run prints "injected" once the process is stopped
# and holds there until it is killed.
PAUSE_CONFTEST = """
import shlex
import sys

from stackdrill.api._fault import Fault, FaultError
from stackdrill.core.params import Param

pytest_plugins = ["stackdrill.builtin.steps.drill_steps"]


class PauseMainProcess(Fault):
    name = "pause_main_process"
    description = "pause a service's main process with SIGSTOP; the undo sends SIGCONT"
    params = {"service": Param("the service whose main process is paused")}

    def plan(self):
        return [f"kill -STOP <MainPID of {self.target.unit(self.values['service'])}>"]

    def prepare(self):
        unit = shlex.quote(self.target.unit(self.values["service"]))
        pid = self.target.run(f"systemctl show -p MainPID --value {unit}").stdout.strip()
        if not pid.isdigit() or pid == "0":
            raise FaultError(f"{unit} has no main process on {self.target.name}")
        return {"pid": int(pid)}

    def inject(self, facts):
        self.target.run(f"kill -STOP {facts['pid']}", check=True)
        print("injected", flush=True)
        sys.stdin.readline()  # held here until killed

    def confirm(self, facts):
        state = self.target.run(f"ps -o stat= -p {facts['pid']}").stdout.strip()
        return f"pid {facts['pid']} stopped ({state})" if state.startswith("T") else None

    def undo(self, facts):
        self.target.run(f"kill -CONT {facts['pid']} 2>/dev/null || true", check=True)


def pytest_stackdrill_register(registries):
    registries.faults.register(PauseMainProcess)
"""

PAUSE_FEATURE = """\
Feature: a fault of the user's own, left in place by a killed run
  Scenario: memcached's main process is paused and the run is killed
    Given a controller host
    And the cloud is in its verified state
    When the fault "pause_main_process" is injected on the controller host:
      | service | memcached |
    Then the fault is confirmed within 10 seconds
"""


def test_recover_pending_undoes_a_fault_from_a_conftest_after_a_sigkill(
        lab: Lab, lab_targets: Targets, canaries: CanaryWorkload, cloud_access: CloudAccess,
        tmp_path: Path) -> None:
    verifier = Drill("verifier", lab_targets, load_registries(), Journal(tmp_path / "v.jsonl"),
                     cloud=cloud_access)
    verifier.record_baseline(settle=180)
    features = write_feature_dir(tmp_path / "drills", "pause", PAUSE_FEATURE, PAUSE_CONFTEST)
    journal = tmp_path / "journal.jsonl"
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    # pytest's default import mode: the conftest is module "conftest", found through the
    # sys.path entry pytest adds for its directory, which a fresh process does not have
    proc = subprocess.Popen(
        [sys.executable, "-m", "stackdrill.cli", "run", str(features), "--lab",
         "--journal", str(journal), "--history", str(tmp_path / "history.jsonl"),
         "--reports", str(tmp_path / "reports"),
         "--", "-c", "/dev/null", "--rootdir", str(features), "-q", "-s", "-p",
         "no:cacheprovider"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=features, env=env)
    kill_once_injected(proc)
    [entry] = Journal(journal).pending()
    assert entry.fault == "pause_main_process"
    assert entry.origin is not None
    assert entry.origin.file == str((features / "conftest.py").resolve())
    controller = lab_targets.get(entry.target)
    pid = entry.undo["pid"]
    assert controller.run(f"ps -o stat= -p {pid}").stdout.strip().startswith("T")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([sys.executable, "-m", "stackdrill.cli", "recover", "--pending",
                             "--inventory", str(lab.paths.inventory), "--journal", str(journal)],
                            capture_output=True, text=True, timeout=600, cwd=elsewhere, env=env,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("restored pause_main_process on controller "), result.stdout
    assert Journal(journal).pending() == []
    assert not controller.run(f"ps -o stat= -p {pid}").stdout.strip().startswith("T")
    verifier.wait_verified(300)
