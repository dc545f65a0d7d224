"""An installed stackdrill works outside any checkout, as an operator's tool does.

The wheel is built from this tree (``uv build``) and installed into a fresh virtual environment
with the dependency versions ``uv.lock`` pins. From a directory outside the checkout, that
environment's ``stackdrill`` answers ``--help``, lists the faults the checkout lists, plans the
drills it ships (no path given) against the lab's inventory under the names they have in the
checkout, and writes and plans a project of one's own (``stackdrill init``). The lab's inventory
keeps its hosts, roles, services and power driver, with TEST-NET addresses: nothing could be
contacted. The installed package holds every file the lab reads beside its modules, and its
``stackdrill lab fetch-guest`` runs the guest packages' download script it ships, against a
fake apt.

uv builds and installs from its cache; what the cache lacks (hatchling, a locked dependency)
comes from PyPI. Without uv, or when PyPI cannot be reached either, the tests are skipped with
the reason; any other failure of the build or the install fails them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from stackdrill.api._registry import load_registries
from stackdrill.builtin import shipped_drills
from stackdrill.cli.shipped_drills import default_argv
from stackdrill.lab.lab import Lab
from stackdrill.lab.package_data import lab_package_files
from stackdrill.lab.topology import LabPaths
from stackdrill.reporting import catalogue
from tests.unit.test_fetch_guest_packages import DEBIAN, DEBIAN_RELEASE, FakeApt, manifest

ROOT = Path(__file__).resolve().parents[2]
UV_CANDIDATES = ("uv", "/opt/stackdrill-uv/bin/uv")
"""uv on PATH, else where scripts/setup installs it as root."""
NETWORK_ERRORS = ("Failed to fetch", "error sending request", "dns error", "tcp connect error",
                  "Network is unreachable", "operation timed out")
"""uv's words for an index it could not reach."""
TIMEOUT = 300


def _uv() -> str:
    for candidate in UV_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    pytest.skip(f"uv not found ({', '.join(UV_CANDIDATES)}; scripts/setup installs it): "
                f"the wheel cannot be built")


