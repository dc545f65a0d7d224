"""The lab's OpenStack release: ``current`` (the default) or ``previous`` (the series before, to
rehearse an upgrade from), each from its own lock file into its own virtualenv. The option of
``lab up``, the release it records and what reads the record back, the refusal of a lab of
another release, and the hosts' files naming the chosen virtualenv's commands (``lab up``
against fakes of the machine). A lab of the previous release is not brought up here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackdrill import cli
from stackdrill.lab import lab as lab_module
from stackdrill.lab import status as lab_status
from stackdrill.lab import supervisor
from stackdrill.lab.cloud import bootstrap, configs, swift
from stackdrill.lab.cloud.layout import VENV
from stackdrill.lab.cloud.naming import PACKAGES
from stackdrill.lab.cloud.release import (
    CURRENT,
    PREVIOUS,
    RELEASES,
    Release,
    ReleaseError,
    built_release,
    record_release,
    recorded_series,
    refuse_other_release,
    release_named,
    upgrade_inventory,
)
from stackdrill.lab.cloud.secrets import NAMES, LabSecrets
from stackdrill.lab.lab import Lab
from stackdrill.lab.topology import HA, SINGLE, LabPaths, record_topology
from stackdrill.pytest_plugin.session import version_settings

SECRETS = LabSecrets({name: f"pw-{name}" for name in NAMES})
ROOT = Path(__file__).resolve().parents[2]
SERIES_MAJORS = {  # each lock's services: the series' major versions
    CURRENT: {"keystone": 30, "nova": 34, "cinder": 29, "glance": 33,
              "openstack-placement": 16, "neutron": 29},
    PREVIOUS: {"keystone": 29, "nova": 33, "cinder": 28, "glance": 32,
               "openstack-placement": 15, "neutron": 28},
}


def pins(lock: Path) -> dict[str, str]:
    return dict(re.findall(r"^([a-z0-9._-]+)==(\S+)$", lock.read_text(), re.MULTILINE))


# -- the releases --------------------------------------------------------------------------------
def test_a_release_is_named_by_its_name_series_or_codename() -> None:
    for word in ("previous", "2026.1", "gazpacho", "Gazpacho"):
        assert release_named(word) is PREVIOUS
    for word in ("current", "2026.2", "hibiscus"):
        assert release_named(word) is CURRENT
    with pytest.raises(ReleaseError, match=r"^lab release 'next': expected one of current "
                       r"\(2026\.2, hibiscus\), previous \(2026\.1, gazpacho\)$"):
        release_named("next")


def test_each_release_has_its_own_virtualenv_the_current_one_where_it_always_was() -> None:
    assert CURRENT.venv == VENV == Path("/opt/stackdrill-lab/openstack")
    assert PREVIOUS.venv == Path("/opt/stackdrill-lab/openstack-2026.1")
    assert PREVIOUS.bin == PREVIOUS.venv / "bin"
    assert str(PREVIOUS) == "previous (OpenStack 2026.1 Gazpacho)"


@pytest.mark.parametrize("release", RELEASES, ids=lambda r: r.name)
def test_each_lock_pins_its_series_services_from_its_input(release: Release) -> None:
    locked = pins(release.lock)
    majors = {name: int(locked[name].split(".")[0]) for name in SERIES_MAJORS[release]}
    assert majors == SERIES_MAJORS[release]
    assert locked["libvirt-python"] == "9.0.0"  # Debian 12's libvirt
    assert {"gunicorn", "pymysql", "python-memcached", "python-openstackclient", "swift",
            "python-swiftclient"} <= set(locked)
    source = release.lock.with_suffix(".in").name
    assert f"# via -r stackdrill/lab/cloud/{source}" in release.lock.read_text()


def test_the_previous_lock_holds_the_previous_series_swift() -> None:
    assert pins(PREVIOUS.lock)["swift"].startswith("2.37.")
    assert pins(CURRENT.lock)["swift"].startswith("2.38.")


def test_one_script_makes_both_locks_the_same_way() -> None:
    script = (ROOT / "scripts/lock-openstack").read_text()
    assert "pip compile -q --no-header --python-version 3.11" in script
    assert '"$DIR/openstack.in" -o "$DIR/openstack.lock"' in script
    assert '"$DIR/openstack-previous.in" -o "$DIR/openstack-previous.lock"' in script
    services = re.search(r"^SERVICES=\((.*)\)$", script, re.MULTILINE)
    assert services is not None
    assert set(services.group(1).split()) == {*SERIES_MAJORS[PREVIOUS], "swift"}
    bogus = subprocess.run(["bash", str(ROOT / "scripts/lock-openstack"), "next"],
                           capture_output=True, text=True, timeout=30, check=False)
    assert (bogus.returncode, bogus.stderr) == (2, "scripts/lock-openstack: unknown release next "
                                                   "(expected current or previous)\n")


# -- the record ----------------------------------------------------------------------------------
def test_the_recorded_release_is_read_back(tmp_path: Path) -> None:
    paths = LabPaths(tmp_path)
    assert recorded_series(paths) is None
    assert built_release(paths) is CURRENT
    assert Lab(paths).release is CURRENT
    record_release(paths, PREVIOUS)
    assert paths.release.read_text() == "2026.1\n"
    assert built_release(paths) is PREVIOUS
    assert Lab(paths).release is PREVIOUS
    assert Lab(paths, release=CURRENT).release is CURRENT  # what lab up is asked to build


def test_a_lab_built_before_the_record_runs_the_current_release(tmp_path: Path) -> None:
    paths = LabPaths(tmp_path)
    record_topology(paths, HA)
    assert recorded_series(paths) == CURRENT.series
    assert built_release(paths) is CURRENT


def test_a_series_no_release_names_any_longer_is_refused_by_name(tmp_path: Path) -> None:
    paths = LabPaths(tmp_path)
    paths.release.write_text("2025.2\n")
    with pytest.raises(ReleaseError, match=r"lab release '2025\.2'"):
        built_release(paths)
    with pytest.raises(ReleaseError, match=r"is up with release OpenStack 2025\.2, not current"):
        refuse_other_release(paths, CURRENT)


def test_lab_down_removes_the_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(swift, "remove_disks", lambda _paths: None)
    monkeypatch.setattr(lab_module.rootfs, "unmount_state", lambda _paths: None)
    monkeypatch.setattr(lab_module.network, "remove_all", lambda: None)
    paths = LabPaths(tmp_path)
    lab = Lab(paths)
    monkeypatch.setattr(lab.power, "kill_all", lambda: None)
    record_topology(paths, SINGLE)
    record_release(paths, PREVIOUS)
    lab.down()
    assert not paths.release.exists() and not paths.topology.exists()
    assert recorded_series(paths) is None


def refuse_to_touch_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the refusal, up would tear down the machine's lab bridge and namespaces."""
    def touched(*_: object, **__: object) -> None:
        raise AssertionError("lab up went past the refusal")

    for name in ("_preflight", "down", "_build_hosts"):
        monkeypatch.setattr(Lab, name, touched)


