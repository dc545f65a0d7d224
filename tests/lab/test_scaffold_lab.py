"""A drill project written by ``stackdrill init``, copied outside the checkout, on the lab.

The project gains one fault the test defines: memcached's main process paused with SIGSTOP,
continued with SIGCONT. Its own drill (memcached stopped and started again) runs with
``stackdrill run DIR --lab`` from another working directory and passes; a second run, of the
pause, is SIGKILLed once the process is paused; ``stackdrill recover --pending``, from yet
another directory and with the project neither installed nor on ``sys.path``, loads the fault
from the file the journal names and undoes it. The drill the docs show (docs/your-own-drills.md)
is the one ``init`` writes (tests/unit/test_scaffold.py keeps the two equal).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stackdrill.api._registry import load_registries
from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.canary import CanaryWorkload
from stackdrill.engine.drill import Drill
from stackdrill.engine.journal import Journal
from stackdrill.hosts.target import Targets
from stackdrill.lab.lab import Lab
from tests.feature_dirs import kill_once_injected

# Part of the long tier, not of CI: scripts/test -m long tests/lab runs it (README).
pytestmark = pytest.mark.long

# Appended to the project's faults.py, which already imports what it uses. The run prints
# "injected" once the process is paused and holds there until it is killed.
PAUSE_FAULT = '''

class PauseMainProcess(Fault):
    """Pause a unit's main process with SIGSTOP: systemd still calls it active, its port still
    listens, and nothing it serves is answered; the undo continues it."""

    name = "pause_main_process"
    description = "pause a unit's main process with SIGSTOP; the undo sends SIGCONT"
    params: ClassVar[Mapping[str, Param]] = {
        "unit": Param("the systemd unit whose main process is paused"),
    }

    def plan(self) -> list[str]:
        return [f"kill -STOP <MainPID of {self.values['unit']}>"]

    def prepare(self) -> dict[str, Any]:
        unit = shlex.quote(str(self.values["unit"]))
        pid = self.target.run(f"systemctl show -p MainPID --value {unit}").stdout.strip()
        if not pid.isdigit() or pid == "0":
            raise FaultError(f"{unit} has no main process on {self.target.name}")
        return {"pid": int(pid)}

    def inject(self, facts: Mapping[str, Any]) -> None:
        self.target.run(f"kill -STOP {int(facts['pid'])}", check=True)
        import sys
        print("injected", flush=True)
        sys.stdin.readline()  # held here until killed

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """The process's state, in ps's words, is T (stopped)."""
        state = self.target.run(f"ps -o stat= -p {int(facts['pid'])}").stdout.strip()
        return f"pid {facts['pid']} stopped ({state})" if state.startswith("T") else None

    def undo(self, facts: Mapping[str, Any]) -> None:
        """Continue the process (a process gone since needs nothing)."""
        self.target.run(f"kill -CONT {int(facts['pid'])} 2>/dev/null || true", check=True)
'''

PAUSE_FEATURE = """\
@drill
Feature: memcached paused on the controller
  Scenario: memcached's main process is paused and the run is killed
    Given a controller host
    And the cloud is in its verified state
    When the fault "pause_main_process" is injected on the controller host:
      | unit | memcached |
    Then the fault is confirmed within 10 seconds
"""


def scaffold(tmp_path: Path) -> Path:
    """``stackdrill init`` outside the checkout, plus the test's own fault and its drill."""
    project = tmp_path / "drills" / "memcached"
    done = stackdrill(tmp_path, "init", str(project))
    assert done.returncode == 0, done.stdout + done.stderr
    package = project / "memcached_drills"
    with (package / "faults.py").open("a") as faults:
        faults.write(PAUSE_FAULT)
    init = (package / "__init__.py").read_text()
    registration = "    registries.faults.register(StopUnit)\n"
    assert registration in init, init
    init = init.replace("    from .faults import StopUnit\n",
                        "    from .faults import PauseMainProcess, StopUnit\n")
    init = init.replace(registration, registration
                        + "    registries.faults.register(PauseMainProcess)\n")
    (package / "__init__.py").write_text(init)
    (project / "features" / "pause.feature").write_text(PAUSE_FEATURE)
    return project


def environment(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    env.pop("STACKDRILL_INVENTORY", None)
    return env


def stackdrill(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``stackdrill ARGS`` from a working directory outside the checkout and the project."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-m", "stackdrill.cli", *args], cwd=elsewhere,
                          env=environment(tmp_path), capture_output=True, text=True,
                          timeout=900, check=False)


def run_args(tmp_path: Path, project: Path, name: str) -> list[str]:
    return ["run", str(project), "--lab", "--journal", str(tmp_path / f"{name}.jsonl"),
            "--history", str(tmp_path / f"{name}-history.jsonl"),
            "--reports", str(tmp_path / f"{name}-reports")]


def test_a_scaffolded_project_drills_the_lab_and_recover_undoes_its_own_fault(
        lab: Lab, lab_targets: Targets, canaries: CanaryWorkload, cloud_access: CloudAccess,
        tmp_path: Path) -> None:
    project = scaffold(tmp_path)

    ran = stackdrill(tmp_path, *run_args(tmp_path, project, "stop"), "--",
                     "-k", "stops_and_is_started_again", "-p", "no:cacheprovider", "-rA")
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
    [record] = [json.loads(line) for line in
                (tmp_path / "stop-history.jsonl").read_text().splitlines()]
    assert (record["scenario"], record["result"]) == (
        "memcached stops and is started again", "passed"), record["reason"]
    assert Journal(tmp_path / "stop.jsonl").pending() == []

    verifier = Drill("verifier", lab_targets, load_registries(), Journal(tmp_path / "v.jsonl"),
                     cloud=cloud_access)
    verifier.record_baseline(settle=180)
    journal = tmp_path / "pause.jsonl"
    elsewhere = tmp_path / "elsewhere"
    proc = subprocess.Popen(
        [sys.executable, "-m", "stackdrill.cli", *run_args(tmp_path, project, "pause"), "--",
         "-k", "paused", "-s", "-p", "no:cacheprovider"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=elsewhere,
        env=environment(tmp_path))
    kill_once_injected(proc)
    [entry] = Journal(journal).pending()
    assert entry.fault == "pause_main_process"
    assert entry.origin is not None
    assert entry.origin.file == str((project / "memcached_drills" / "faults.py").resolve())
    controller = lab_targets.get(entry.target)
    pid = entry.undo["pid"]
    assert controller.run(f"ps -o stat= -p {pid}").stdout.strip().startswith("T")

    result = stackdrill(tmp_path, "recover", "--pending", "--inventory",
                        str(lab.paths.inventory), "--journal", str(journal))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("restored pause_main_process on controller "), result.stdout
    assert Journal(journal).pending() == []
    assert not controller.run(f"ps -o stat= -p {pid}").stdout.strip().startswith("T")
    verifier.wait_verified(300)
