"""``stackdrill init DIR`` writes a drill project that works from any working directory: its
own unit tests pass, ``stackdrill plan`` shows its fault's and recovery's commands, its drill
runs on hosts that are local directories (a fake ``systemctl`` and ``ss``), and after a run is
SIGKILLed right after the injection, ``stackdrill recover --pending`` undoes its fault from the
journal alone, without the project being installed."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from stackdrill import cli
from stackdrill.cli.scaffold import project_files, project_names
from stackdrill.engine.journal import Journal
from stackdrill.hosts import target as target_module

ROOT = Path(__file__).resolve().parents[2]

FILES = ["README.md", "conftest.py", "features/memcached.feature",
         "memcached_drills/__init__.py", "memcached_drills/faults.py",
         "memcached_drills/probes.py", "memcached_drills/recovery.py", "pyproject.toml",
         "tests/test_memcached_drills.py"]

LOCAL_HOSTS = '''
import os
import subprocess
import time

from stackdrill.hosts.ssh import CommandResult


class LocalConnection:
    """A host that is a directory of $FAKE_HOSTS: each command runs in a local sh, the fake
    systemctl and ss first on PATH."""

    def __init__(self, name):
        hosts = os.environ["FAKE_HOSTS"]
        self.name = name
        self.env = {**os.environ, "PATH": f"{hosts}/bin:{os.environ['PATH']}",
                    "FAKE_HOST": name, "RUN_PID": str(os.getpid())}

    def connect(self):
        pass

    def close(self):
        pass

    def run(self, command, *, timeout=None):
        done = subprocess.run(["/bin/sh", "-c", command], env=self.env, capture_output=True,
                              text=True, timeout=30, check=False)
        return CommandResult(self.name, command, done.returncode, done.stdout, done.stderr,
                             time.time(), 0.0)


class LocalPool:
    def __init__(self, inventory):
        self.inventory = inventory

    def get(self, name):
        return LocalConnection(name)

    def close(self):
        pass
'''

FAKE_CONFTEST = LOCAL_HOSTS + '''

import pytest

import stackdrill.hosts.target
from stackdrill.api import Registries

from memcached_drills import pytest_stackdrill_register

stackdrill.hosts.target.SshPool = LocalPool


@pytest.fixture(scope="session")
def stackdrill_registries():
    """Only the project's probe observes the local hosts."""
    found = Registries()
    pytest_stackdrill_register(found)
    return found


@pytest.fixture(scope="session")
def cloud_access():
    return None