@pytest.mark.parametrize(("built", "asked"), [(CURRENT, "previous"), (PREVIOUS, None),
                                              (PREVIOUS, "hibiscus")])
def test_lab_up_of_another_release_is_one_line_and_exit_2(
        built: Release, asked: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    refuse_to_touch_the_machine(monkeypatch)
    monkeypatch.setenv("STACKDRILL_LAB_DIR", str(tmp_path))
    record_topology(LabPaths(tmp_path), SINGLE)
    record_release(LabPaths(tmp_path), built)
    code = cli.main(["lab", "up", *(["--release", asked] if asked else [])])
    err = capsys.readouterr().err
    assert code == cli.EXIT_BAD_INPUT
    wanted = release_named(asked or "current")
    assert err == (f"stackdrill: error: the lab under {tmp_path} is up with release {built}, "
                   f"not {wanted}: lab down first (stackdrill lab down)\n")
    assert recorded_series(LabPaths(tmp_path)) == built.series


def test_release_is_an_option_of_lab_up_only_and_a_known_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    refuse_to_touch_the_machine(monkeypatch)
    monkeypatch.setenv("STACKDRILL_LAB_DIR", str(tmp_path))
    assert cli.main(["lab", "status", "--release", "previous"]) == cli.EXIT_BAD_INPUT
    assert capsys.readouterr().err == ("stackdrill: error: lab status: --release is for lab up "
                                       "(the lab's own is recorded)\n")
    assert cli.main(["lab", "up", "--release", "2025.2"]) == cli.EXIT_BAD_INPUT
    assert capsys.readouterr().err.startswith("stackdrill: error: lab release '2025.2': "
                                              "expected one of current")
    assert recorded_series(LabPaths(tmp_path)) is None


# -- lab up with the previous release, against fakes of the machine ------------------------------
class Calls:
    """What lab up asked of the fakes: the release installed and the virtualenv each stage
    was given."""

    def __init__(self) -> None:
        self.installed: list[Release] = []
        self.venvs: dict[str, Path] = {}


def fake_machine(monkeypatch: pytest.MonkeyPatch, calls: Calls) -> None:
    class Bootstrap:
        def __init__(self, *args: Any) -> None:
            self.venv = args[-1]

        def run(self) -> None:
            calls.venvs[type(self).__name__] = self.venv

    class CloudBootstrap(Bootstrap):
        pass

    class SwiftBootstrap(Bootstrap):
        pass

    class MonitoringBootstrap:
        def __init__(self, *args: Any) -> None:
            pass

        def run(self) -> None:
            return None

    def configure(paths: LabPaths, secrets: LabSecrets, naming: Any, topology: Any,
                  venv: Path) -> None:
        calls.venvs["configure"] = venv

    for name in ("_preflight", "down", "_build_hosts", "_boot_hosts"):
        monkeypatch.setattr(Lab, name, lambda *_: None)
    monkeypatch.setattr(Lab, "_shared_instances", lambda self: self.paths.root / "instances")
    monkeypatch.setattr(lab_module, "ensure_openstack",
                        lambda log, release: calls.installed.append(release))
    monkeypatch.setattr(lab_module, "configure_cloud", configure)
    monkeypatch.setattr(lab_module.swift, "create_disks", lambda paths: {})
    monkeypatch.setattr(lab_module, "CloudBootstrap", CloudBootstrap)
    monkeypatch.setattr(lab_module.swift, "SwiftBootstrap", SwiftBootstrap)
    monkeypatch.setattr(lab_module.monitoring, "MonitoringBootstrap", MonitoringBootstrap)
    monkeypatch.setattr(lab_module, "write_clouds_yaml", lambda paths, secrets: None)


def test_lab_up_of_the_previous_release_installs_and_runs_its_own_virtualenv(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    calls = Calls()
    fake_machine(monkeypatch, calls)
    monkeypatch.setattr(Lab, "status", lambda self: [])
    monkeypatch.setenv("STACKDRILL_LAB_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert cli.main(["lab", "up", "--release", "gazpacho"]) == cli.EXIT_OK
    assert calls.installed == [PREVIOUS]
    assert calls.venvs == {"configure": PREVIOUS.venv, "CloudBootstrap": PREVIOUS.venv,
                           "SwiftBootstrap": PREVIOUS.venv}
    paths = LabPaths(tmp_path)
    assert (recorded_series(paths), paths.topology.read_text()) == ("2026.1", "single\n")
    assert f"inventory: {paths.inventory}" in capsys.readouterr().out
    # the upgrade procedures' commands: the current release installed over it, and back
    assert yaml.safe_load(paths.inventory.read_text())["upgrade"] == upgrade_inventory(PREVIOUS)


def test_lab_up_by_default_keeps_the_current_release_and_its_virtualenv(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = Calls()
    fake_machine(monkeypatch, calls)
    Lab(LabPaths(tmp_path)).up(log=lambda _: None)
    assert calls.installed == [CURRENT]
    assert set(calls.venvs.values()) == {VENV}
    assert recorded_series(LabPaths(tmp_path)) == "2026.2"
    assert "upgrade" not in yaml.safe_load(LabPaths(tmp_path).inventory.read_text())


# -- what the hosts run ------------------------------------------------------------------------
def host_files(venv: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    for host in HA.hosts:
        if "controller" in host.roles:
            files |= configs.controller_files(host, SECRETS, PACKAGES, HA, venv)
            files |= swift.proxy_files(SECRETS, PACKAGES, HA, host, venv)
        elif "compute" in host.roles:
            files |= configs.compute_files(host, SECRETS, PACKAGES, HA, venv)
    files |= configs.block_storage_files(HA.host("storage1"), SECRETS, PACKAGES, HA, venv)
    files |= swift.storage_files(swift.lab_storage_nodes(HA)[0], SECRETS, [], PACKAGES, venv)
    return files


def test_every_unit_and_helper_runs_the_chosen_releases_commands() -> None:
    files = host_files(PREVIOUS.venv)
    units = {path: text for path, text in files.items() if path.endswith(".service")}
    starts = [line for text in units.values() for line in text.splitlines()
              if line.startswith("ExecStart=") and "openstack" in line]
    assert len(starts) >= 12
    assert all(line.startswith(f"ExecStart={PREVIOUS.bin}/") for line in starts)
    assert (f"helper_command = {PREVIOUS.bin}/privsep-helper --config-file "
            f"/etc/nova/nova.conf") in files["/etc/nova/nova.conf"]
    assert not any(f"{VENV}/" in text for text in files.values())


def test_by_default_the_hosts_run_the_current_releases_commands() -> None:
    default = configs.controller_files(SINGLE.host("controller"), SECRETS)
    assert default == configs.controller_files(SINGLE.host("controller"), SECRETS, PACKAGES,
                                               SINGLE, VENV)
    assert f"ExecStart={VENV}/bin/nova-conductor " in default[PACKAGES.service_file(
        "nova-conductor")]


def test_the_paste_files_come_from_the_chosen_releases_virtualenv(tmp_path: Path) -> None:
    venv = tmp_path / "openstack-2026.1"
    for rel in (*bootstrap.PASTE_FILES, *bootstrap.SHIPPED_FILES):
        (venv / "etc" / rel).parent.mkdir(parents=True, exist_ok=True)
        (venv / "etc" / rel).write_text(f"# {rel} of the previous release\n")
    paths = LabPaths(tmp_path / "lab")
    bootstrap.configure(paths, SECRETS, PACKAGES, SINGLE, venv)
    etc = paths.merged("controller") / "etc"
    assert (etc / "nova/api-paste.ini").read_text() == ("# nova/api-paste.ini of the previous "
                                                         "release\n")
    assert (etc / "cinder/resource_filters.json").read_text().endswith("previous release\n")
    compute = (paths.merged("compute1") / "etc/systemd/system/nova-compute.service").read_text()
    assert f"ExecStart={venv}/bin/python -m stackdrill_lab_nova_compute " in compute


def test_the_bootstrap_and_swifts_tools_use_the_chosen_virtualenv(tmp_path: Path) -> None:
    commands: list[str] = []

    def in_host(host: str, command: str, **_: Any) -> subprocess.CompletedProcess[str]:
        commands.append(command)
        return subprocess.CompletedProcess([], 0, "", "")

    cloud = bootstrap.CloudBootstrap(in_host, LabPaths(tmp_path), SECRETS, lambda _: None,
                                     venv=PREVIOUS.venv)
    cloud.keystone()
    cloud.schemas()
    manages = re.findall(r"([^\s(]+/bin/)(?:keystone|nova|glance|placement|cinder)-manage",
                         " ".join(commands))
    assert manages and set(manages) == {f"{PREVIOUS.bin}/"}
    assert f"--path {PREVIOUS.venv}/etc/glance/metadefs " in commands[-1]
    swift.link_tools(tmp_path, PREVIOUS.venv)
    assert (tmp_path / "usr/local/bin/swift-ring-builder").readlink() == (
        PREVIOUS.bin / "swift-ring-builder")


def test_every_releases_interpreter_stays_visible_in_the_hosts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The venvs' interpreters may live under /root, which the hosts do not see."""
    venvs = []
    for name in ("current", "previous"):
        python = tmp_path / f"python-{name}"
        (python / "bin").mkdir(parents=True)
        venv = tmp_path / f"venv-{name}"
        venv.mkdir()
        (venv / "pyvenv.cfg").write_text(f"home = {python / 'bin'}\n")
        venvs.append(Release(name, "0", name, Path("lock"), venv))
    monkeypatch.setattr(supervisor, "RELEASES", tuple(venvs))
    args = supervisor.hiding_args()
    assert {f"--bind-ro={tmp_path / 'python-current'}",
            f"--bind-ro={tmp_path / 'python-previous'}"} <= set(args)


# -- what reads the record back ------------------------------------------------------------------
def test_lab_status_names_the_release(tmp_path: Path) -> None:
    paths = LabPaths(tmp_path)
    LabSecrets.load_or_create(tmp_path / "secrets.json")
    Lab(paths).write_inventory(cloud=True)
    record_release(paths, PREVIOUS)
    report = Lab(paths).report([], connect=lambda path: None)
    assert report.summary[0] == "release: previous (OpenStack 2026.1 Gazpacho)"
    assert lab_status.cloud_summary(lab_status.CloudState(clouds_yaml=True))[0].startswith(
        "units: ")


class FakeConfig:
    def __init__(self, lab: bool) -> None:
        self.options = {"lab": lab, "openstack_bin_dir": None}

    def getoption(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


def test_the_version_report_looks_in_the_labs_own_release(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKDRILL_LAB_DIR", str(tmp_path))
    config: Any = FakeConfig(lab=True)
    assert str(CURRENT.bin) in version_settings(config).directories
    record_release(LabPaths(tmp_path), PREVIOUS)
    directories = version_settings(config).directories
    assert str(PREVIOUS.bin) in directories and str(CURRENT.bin) not in directories
    without_lab: Any = FakeConfig(lab=False)
    assert str(PREVIOUS.bin) not in version_settings(without_lab).directories


def test_the_cli_help_names_every_release() -> None:
    result = subprocess.run([sys.executable, "-m", "stackdrill.cli", "lab", "--help"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60, check=True)
    text = " ".join(result.stdout.split())
    assert "--release RELEASE" in text
    assert "current: 2026.2, hibiscus; previous: 2026.1, gazpacho" in text
