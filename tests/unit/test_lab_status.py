"""``stackdrill lab status`` says the lab is fully up only when it is: every host on with sshd
answering, and for a lab built with its cloud, every unit ``lab up`` starts active, clouds.yaml
written, a Keystone token, the Nova, Cinder, Glance and Swift endpoints answering and the
canaries ACTIVE. Otherwise it prints one line per problem and exits 1. The hosts, their units
and the APIs are fakes; against the real lab, ``stackdrill lab status`` is run by hand."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from stackdrill import cli
from stackdrill.lab import status as lab_status
from stackdrill.lab.cloud.naming import lab_naming
from stackdrill.lab.cloud.secrets import LabSecrets
from stackdrill.lab.lab import HostStatus, Lab
from stackdrill.lab.topology import SINGLE, LabPaths, host_by_name

Units = Callable[[str, str], str]


def hosts_up(*off: str) -> list[HostStatus]:
    return [HostStatus(name=h.name, address=h.address, roles=h.roles,
                       powered=h.name not in off, init_pid=None if h.name in off else 100,
                       ssh=h.name not in off) for h in SINGLE.hosts]


def running(*only: str) -> Units:
    """``systemctl is-active`` inside a host: the units in ``only`` (all when empty) active."""
    def answer(host: str, unit: str) -> str:
        return "active" if not only or unit in only else "inactive"
    return answer


@dataclass
class Response:
    status_code: int


@dataclass
class Server:
    name: str
    status: str


@dataclass
class FakeProxy:
    status: int | Exception = 200
    servers_found: list[Server] = field(default_factory=list)

    def get(self, path: str, raise_exc: bool = True) -> Response:
        if isinstance(self.status, Exception):
            raise self.status
        return Response(self.status)

    def servers(self, all_projects: bool = False) -> Iterator[Server]:
        return iter(self.servers_found)


@dataclass
class FakeConnection:
    token: Exception | None = None
    compute: FakeProxy = field(default_factory=FakeProxy)
    block_storage: FakeProxy = field(default_factory=FakeProxy)
    image: FakeProxy = field(default_factory=FakeProxy)
    object_store: FakeProxy = field(default_factory=FakeProxy)
    closed: bool = False

    def authorize(self) -> str:
        if self.token is not None:
            raise self.token
        return "gAAAA-token"

    def close(self) -> None:
        self.closed = True


CANARIES = [Server("stackdrill-canary-compute1", "ACTIVE"),
            Server("stackdrill-canary-compute2", "ACTIVE"), Server("someone-else", "ERROR")]


def lab_status_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str], *, hosts: list[HostStatus],
                   units: Units, conn: FakeConnection | None = None) -> tuple[int, list[str]]:
    """``stackdrill lab status`` on a lab under ``tmp_path`` with fake hosts and cloud."""
    monkeypatch.setenv("STACKDRILL_LAB_DIR", str(tmp_path))
    monkeypatch.delenv("STACKDRILL_LAB_UNITS", raising=False)
    monkeypatch.setattr(Lab, "status", lambda self: hosts)

    def in_host(self: Lab, name: str, command: str, *, check: bool = True,
                timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        assert command.startswith("systemctl is-active ")
        answers = [units(name, unit) for unit in command.split()[2:]]
        return subprocess.CompletedProcess([], 3, "\n".join(answers) + "\n", "")

    monkeypatch.setattr(Lab, "in_host", in_host)
    monkeypatch.setattr(lab_status, "connect", lambda path: conn or FakeConnection())
    code = cli.main(["lab", "status"])
    return code, capsys.readouterr().out.splitlines()


def built_lab(tmp_path: Path, *, cloud: bool = True, clouds_yaml: bool = True) -> None:
    """What ``lab up`` leaves: the inventory, and for a cloud its secrets and clouds.yaml."""
    if cloud:
        LabSecrets.load_or_create(tmp_path / "secrets.json")
    Lab(LabPaths(tmp_path)).write_inventory(cloud=cloud)
    if cloud and clouds_yaml:
        (tmp_path / "clouds.yaml").write_text("clouds: {}\n")


def problems(lines: list[str]) -> list[str]:
    return [line.removeprefix("problem: ") for line in lines if line.startswith("problem: ")]


def test_a_lab_whose_up_was_killed_during_bootstrap_is_not_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The case seen: every host on and answering SSH, only Keystone, MariaDB and RabbitMQ
    started, no inventory and no clouds.yaml yet (``lab up`` writes them last)."""
    unit_file = tmp_path / "hosts/controller/merged/etc/systemd/system/keystone.service"
    unit_file.parent.mkdir(parents=True)
    unit_file.write_text("[Service]\n")  # written into the hosts before they boot
    code, lines = lab_status_run(tmp_path, monkeypatch, capsys, hosts=hosts_up(),
                                 units=running("dbus", "libvirtd", "keystone", "mariadb",
                                               "rabbitmq-server"))
    assert code == cli.EXIT_FAILED
    found = problems(lines)
    assert found[:2] == [f"{tmp_path / 'inventory.yaml'}: missing (lab up did not finish)",
                         f"{tmp_path / 'clouds.yaml'}: missing (lab up did not finish "
                         f"bootstrapping the cloud)"]
    assert "controller: unit nova-api is inactive" in found
    assert "controller: unit keystone is inactive" not in found
    assert "compute1: unit nova-compute is inactive" in found
    assert "storage1: unit cinder-volume is inactive" in found
    assert "storage2: unit swift-object-server is inactive" in found
    assert not any(line.startswith("API ") for line in found)  # nothing to connect with
    assert lines[-1] == f"lab: not fully up ({len(found)} problems)"
    assert sum(line.endswith("ssh up") for line in lines) == 5


