"""The OpenStack services' releases on the hosts: one command per host, run here by ``sh``
against fake commands that print what the real ones print, and merged into one value per
service, or one per host where the hosts differ."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from stackdrill.hosts.ssh import CommandResult, HostUnreachable
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import parse_inventory
from stackdrill.reporting.allure_files import write_allure_files
from stackdrill.reporting.history import (
    SERVICE_VERSIONS,
    VERSION_SETTINGS,
    Run,
    session_service_versions,
)
from stackdrill.reporting.service_versions import (
    UNKNOWN,
    VersionSettings,
    merge,
    parse_version,
    service_versions,
)

# what the commands print for --version, as recorded from the services' releases
NOVA_MANAGE = ("/venv/lib/python3.11/site-packages/oslo_db/__init__.py:12: "
               "DeprecationWarning: eventlet is deprecated\n34.0.0\n")
KEYSTONE_MANAGE = "30.0.0\n"
CINDER_MANAGE = "29.0.0\n"
NEUTRON_SERVER = "neutron-server 29.0.0\n"
GLANCE_BROKEN = "usage: glance-manage [-h] [--config-dir DIR]\nglance-manage: error: boom\n"


def command(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(body)
    path.chmod(0o755)


def printing(text: str, status: int = 0, stream: str = "") -> str:
    heredoc = f"cat {stream}<<'EOF'\n{text}EOF\n"
    return f"#!/bin/sh\n[ \"$1\" = --version ] || exit 2\n{heredoc}exit {status}\n"


def distribution(site: Path, name: str, version: str) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


class LocalConnection:
    """A host's SSH connection that runs the command here, under the host's own PATH."""

    def __init__(self, name: str, path: str, fail: bool = False) -> None:
        self.name, self.path, self.fail = name, path, fail
        self.commands: list[str] = []

    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        self.commands.append(command)
        if self.fail:
            raise HostUnreachable(f"{self.name}: connection refused")
        started = time.time()
        ran = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True,
                             timeout=timeout, env={"PATH": self.path}, check=False)
        return CommandResult(self.name, command, ran.returncode, ran.stdout, ran.stderr,
                             started, time.time() - started)


class LocalPool:
    def __init__(self, connections: dict[str, LocalConnection]) -> None:
        self.connections = connections

    def get(self, name: str) -> LocalConnection:
        return self.connections[name]

    def close(self) -> None:
        pass


INVENTORY = {
    "cloud": "testcloud",
    "hosts": {
        "controller": {"address": "192.0.2.10", "roles": ["controller"]},
        "compute1": {"address": "192.0.2.11", "roles": ["compute"]},
        "compute2": {"address": "192.0.2.12", "roles": ["compute"]},
        "storage1": {"address": "192.0.2.21", "roles": ["storage"]},
        "db1": {"address": "192.0.2.30", "roles": ["database"]},
    },
}


@pytest.fixture
def cloud(tmp_path: Path) -> tuple[Targets, dict[str, LocalConnection], VersionSettings]:
    """A controller with its commands on PATH and Cinder's in a virtualenv, two computes (the
    second not upgraded yet), a storage host whose Swift is read through its Python, and a
    database host that has no OpenStack service."""
    system = "/usr/bin:/bin"
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    command(venv, "cinder-manage", printing(CINDER_MANAGE))
    hosts: dict[str, Path] = {}
    for name in ("controller", "compute1", "compute2", "storage1", "db1"):
        hosts[name] = tmp_path / name
        hosts[name].mkdir()
    controller = hosts["controller"]
    command(controller, "keystone-manage", printing(KEYSTONE_MANAGE))
    command(controller, "nova-manage", printing(NOVA_MANAGE))
    command(controller, "neutron-server", printing(NEUTRON_SERVER))
    command(controller, "glance-manage", printing(GLANCE_BROKEN, status=2, stream=">&2 "))
    command(hosts["compute1"], "nova-manage", printing(NOVA_MANAGE))
    command(hosts["compute2"], "nova-manage", printing("33.1.0\n"))
    site = tmp_path / "swift-venv" / "site-packages"
    distribution(site, "swift", "2.38.3")
    command(hosts["storage1"], "python3",
            f"#!/bin/sh\nPYTHONPATH={site} exec {sys.executable} \"$@\"\n")
    command(hosts["storage1"], "swift-ring-builder",
            f"#!{hosts['storage1'] / 'python3'}\nraise SystemExit('not run here')\n")
    connections = {name: LocalConnection(name, f"{path}:{system}")
                   for name, path in hosts.items()}
    inventory = parse_inventory(INVENTORY, tmp_path / "inventory.yaml")
    targets = Targets(inventory, pool=LocalPool(connections))  # type: ignore[arg-type]
    return targets, connections, VersionSettings(directories=(str(venv),))


def test_each_services_release_is_read_with_one_command_per_host(
        cloud: tuple[Targets, dict[str, LocalConnection], VersionSettings]) -> None:
    targets, connections, settings = cloud
    found = service_versions(targets, settings)
    assert found == {
        "keystone": "30.0.0",
        "nova": {"compute1": "34.0.0", "compute2": "33.1.0", "controller": "34.0.0"},
        "glance": UNKNOWN,                    # its --version failed: unknown, not invented
        "cinder": "29.0.0",                   # found in the configured directory only
        "neutron": "29.0.0",                  # "neutron-server 29.0.0"
        "swift": "2.38.3",                    # no --version: the package, as its Python sees it
    }
    assert "placement" not in found           # installed nowhere
    assert [len(c.commands) for n, c in sorted(connections.items()) if n != "db1"] == [1] * 4
    assert connections["db1"].commands == []  # a database host runs no OpenStack service


def test_an_unreachable_host_is_unknown_and_nothing_is_raised(
        cloud: tuple[Targets, dict[str, LocalConnection], VersionSettings]) -> None:
    targets, connections, settings = cloud
    connections["compute2"].fail = True
    found = service_versions(targets, settings)
    assert found["nova"] == {"compute1": "34.0.0", "compute2": UNKNOWN, "controller": "34.0.0"}
    assert found["keystone"] == "30.0.0"  # a compute runs no Keystone: not unknown there
    for connection in connections.values():
        connection.fail = True
    assert set(service_versions(targets, settings).values()) == {UNKNOWN}


def test_a_service_is_read_only_on_the_hosts_whose_roles_run_it(
        tmp_path: Path,
        cloud: tuple[Targets, dict[str, LocalConnection], VersionSettings]) -> None:
    """A shared virtualenv holds Swift on every host: a compute's copy is no Swift it runs, and
    an upgrade that installed a new one there is no Swift upgrade."""
    targets, connections, settings = cloud
    site = tmp_path / "shared-site-packages"
    distribution(site, "swift", "2.99.0")
    venv = Path(settings.directories[0])
    command(venv, "python3", f"#!/bin/sh\nPYTHONPATH={site} exec {sys.executable} \"$@\"\n")
    command(venv, "swift-init", f"#!{venv / 'python3'}\nraise SystemExit('not run here')\n")
    found = service_versions(targets, settings)
    assert found["swift"] == {"controller": "2.99.0", "storage1": "2.38.3"}
    assert found["cinder"] == "29.0.0"
    assert all("cinder-manage" not in c for c in connections["compute1"].commands)


def test_a_session_reads_the_versions_once(
        cloud: tuple[Targets, dict[str, LocalConnection], VersionSettings]) -> None:
    targets, connections, settings = cloud
    stash = pytest.Stash()
    stash[VERSION_SETTINGS] = settings
    first = session_service_versions(stash, targets)
    assert session_service_versions(stash, targets) is first is stash[SERVICE_VERSIONS]
    assert len(connections["controller"].commands) == 1
    assert first["cinder"] == "29.0.0"


def test_a_failure_of_the_reading_itself_leaves_every_service_unknown(
        monkeypatch: pytest.MonkeyPatch,
        cloud: tuple[Targets, dict[str, LocalConnection], VersionSettings]) -> None:
    targets, _, settings = cloud

    def broken(*_: Any) -> None:
        raise RuntimeError("no thread left")

    monkeypatch.setattr("stackdrill.reporting.history.service_versions", broken)
    stash = pytest.Stash()
    stash[VERSION_SETTINGS] = settings
    found = session_service_versions(stash, targets)
    assert found == {source.service: UNKNOWN for source in settings.sources}


@pytest.mark.parametrize(("output", "version"), [
    ("30.0.0\n", "30.0.0"),
    ("neutron-server 29.0.0", "29.0.0"),
    ("warning: 3.11 is old\n34.1.0.dev12\n", "34.1.0.dev12"),
    ("", UNKNOWN),
    ("Traceback (most recent call last):\nImportError: no module named nova", UNKNOWN),
])
def test_parse_version(output: str, version: str) -> None:
    assert parse_version(output) == version


def test_merge_keeps_one_value_where_the_hosts_agree() -> None:
    assert merge({"a": {"nova": "34.0.0"}, "b": {"nova": "34.0.0", "swift": "2.38.3"}},
                 ["nova", "swift", "cinder"]) == {"nova": "34.0.0", "swift": "2.38.3"}
    assert merge({"a": None}, ["nova"]) == {"nova": UNKNOWN}


def test_the_allure_environment_and_the_history_reader_carry_the_releases(
        tmp_path: Path) -> None:
    releases = {"nova": {"compute1": "34.0.0", "compute2": "33.1.0"}, "keystone": "30.0.0"}
    write_allure_files(tmp_path, cloud="lab", stackdrill="0.1.0",
                       openstack={"compute": "2.104"}, services=releases)
    lines = (tmp_path / "environment.properties").read_text().splitlines()
    assert lines[3:] == ["openstack.compute=2.104", "nova@compute1=34.0.0",
                         "nova@compute2=33.1.0", "keystone=30.0.0"]
    run = Run.from_record({"drill": "d", "started": "2025-05-01T10:00:00Z",
                           "ended": "2025-05-01T10:01:00Z", "openstack_versions": releases})
    assert run.openstack_versions == releases


def test_a_python_command_is_read_from_its_package_metadata_before_its_version_option(
        tmp_path: Path,
        cloud: tuple[Targets, dict[str, LocalConnection], VersionSettings]) -> None:
    """``nova-manage --version`` imports all of Nova (three seconds on the lab); the package's
    metadata, as the command's own Python sees it, says the same in a tenth. A Python that has
    no such package falls back to ``--version``."""
    targets, _, settings = cloud
    site = tmp_path / "nova-site-packages"
    distribution(site, "nova", "34.0.1")
    controller = tmp_path / "controller"
    command(controller, "python3", f"#!/bin/sh\nPYTHONPATH={site} exec {sys.executable} \"$@\"\n")
    command(controller, "nova-manage", f"#!{controller / 'python3'}\nraise SystemExit(2)\n")
    command(controller, "keystone-manage", f"#!{controller / 'python3'}\n"
            f"import sys; print('{KEYSTONE_MANAGE.strip()}') if sys.argv[1:] == ['--version'] "
            f"else sys.exit(3)\n")
    found = service_versions(targets, settings)
    assert found["nova"] == {"compute1": "34.0.0", "compute2": "33.1.0",
                             "controller": "34.0.1"}  # the metadata, never the script run
    assert found["keystone"] == "30.0.0"  # no keystone package there: its --version