'''

SYSTEMCTL = """#!/bin/sh
# systemctl start|stop|is-active UNIT, on $FAKE_HOSTS/$FAKE_HOST/UNIT
state="$FAKE_HOSTS/$FAKE_HOST/$2"
case "$1" in
  start|stop)
    echo "$FAKE_HOST $1 $2" >> "$FAKE_HOSTS/events.log"
    if [ "$1" = start ]; then echo active > "$state"; else echo inactive > "$state"; fi
    if [ "$1" = stop ] && [ -e "$FAKE_HOSTS/die-after-stop" ]; then kill -KILL "$RUN_PID"; fi ;;
  is-active)
    now=$(cat "$state" 2>/dev/null || echo inactive); echo "$now"; [ "$now" = active ] ;;
  *) echo "fake systemctl: $*" >&2; exit 1 ;;
esac
"""

SS = """#!/bin/sh
if [ "$(cat "$FAKE_HOSTS/$FAKE_HOST/memcached" 2>/dev/null)" = active ]; then
  echo "LISTEN 0 1024 0.0.0.0:11211 0.0.0.0:*"
fi
echo "LISTEN 0 128 0.0.0.0:22 0.0.0.0:*"
"""

HOSTS = {"controller": {"address": "192.0.2.10", "roles": ["controller"]},
         "compute1": {"address": "192.0.2.11", "roles": ["compute"]}}


def init(directory: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["init", str(directory)])
    out, err = capsys.readouterr()
    return code, out, err


def environment(tmp_path: Path) -> dict[str, str]:
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(yaml.safe_dump({"clouds": {}}))
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"),
           "OS_CLIENT_CONFIG_FILE": str(clouds), "FAKE_HOSTS": str(tmp_path / "hosts")}
    for name in ("OS_CLOUD", "STACKDRILL_INVENTORY"):
        env.pop(name, None)
    return env


def python(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in a process of its own, from a working directory of its own."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, *args], cwd=elsewhere, env=environment(tmp_path),
                          capture_output=True, text=True, timeout=120, check=False)


def stackdrill(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return python(tmp_path, "-m", "stackdrill.cli", *args)


def local_hosts(tmp_path: Path) -> Path:
    """The inventory of two hosts that are directories; memcached runs on the controller."""
    hosts = tmp_path / "hosts"
    (hosts / "bin").mkdir(parents=True)
    for name, script in (("systemctl", SYSTEMCTL), ("ss", SS)):
        (hosts / "bin" / name).write_text(script)
        (hosts / "bin" / name).chmod(0o755)
    for host in HOSTS:
        (hosts / host).mkdir()
    (hosts / "controller" / "memcached").write_text("active\n")
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"cloud": "unit", "hosts": HOSTS}))
    return inventory


def run_args(tmp_path: Path, project: Path, inventory: Path) -> list[str]:
    return ["run", str(project), "--inventory", str(inventory),
            "--journal", str(tmp_path / "journal.jsonl"),
            "--history", str(tmp_path / "history.jsonl"), "--reports", str(tmp_path / "reports"),
            "--", "-p", "no:cacheprovider", "-rA"]


def host_events(tmp_path: Path) -> list[str]:
    path = tmp_path / "hosts" / "events.log"
    return path.read_text().splitlines() if path.exists() else []


def test_the_names_come_from_the_directory() -> None:
    assert project_names(Path("memcached")) == ("memcached-drills", "memcached_drills")
    assert project_names(Path("My Drills")) == ("my-drills", "my_drills")
    assert project_names(Path("2024")) == ("2024-drills", "drills_2024_drills")


def test_init_refuses_a_directory_that_is_not_empty(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    code, out, err = init(tmp_path, capsys)
    assert code == cli.EXIT_BAD_INPUT
    assert (out, err) == ("", f"stackdrill: error: init: {tmp_path} is not empty; init writes "
                              f"a project only into a new or empty directory\n")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    code, _, err = init(tmp_path / "notes.txt", capsys)
    assert code == cli.EXIT_BAD_INPUT and err.count("\n") == 1, err


def test_init_writes_a_project_whose_tests_and_plan_work_from_anywhere(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "memcached"
    code, out, _ = init(project, capsys)
    assert code == cli.EXIT_OK
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()) \
        == FILES
    assert out.splitlines()[0] == (f"init: wrote the drill project memcached-drills (package "
                                   f"memcached_drills) in {project}:")
    assert not [p for p in project.rglob("*") if p.is_file() and "{{" in p.read_text()]
    settings = tomllib.loads((project / "pyproject.toml").read_text())
    assert settings["project"]["entry-points"]["stackdrill.plugins"] == {
        "memcached-drills": "memcached_drills"}
    assert f"stackdrill run {project} --lab" in (project / "README.md").read_text()

    tests = python(tmp_path, "-m", "pytest", str(project / "tests"), "-q", "-p",
                   "no:cacheprovider")
    assert tests.returncode == 0 and "5 passed" in tests.stdout, tests.stdout + tests.stderr

    inventory = local_hosts(tmp_path)
    plan = stackdrill(tmp_path, "plan", str(project), "--inventory", str(inventory))
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert ("features/memcached.feature:6: memcached stops and is started again\n"
            "  fault stop_unit on controller (controller host, line 9)\n"
            "    $ systemctl stop memcached\n"
            "  recovery start_unit on controller (controller host, line 15)\n"
            "    1. Start memcached on controller\n"
            "       $ systemctl start memcached\n"
            "    2. Wait until memcached is active on controller\n"
            "       $ systemctl is-active memcached\n") in plan.stdout


@pytest.mark.skipif(shutil.which("ruff", path=str(Path(sys.executable).parent)) is None,
                    reason="ruff is not installed beside this Python")
def test_the_project_passes_the_checkouts_lint_rules(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "memcached"
    init(project, capsys)
    ruff = str(Path(sys.executable).parent / "ruff")
    result = subprocess.run([ruff, "check", "--isolated", "--line-length", "100", "--select",
                             "E,F,W,I,B,UP,SIM,RUF,PL,S", "--ignore",
                             "PLC0415,PLR2004,S101,S603,S607", "."], cwd=project,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_projects_drill_runs_and_recover_undoes_it_after_a_killed_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "memcached"
    init(project, capsys)
    (project / "features" / "conftest.py").write_text(FAKE_CONFTEST)
    inventory = local_hosts(tmp_path)

    ran = stackdrill(tmp_path, *run_args(tmp_path, project, inventory))
    assert ran.returncode == cli.EXIT_OK, ran.stdout + ran.stderr
    assert "PASSED ../memcached/features/memcached.feature::test_memcached_stops_and_is_" \
           "started_again" in ran.stdout, ran.stdout
    assert host_events(tmp_path) == ["controller stop memcached", "controller start memcached",
                                     "controller start memcached"]  # recovery, then undo

    (tmp_path / "hosts" / "die-after-stop").touch()
    killed = stackdrill(tmp_path, *run_args(tmp_path, project, inventory))
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert (tmp_path / "hosts" / "controller" / "memcached").read_text() == "inactive\n"
    [entry] = Journal(tmp_path / "journal.jsonl").pending()
    assert entry.origin is not None
    assert (entry.fault, entry.origin.module, entry.origin.file) == (
        "stop_unit", "memcached_drills.faults",
        str((project / "memcached_drills" / "faults.py").resolve()))

    # a fresh recover, elsewhere, with the project neither installed nor on sys.path: it loads
    # the fault from the journalled file; its undo reaches the hosts through the local pool
    namespace: dict[str, object] = {}
    exec(LOCAL_HOSTS, namespace)
    monkeypatch.setattr(target_module, "SshPool", namespace["LocalPool"])
    for name, value in environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OS_CLOUD", raising=False)
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert "memcached_drills" not in sys.modules
    code = cli.main(["recover", "--pending", "--inventory", str(inventory),
                     "--journal", str(tmp_path / "journal.jsonl")])
    out = capsys.readouterr().out
    assert code == cli.EXIT_OK, out
    assert out.startswith("restored stop_unit on controller "), out
    assert (tmp_path / "hosts" / "controller" / "memcached").read_text() == "active\n"
    assert Journal(tmp_path / "journal.jsonl").pending() == []


def test_the_docs_show_the_project_init_writes() -> None:
    """docs/your-own-drills.md shows every file but the README as written, and its plan."""
    page = (ROOT / "docs" / "your-own-drills.md").read_text()
    shown = dict(re.findall(r"^`([^`\n]+)`:\n\n```\w*\n(.*?)^```$", page,
                            flags=re.MULTILINE | re.DOTALL))
    written = {str(path): text for path, text in project_files(Path("memcached")).items()}
    assert shown == {path: text for path, text in written.items() if path != "README.md"}
    listing = page.split("$ stackdrill init memcached\n", 1)[1].split("```", 1)[0]
    assert [line.strip() for line in listing.splitlines()[1:-1]] == FILES