def test_a_fully_up_lab_says_so_and_exits_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    built_lab(tmp_path)
    conn = FakeConnection(compute=FakeProxy(servers_found=CANARIES))
    code, lines = lab_status_run(tmp_path, monkeypatch, capsys, hosts=hosts_up(),
                                 units=running(), conn=conn)
    assert code == cli.EXIT_OK, lines
    assert lines[5:] == [
        "release: current (OpenStack 2026.2 Hibiscus)",  # a lab built before the record
        "units: 53 of 53 active",
        "APIs answering: keystone, nova, cinder, glance, swift "
        "(of keystone, nova, cinder, glance, swift)",
        "canaries: stackdrill-canary-compute1 ACTIVE, stackdrill-canary-compute2 ACTIVE",
        "lab: fully up"]
    assert conn.closed


def test_each_api_down_and_each_canary_not_active_is_a_problem(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    built_lab(tmp_path)
    conn = FakeConnection(
        compute=FakeProxy(servers_found=[Server("stackdrill-canary-compute1", "SHUTOFF")]),
        block_storage=FakeProxy(ConnectionError("Connection refused\n to 172.31.77.10:8776")),
        object_store=FakeProxy(503))
    code, lines = lab_status_run(tmp_path, monkeypatch, capsys, hosts=hosts_up("compute2"),
                                 units=running(), conn=conn)
    assert code == cli.EXIT_FAILED
    assert problems(lines) == [
        "compute2: powered off",
        "API cinder: Connection refused to 172.31.77.10:8776",
        "API swift: HTTP 503 on /?format=json&limit=1",
        "canary stackdrill-canary-compute1: SHUTOFF, not ACTIVE"]
    assert "units: 50 of 50 active" in lines  # compute2's units are not asked while it is off


def test_no_token_means_no_endpoint_is_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    built_lab(tmp_path)
    conn = FakeConnection(token=RuntimeError("The request you have made requires "
                                             "authentication. (HTTP 401)"))
    code, lines = lab_status_run(tmp_path, monkeypatch, capsys, hosts=hosts_up(),
                                 units=running(), conn=conn)
    assert code == cli.EXIT_FAILED
    assert problems(lines) == ["API keystone: no token: The request you have made requires "
                               "authentication. (HTTP 401)"]


def test_a_lab_of_hosts_only_is_up_with_its_hosts(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    built_lab(tmp_path, cloud=False)
    code, lines = lab_status_run(tmp_path, monkeypatch, capsys, hosts=hosts_up(),
                                 units=running("dbus"))
    assert code == cli.EXIT_OK, lines
    assert lines[5:] == ["cloud: none (hosts only)", "lab: fully up"]
    code, lines = lab_status_run(tmp_path, monkeypatch, capsys, hosts=hosts_up("storage2"),
                                 units=running())
    assert code == cli.EXIT_FAILED
    assert problems(lines) == ["storage2: powered off"]


def test_the_expected_units_follow_the_labs_naming() -> None:
    packages = lab_status.expected_units(host_by_name("compute1"), lab_naming("packages"),
                                         cloud=True)
    devstack = lab_status.expected_units(host_by_name("compute1"), lab_naming("devstack"),
                                         cloud=True)
    assert packages == ("dbus", "libvirtd", "nova-compute")
    assert devstack == ("dbus", "libvirtd", "devstack@n-cpu")
    storage = lab_status.expected_units(host_by_name("storage1"), lab_naming("packages"),
                                        cloud=True)
    assert {"tgt", "cinder-volume", "stackdrill-swift-disks", "swift-rsyncd"} <= set(storage)
    assert lab_status.expected_units(host_by_name("controller"), lab_naming("packages"),
                                     cloud=False) == ("dbus",)


def test_the_inventory_gives_the_naming_of_the_cloud_it_describes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    LabSecrets.load_or_create(tmp_path / "secrets.json")
    Lab(LabPaths(tmp_path), lab_naming("devstack")).write_inventory(cloud=True)
    asked: list[str] = []

    def in_host(self: Lab, name: str, command: str, **_: Any
                ) -> subprocess.CompletedProcess[str]:
        asked.append(command)
        return subprocess.CompletedProcess([], 0, "", "")

    monkeypatch.setattr(Lab, "in_host", in_host)
    Lab(LabPaths(tmp_path)).report(hosts_up(), connect=lambda path: FakeConnection())
    assert any("devstack@n-api" in command for command in asked)
    assert Lab(LabPaths(tmp_path)).topology == SINGLE  # an inventory without a record