def _uv_run(uv: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([uv, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)


def _from_cache_or_pypi(uv: str, what: str, *args: str) -> None:
    """``uv ARGS`` from uv's cache alone, else with PyPI; skipped when PyPI is unreachable
    too, failed on any other error."""
    if _uv_run(uv, *args, "--offline").returncode == 0:
        return
    online = _uv_run(uv, *args)
    if online.returncode == 0:
        return
    if any(error in online.stderr for error in NETWORK_ERRORS):
        last = online.stderr.strip().splitlines()[-1].strip()
        pytest.skip(f"{what}: needs packages uv's cache lacks, and PyPI is unreachable ({last})")
    pytest.fail(f"{what} failed:\n{online.stderr}")


@dataclass(frozen=True)
class Installed:
    """A virtual environment with the built wheel installed, and a working directory outside
    the checkout to run its ``stackdrill`` from."""

    wheel: Path
    venv: Path
    elsewhere: Path
    state: Path

    def stackdrill(self, *args: str,
                   env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.venv / "bin" / "stackdrill"), *args, env=env)

    def run(self, *argv: str,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``argv`` from the directory outside the checkout, with this process's environment
        less stackdrill's, pytest's and the cloud's variables, and then ``env``."""
        environment = {name: value for name, value in os.environ.items()
                       if not name.startswith(("PYTEST_", "STACKDRILL_", "OS_"))
                       and name not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
        environment.update(XDG_STATE_HOME=str(self.state), COLUMNS="400",
                           PATH=f"{self.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
        environment.update(env or {})
        return subprocess.run(list(argv), cwd=self.elsewhere, env=environment,
                              capture_output=True, text=True, timeout=TIMEOUT, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    uv = _uv()
    base = tmp_path_factory.mktemp("installed-wheel")
    dist = base / "dist"
    _from_cache_or_pypi(uv, "building the wheel", "build", "--wheel", "-q", "--out-dir",
                        str(dist))
    wheel, = dist.glob("stackdrill-*.whl")
    constraints = base / "constraints.txt"
    exported = _uv_run(uv, "export", "--frozen", "--no-hashes", "--no-emit-project", "--no-dev",
                       "--format", "requirements-txt", "-q", "-o", str(constraints))
    assert exported.returncode == 0, exported.stderr
    venv = base / "venv"
    made = _uv_run(uv, "venv", "-q", "--python", sys.executable, str(venv))
    assert made.returncode == 0, made.stderr
    _from_cache_or_pypi(uv, "installing the wheel", "pip", "install", "-q", "--python",
                        str(venv / "bin" / "python"), "--constraint", str(constraints),
                        str(wheel))
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    assert ROOT not in elsewhere.parents
    return Installed(wheel, venv, elsewhere, base / "state")


def lab_inventory(directory: Path) -> Path:
    """The lab's inventory, its addresses in TEST-NET, its secrets file a fake one."""
    directory.mkdir()
    paths = LabPaths(directory)
    Lab(paths).write_inventory(cloud=True)
    data = yaml.safe_load(paths.inventory.read_text())
    for number, host in enumerate(data["hosts"].values(), start=10):
        host["address"] = f"192.0.2.{number}"
    for secrets in data["secrets_files"]:
        Path(secrets).write_text('{"database": "not-a-password"}\n')
    paths.inventory.write_text(yaml.safe_dump(data, sort_keys=False))
    return paths.inventory


def plan_blocks(text: str) -> tuple[str, set[str]]:
    """A plan's header, and its scenarios' blocks (in any order)."""
    header, *blocks = text.strip().split("\n\n")
    return header, set(blocks)


def test_the_installed_stackdrill_is_the_wheels_and_answers_help(installed: Installed) -> None:
    python = installed.venv / "bin" / "python"
    where = installed.run(str(python), "-c", "import stackdrill; print(stackdrill.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed.venv)
    result = installed.stackdrill("--help")
    assert result.returncode == 0, result.stderr
    for command in ("lab", "run", "plan", "recover", "init", "list", "describe"):
        assert f"    {command} " in result.stdout, command
    shipped = next(installed.venv.glob("lib/python*/site-packages/stackdrill/builtin/features"))
    for command in ("run", "plan"):
        result = installed.stackdrill(command, "--help")
        assert result.returncode == 0, result.stderr
        assert f"otherwise the drills stackdrill ships ({shipped})" in result.stdout


def test_the_installed_stackdrill_lists_the_checkouts_faults(installed: Installed) -> None:
    result = installed.stackdrill("list", "faults")
    assert result.returncode == 0, result.stderr
    lines = catalogue.list_lines(catalogue.entries(load_registries(), "faults"))
    assert result.stdout == "".join(f"{line}\n" for line in lines)
    assert "remove_files" in result.stdout


def test_the_shipped_drills_plan_outside_the_checkout_under_their_checkout_names(
        installed: Installed, tmp_path: Path) -> None:
    inventory = lab_inventory(tmp_path / "lab")
    before = sorted(installed.elsewhere.rglob("*"))
    checkout = subprocess.Popen(  # the checkout's own plan, meanwhile
        [sys.executable, "-m", "stackdrill.cli", "plan", "--inventory", str(inventory)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result = installed.stackdrill("plan", "--inventory", str(inventory))
    expected, errors = checkout.communicate(timeout=TIMEOUT)
    assert checkout.returncode == 0, errors
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    header, blocks = plan_blocks(result.stdout)
    assert header.startswith(f"plan: {len(blocks)} scenarios against cloud 'stackdrill-lab' "
                             f"(inventory {inventory})")
    assert (header, blocks) == plan_blocks(expected)
    assert all(block.startswith("features/") for block in blocks)
    assert any(block.startswith("features/compute/id_mismatch.feature:") for block in blocks)
    assert "    $ power off via lab driver" in result.stdout
    assert sorted(installed.elsewhere.rglob("*")) == before  # a plan writes nothing
    assert not list(installed.venv.rglob(".pytest_cache"))


def test_a_project_init_writes_plans_with_the_installed_stackdrill(installed: Installed,
                                                                  tmp_path: Path) -> None:
    inventory = lab_inventory(tmp_path / "lab")
    project = installed.elsewhere / "memcached"
    written = installed.stackdrill("init", str(project))
    assert written.returncode == 0, written.stderr
    result = installed.stackdrill("plan", str(project), "--inventory", str(inventory))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"plan: 1 scenario against cloud 'stackdrill-lab' (inventory {inventory})"
    assert "features/memcached.feature:6: memcached stops and is started again" in lines
    assert "  fault stop_unit on controller (controller host, line 9)" in lines
    assert "    $ systemctl stop memcached" in lines


def test_the_wheel_holds_every_file_of_the_package_and_the_drills(installed: Installed) -> None:
    """What the lab and the rest read beside their modules ships: the OpenStack lock file, the
    modules the lab's services load, the profiles, the priorities, the project templates."""
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    package = {path.relative_to(ROOT).as_posix() for path in (ROOT / "stackdrill").rglob("*")
               if path.is_file() and path.suffix != ".pyc"
               and not any(part.startswith((".", "__pycache__")) for part in path.parts)}
    assert package - names == set()
    drills = {f"stackdrill/builtin/{path.relative_to(ROOT).as_posix()}"
              for path in (ROOT / "features").rglob("*.feature")}
    assert drills <= names
    assert not [name for name in names if name.startswith("stackdrill/builtin/features/")
                and not name.endswith(".feature")]


def test_the_installed_package_holds_every_file_the_lab_reads(installed: Installed) -> None:
    """The list kept beside the lab's code (``stackdrill/lab/package_data.py``), as the installed
    package computes it, is the checkout's, and each of its files is in site-packages."""
    listed = installed.run(str(installed.venv / "bin" / "python"), "-c",
                           "from stackdrill.lab.package_data import PACKAGE, lab_package_files; "
                           "print(PACKAGE); print(*lab_package_files(), sep='\\n')")
    assert listed.returncode == 0, listed.stderr
    package, *files = listed.stdout.splitlines()
    assert Path(package).is_relative_to(installed.venv)
    assert files == lab_package_files()
    assert "stackdrill/lab/guest/fetch-guest-packages" in files
    assert [name for name in files if not (Path(package).parent / name).is_file()] == []


def test_the_installed_stackdrill_fetches_the_guest_packages_with_its_own_script(
        installed: Installed, tmp_path: Path) -> None:
    """``stackdrill lab fetch-guest`` runs the script the package ships, against a fake apt
    (nothing is downloaded), and the lab's hint for missing guest packages names the command."""
    shipped = next(installed.venv.glob(
        "lib/python*/site-packages/stackdrill/lab/guest/fetch-guest-packages"))
    helped = installed.stackdrill("lab", "fetch-guest", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "fetch-guest: download the canary guest's kernel" in " ".join(helped.stdout.split())
    hint = installed.run(str(installed.venv / "bin" / "python"), "-c",
                         "from stackdrill.lab.prerequisites import guest_packages_hint; "
                         "print(guest_packages_hint())")
    assert hint.returncode == 0, hint.stderr
    assert hint.stdout.startswith(
        f"download them as root: stackdrill lab fetch-guest (it runs {shipped}); ")
    apt = FakeApt(tmp_path / "apt")
    apt.offer(DEBIAN)
    cache = tmp_path / "cache"
    fetched = installed.stackdrill("lab", "fetch-guest",
                                   env=apt.environment(cache, DEBIAN_RELEASE))
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert f"fetch-guest-packages: in {cache}: linux-image-amd64 " in fetched.stdout
    assert manifest(cache) == list(DEBIAN.items())


def test_without_a_path_a_features_folder_here_is_taken_as_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "features").mkdir()
    monkeypatch.chdir(tmp_path)
    assert default_argv(tmp_path / "cache") == ["features"]


def test_without_a_path_elsewhere_the_shipped_drills_are_taken(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert shipped_drills() == ROOT / "features"  # a checkout's own
    assert default_argv(tmp_path / "cache") == [
        str(ROOT / "features"), "-o", f"cache_dir={tmp_path / 'cache'}"]
    assert default_argv(None) == [str(ROOT / "features")]
