"""``stackdrill profile verify`` against listings recorded on real deployments
(tests/fixtures/profiles/, as tests/unit/test_profiles_recorded.py reads them): the units of an
all-in-one DevStack node, the containers of a kolla-ansible controller, the LXC containers of an
OpenStack-Ansible infra host. Each host runs the listing commands in a local ``sh`` whose PATH
holds fake ``systemctl``, ``docker``, ``lxc-ls`` and ``lxc-attach`` that print those listings,
so the script the command sends, its sections and their parsing are what is tested."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from stackdrill import cli
from stackdrill.hosts import target as target_module
from stackdrill.hosts.listings import (
    Section,
    listing_command,
    parse_container_ps,
    parse_host_listing,
    parse_units,
)
from stackdrill.hosts.profile_verify import (
    Expectation,
    expectations,
    rename_candidates,
    verify_profile,
)
from stackdrill.hosts.ssh import CommandResult, HostUnreachable
from stackdrill.hosts.target import Targets
from stackdrill.inventory.devstack import Node, inventory_data
from stackdrill.inventory.loader import load_inventory

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "profiles"
LXC_RABBIT = "infra1_rabbit_mq_container-9c8d7e6f"
LXC_GALERA = "infra1_galera_container-3ea2f8c1"
SSH = {"user": "root", "key": "/nonexistent/id_ed25519", "known_hosts": "/nonexistent/known"}
# The DevStack services the recorded node ran (devstack_list_units.txt), as ENABLED_SERVICES
# names them, with the database and the message queue every DevStack controller runs.
ENABLED = ("key", "placement-api", "g-api", "n-api", "n-api-meta", "n-cond", "n-sch", "n-cpu",
           "n-novnc", "c-api", "c-sch", "c-vol", "neutron-api", "q-ovn-agent", "etcd3", "mysql",
           "rabbit")
# The node's infrastructure units, which the recorded `systemctl | grep devstack` leaves out,
# as `systemctl list-units --plain --no-legend` prints them on Ubuntu 24.04.
NODE_UNITS = """\
dbus.service loaded active running D-Bus System Message Bus
dbus.socket loaded active running D-Bus System Message Bus Socket
ssh.service loaded active running OpenBSD Secure Shell server
libvirtd.service loaded active running libvirt legacy monolithic daemon
libvirtd.socket loaded active listening libvirt legacy monolithic daemon socket
mysql.service loaded active running MySQL Community Server
rabbitmq-server.service loaded active running RabbitMQ Messaging Server
"""
# What kolla-ansible's systemd worker (ansible/module_utils/kolla_systemd_worker.py) writes for
# each container: kolla-<name>-container.service, "docker <unit>", Restart=always.
KOLLA_HOST_UNITS = """\
dbus.service loaded active running D-Bus System Message Bus
ssh.service loaded active running OpenBSD Secure Shell server
docker.service loaded active running Docker Application Container Engine
"""
SYSTEMCTL = r"""
case $1 in
  list-units) cat "$FAKE/units";;
  list-unit-files) cat "$FAKE/unit-files";;
  show)
    while [ $# -gt 0 ] && [ "$1" != -- ]; do shift; done; shift; sep=
    for unit in "$@"; do
      restart=no; [ -f "$FAKE/restart/$unit" ] && restart=$(cat "$FAKE/restart/$unit")
      [ -n "$sep" ] && echo; sep=1
      printf 'Id=%s\nRestart=%s\n' "$unit" "$restart"
    done;;
  *) echo "unexpected: systemctl $*" >&2; exit 9;;
esac
"""
DOCKER = r"""
[ "$1 $2" = "ps -a" ] || { echo "unexpected: docker $*" >&2; exit 9; }
[ -f "$FAKE/docker_ps" ] || { echo "Cannot connect to the Docker daemon" >&2; exit 1; }
cat "$FAKE/docker_ps"
"""
LXC_LS = 'cat "$FAKE/lxc_ls"'
LXC_ATTACH = r"""
[ "$1" = -n ] && [ "$3" = -- ] || { echo "unexpected: lxc-attach $*" >&2; exit 9; }
name=$2; shift 3
FAKE=$FAKE/lxc/$name exec "$@"
"""
FAKES = {"systemctl": SYSTEMCTL, "docker": DOCKER, "lxc-ls": LXC_LS, "lxc-attach": LXC_ATTACH}


def recorded(name: str) -> str:
    return (FIXTURES / name).read_text()


def unit_files(units: str) -> str:
    """``list-unit-files`` for every unit of a ``list-units`` listing, enabled."""
    names = [line.split()[0] for line in units.splitlines()
             if line.split() and line.split()[0].endswith((".service", ".socket"))]
    return "".join(f"{name} enabled enabled\n" for name in names)


def write_systemd(directory: Path, units: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "units").write_text(units)
    (directory / "unit-files").write_text(unit_files(units))


def devstack_node(units: str | None = None) -> dict[str, str]:
    return {"units": (units or recorded("devstack_list_units.txt")) + NODE_UNITS}


def kolla_controller(states: dict[str, str] | None = None,
                     wrappers: bool = True) -> dict[str, str]:
    names = [line.strip() for line in recorded("kolla_docker_ps_names.txt").splitlines()
             if line.strip() and not line.startswith("#")]
    ps = "".join(f"{name} {(states or {}).get(name, 'running')}\n" for name in names)
    units = KOLLA_HOST_UNITS
    if wrappers:
        units += "".join(f"kolla-{name}-container.service loaded active running docker "
                         f"kolla-{name}-container.service\n" for name in names)
    return {"units": units, "docker_ps": ps,
            **{f"restart/kolla-{name}-container.service": "always" for name in names}}


def osa_infra() -> dict[str, str]:
    return {"units": KOLLA_HOST_UNITS.replace("docker.service", "lxc.service"),
            "lxc_ls": recorded("lxc_ls_fancy.txt"),
            f"lxc/{LXC_GALERA}/units": "mariadb.service loaded active running MariaDB 10.11\n"}


class LocalConnection:
    """A host's connection running each command in a local ``sh`` with the fakes first on PATH
    and the host's listings in ``$FAKE``."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name, self.env = name, env
        self.ran: list[str] = []

    def run(self, command: str, *, timeout: float | None = None) -> CommandResult:
        self.ran.append(command)
        done = subprocess.run(["/bin/sh", "-c", command], env=self.env, capture_output=True,
                              text=True, timeout=30, check=False)
        return CommandResult(self.name, command, done.returncode, done.stdout, done.stderr,
                             time.time(), 0.0)


class DeadConnection:
    def __init__(self, message: str) -> None:
        self.message = message

    def run(self, command: str, *, timeout: float | None = None) -> CommandResult:
        raise HostUnreachable(self.message)


Hosts = dict[str, "dict[str, str] | DeadConnection"]
"""Host name -> its listing files (relative path -> text), or a connection that fails."""


class LocalPool:
    def __init__(self, connections: dict[str, LocalConnection | DeadConnection]) -> None:
        self.connections = connections

    def get(self, name: str) -> LocalConnection | DeadConnection:
        return self.connections[name]

    def close(self) -> None:
        pass


@pytest.fixture
def hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hosts]:
    """Host name -> its listing files (or a :class:`DeadConnection`); every ``Targets`` made
    while the test runs reaches them through local connections."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in FAKES.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    table: Hosts = {}

    def pool(inventory: object) -> LocalPool:
        connections: dict[str, LocalConnection | DeadConnection] = {}
        for host, files in table.items():
            if isinstance(files, DeadConnection):
                connections[host] = files
                continue
            state = tmp_path / "hosts" / host
            for rel, text in files.items():
                (state / rel).parent.mkdir(parents=True, exist_ok=True)
                (state / rel).write_text(text)
            for units in state.rglob("units"):
                (units.parent / "unit-files").write_text(unit_files(units.read_text()))
            connections[host] = LocalConnection(host, {"PATH": f"{bin_dir}:/usr/bin:/bin",
                                                       "FAKE": str(state)})
        return LocalPool(connections)

    monkeypatch.setattr(target_module, "SshPool", pool)
    yield table


def write_inventory(tmp_path: Path, data: dict[str, object]) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def devstack_inventory(tmp_path: Path, units: dict[str, str] | None = None) -> Path:
    node = Node("np0001", "10.209.0.12", ENABLED)
    data = inventory_data([node], cloud="devstack-admin", ssh=SSH,
                          units={"mariadb": "mysql", **(units or {})})
    return write_inventory(tmp_path, data)


def verify(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    code = cli.main(["profile", "verify", "--inventory", str(path)])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def line_of(lines: list[str], prefix: str) -> str:
    found = [line for line in lines if line.startswith(prefix)]
    assert len(found) == 1, (prefix, lines)
    return found[0]


# -- DevStack -----------------------------------------------------------------------------------


def test_a_devstack_node_that_runs_what_its_inventory_says_matches(
        tmp_path: Path, hosts: Hosts, capsys: pytest.CaptureFixture[str]) -> None:
    hosts["np0001"] = devstack_node()
    code, lines, err = verify(devstack_inventory(tmp_path), capsys)
    assert (code, err) == (0, "")
    assert lines[-1].startswith("profile verify: ") and lines[-1].endswith(": all match")
    assert "np0001: neutron-api (unit devstack@neutron-api): ok" in lines
    assert "np0001: mariadb (unit mysql): ok" in lines
    assert "np0001: nova-compute (unit devstack@n-cpu): ok" in lines
    assert "np0001: nova-conductor-cell1 (unit devstack@n-cond-cell1): ok" in lines
    assert all(": ok" in line for line in lines[:-1]), lines
    # one line per service: the base services, and every service the inventory declares
    declared = set(load_inventory(tmp_path / "inventory.yaml").services)
    assert len(lines) - 1 == len(declared | {"dbus", "ssh", "libvirtd"})


def test_a_devstack_node_reads_in_one_command(tmp_path: Path, hosts: Hosts) -> None:
    hosts["np0001"] = devstack_node()
    targets = Targets(load_inventory(devstack_inventory(tmp_path)))
    verify_profile(targets)
    ran = targets.get("np0001").connection.ran  # type: ignore[attr-defined]
    assert len(ran) == 1
    assert "systemctl list-units --all --type=service,socket --no-legend --plain" in ran[0]
    assert "docker" not in ran[0] and "lxc-ls" not in ran[0]


def test_a_unit_devstack_renamed_is_a_mismatch_with_what_to_write(
        tmp_path: Path, hosts: Hosts, capsys: pytest.CaptureFixture[str]) -> None:
    """The inventory names Neutron's unit as DevStack did before 2025.1; the node runs
    today's."""
    hosts["np0001"] = devstack_node()
    path = devstack_inventory(tmp_path, {"neutron-api": "devstack@q-svc"})
    code, lines, _ = verify(path, capsys)
    assert code == 1
    line = line_of(lines, "np0001: neutron-api ")
    assert line == (
        f"np0001: neutron-api (unit devstack@q-svc): renamed: no unit devstack@q-svc.service, "
        f"but devstack@neutron-api.service (active); fix: set services.neutron-api.unit to "
        f"devstack@neutron-api in {path} (stackdrill inventory devstack: "
        f"--unit neutron-api=devstack@neutron-api)")
    assert lines[-1].endswith("1 renamed: MISMATCH")


def test_the_reverse_rename_an_older_node_still_running_q_svc(
        tmp_path: Path, hosts: Hosts, capsys: pytest.CaptureFixture[str]) -> None:
    older = recorded("devstack_list_units.txt").replace("devstack@neutron-api.service",
                                                         "devstack@q-svc.service")
    hosts["np0001"] = devstack_node(older)
    path = devstack_inventory(tmp_path)
    code, lines, _ = verify(path, capsys)
    assert code == 1
    line = line_of(lines, "np0001: neutron-api ")
    assert "renamed: no unit devstack@neutron-api.service, but devstack@q-svc.service" in line
    assert f"fix: set services.neutron-api.unit to devstack@q-svc in {path}" in line


def test_a_stopped_unit_is_not_running(
        tmp_path: Path, hosts: Hosts, capsys: pytest.CaptureFixture[str]) -> None:
    stopped = recorded("devstack_list_units.txt").replace(
        "devstack@n-cpu.service                            loaded active running",
        "devstack@n-cpu.service                            loaded failed failed ")
    assert stopped != recorded("devstack_list_units.txt")
    hosts["np0001"] = devstack_node(stopped)
    code, lines, _ = verify(devstack_inventory(tmp_path), capsys)
    assert code == 1
    assert ("np0001: nova-compute (unit devstack@n-cpu): not running: devstack@n-cpu.service is "
            "failed (failed)") in lines
    assert lines[-1].endswith("1 not running: MISMATCH")


def test_a_missing_unit_with_no_other_name_is_missing(
        tmp_path: Path, hosts: Hosts, capsys: pytest.CaptureFixture[str]) -> None:
    without = "".join(line + "\n" for line in recorded("devstack_list_units.txt").splitlines()
                      if "devstack@c-vol" not in line)
    hosts["np0001"] = devstack_node(without)
    code, lines, _ = verify(devstack_inventory(tmp_path), capsys)
    assert code == 1
    assert ("np0001: cinder-volume (unit devstack@c-vol): missing: no unit "
            "devstack@c-vol.service") in lines


def test_a_unit_its_socket_starts_is_ok_while_inactive(
        tmp_path: Path, hosts: Hosts, capsys: pytest.CaptureFixture[str]) -> None:
    node = devstack_node()
    node["units"] = node["units"].replace(
        "libvirtd.service loaded active running", "libvirtd.service loaded inactive dead")
    hosts["np0001"] = node
    code, lines, _ = verify(devstack_inventory(tmp_path), capsys)
    assert code == 0
    assert ("np0001: libvirtd (unit libvirtd): ok: inactive until libvirtd.socket starts it"
            in lines)


# -- Kolla-Ansible ------------------------------------------------------------------------------


def kolla_inventory(tmp_path: Path, extra: dict[str, object] | None = None) -> Path:
    return write_inventory(tmp_path, {
        "cloud": "kolla", "profile": "kolla", "defaults": {"ssh": SSH},
        "hosts": {"control01": {"address": "192.0.2.10", "roles": ["controller"]}},
        **(extra or {})})


def test_a_kolla_controller_runs_each_container_under_its_wrapping_unit(
        tmp_path: Path, hosts: Hosts, capsys: pytest.CaptureFixture[str]) -> None:
    hosts["control01"] = kolla_controller()
    code, lines, _ = verify(kolla_inventory(tmp_path), capsys)
    assert code == 0, lines
    assert ("control01: rabbitmq (docker container rabbitmq): ok: under "
            "kolla-rabbitmq-container.service (Restart=always): stop, start and restart go "
            "through it") in lines
    assert ("control01: neutron-api (docker container neutron_server): ok: under "
            "kolla-neutron_server-container.service (Restart=always): stop, start and restart "
            "go through it") in lines
    assert "control01: ssh (unit ssh): ok" in lines
    # no services declared: the controller's services but Cinder's, and the host's own
    assert len(lines) - 1 == 12


def test_a_stopped_kolla_container_is_not_running(
        tmp_path: Path, hosts: Hosts, capsys: pytest.CaptureFixture[str]) -> None:
    hosts["control01"] = kolla_controller({"mariadb": "exited"})
    code, lines, _ = verify(kolla_inventory(tmp_path), capsys)
    assert code == 1
    assert ("control01: mariadb (docker container mariadb): not running: mariadb is exited, "
            "under kolla-mariadb-container.service (Restart=always)") in lines


def test_a_wrapping_unit_the_inventory_does_not_name_is_a_mismatch(
        tmp_path: Path, hosts: Hosts, capsys: pytest.CaptureFixture[str]) -> None:
    """Containers declared without the kolla profile: a stop through docker alone would be
    undone by the wrapping unit, so the drills would not keep them down."""
    hosts["control01"] = kolla_controller()
    path = kolla_inventory(tmp_path, {"services": {"rabbitmq": {"container": "rabbitmq"}}})
    data = yaml.safe_load(path.read_text())
    del data["profile"]
    path.write_text(yaml.safe_dump(data))
    code, lines, _ = verify(path, capsys)
    assert code == 1
    line = line_of(lines, "control01: rabbitmq ")
    assert line.startswith("control01: rabbitmq (docker container rabbitmq): unwrapped: under "
                           "kolla-rabbitmq-container.service (Restart=always), which the "
                           "inventory does not name")
    assert line.endswith(f"fix: declare profile: kolla in {path} (its container_unit names "
                         f"the unit)")


def test_a_host_without_docker_says_its_containers_were_not_listed(
        tmp_path: Path, hosts: Hosts, capsys: pytest.CaptureFixture[str]) -> None:
    hosts["control01"] = {"units": KOLLA_HOST_UNITS}
    code, lines, _ = verify(kolla_inventory(tmp_path), capsys)
    assert code == 1
    assert ("control01: keystone (docker container keystone): not checked: docker ps: exited 1: "
            "Cannot connect to the Docker daemon") in lines


# -- OpenStack-Ansible --------------------------------------------------------------------------


def test_openstack_ansible_units_inside_their_lxc_containers(
        tmp_path: Path, hosts: Hosts, capsys: pytest.CaptureFixture[str]) -> None:
    hosts["infra1"] = osa_infra()
    path = write_inventory(tmp_path, {
        "cloud": "osa", "profile": "openstack-ansible", "defaults": {"ssh": SSH},
        "hosts": {"infra1": {"address": "192.0.2.10", "roles": ["database", "messaging"]}}})
    code, lines, _ = verify(path, capsys)
    assert code == 1
    assert "infra1: mariadb (unit mariadb in LXC container galera_container): ok" in lines
    assert (f"infra1: rabbitmq (unit rabbitmq-server in LXC container rabbit_mq_container): "
            f"not running: LXC container {LXC_RABBIT} is STOPPED") in lines


def test_a_unit_missing_inside_its_lxc_container(
        tmp_path: Path, hosts: Hosts, capsys: pytest.CaptureFixture[str]) -> None:
    infra = osa_infra()
    infra[f"lxc/{LXC_GALERA}/units"] = "mysql.service loaded active running MariaDB 10.11\n"
    hosts["infra1"] = infra
    path = write_inventory(tmp_path, {
        "cloud": "osa", "profile": "openstack-ansible", "defaults": {"ssh": SSH},
        "hosts": {"infra1": {"address": "192.0.2.10", "roles": ["database"]}}})
    code, lines, _ = verify(path, capsys)
    assert code == 1
    line = line_of(lines, "infra1: mariadb ")
    assert (f"renamed: no unit mariadb.service in LXC container {LXC_GALERA}, but mysql.service "
            f"(active); fix: name it in a profile of your own") in line


# -- where each service is expected -------------------------------------------------------------


def test_a_storage_service_needs_to_run_on_one_storage_host_only(tmp_path: Path) -> None:
    """The lab's storage2 runs no cinder-volume: storage holds block or object storage."""
    inventory = load_inventory(write_inventory(tmp_path, {
        "defaults": {"ssh": SSH},
        "hosts": {"storage1": {"address": "192.0.2.21", "roles": ["storage"]},
                  "storage2": {"address": "192.0.2.22", "roles": ["storage"]}},
        "services": {"cinder-volume": {"unit": "cinder-volume"}, "tgtd": {"unit": "tgt"}}}))
    found = expectations(inventory)
    assert Expectation("dbus", ("storage1", "storage2")) in found
    assert Expectation("cinder-volume", ("storage1", "storage2"), every=False) in found
    assert Expectation("tgtd", ("storage1", "storage2"), every=False) in found


def test_a_shared_service_reports_only_the_hosts_that_run_it(
        tmp_path: Path, hosts: Hosts, capsys: pytest.CaptureFixture[str]) -> None:
    runs = "tgt.service loaded active running iSCSI target\n" + KOLLA_HOST_UNITS
    stopped = "tgt.service loaded inactive dead iSCSI target\n" + KOLLA_HOST_UNITS
    hosts["storage1"], hosts["storage2"] = {"units": runs}, {"units": stopped}
    path = write_inventory(tmp_path, {
        "defaults": {"ssh": SSH},
        "hosts": {"storage1": {"address": "192.0.2.21", "roles": ["storage"]},
                  "storage2": {"address": "192.0.2.22", "roles": ["storage"]}},
        "services": {"tgtd": {"unit": "tgt"}}})
    code, lines, _ = verify(path, capsys)
    assert code == 0, lines
    assert "storage1: tgtd (unit tgt): ok" in lines
    assert not [line for line in lines if line.startswith("storage2: tgtd")]
    hosts["storage1"] = {"units": stopped}
    code, lines, _ = verify(path, capsys)
    assert code == 1
    assert ("storage1: tgtd (unit tgt): not running: tgt.service is inactive (dead); expected "
            "on one of storage1, storage2") in lines


def test_rename_candidates_come_from_aliases_and_the_shipped_profiles() -> None:
    assert rename_candidates("neutron-api", "devstack@q-svc")[0] == "devstack@neutron-api"
    assert "neutron-api" in rename_candidates("neutron-api", "devstack@q-svc")
    assert rename_candidates("mariadb", "mysql")[0] == "mariadb"
    assert rename_candidates("ssh", "ssh")[0] == "sshd"
    assert "devstack@ovn-controller" in rename_candidates("ovn-controller", "ovn-controller")
    # a unit the packages profile gives several projects says nothing of which one is missing
    assert "apache2" not in rename_candidates("keystone", "devstack@keystone")


# -- reading the listings -----------------------------------------------------------------------


def test_the_recorded_devstack_listing_parses() -> None:
    units = parse_units(recorded("devstack_list_units.txt"))
    assert len(units) == 20  # the slice and the comment are not units
    assert units["devstack@n-cpu.service"].active == "active"
    failed = parse_units("● nova-compute.service loaded failed failed OpenStack Compute\n")
    assert failed["nova-compute.service"].active == "failed"


def test_podman_before_4_says_up() -> None:
    listing = parse_container_ps("podman", Section("nova_compute Up\nmariadb exited\n", 0))
    assert listing.states == {"nova_compute": "running", "mariadb": "exited"}


def test_a_listing_cut_short_reads_as_no_answer() -> None:
    command = listing_command(["docker"], ["kolla-x-container.service"], lxc=True)
    assert command.count("@@listing") == 5
    listing = parse_host_listing("@@listing units\nssh.service loaded active running x\n",
                                 ["docker"])
    assert listing.systemd.error == "no answer"
    assert listing.containers["docker"].error == "no answer"


# -- the command line ---------------------------------------------------------------------------


def test_a_host_not_reached_is_one_line_and_a_mismatch_and_secrets_stay_out(
        tmp_path: Path, hosts: Hosts, capsys: pytest.CaptureFixture[str]) -> None:
    hosts["np0001"] = devstack_node()
    hosts["np0002"] = DeadConnection("np0002 (10.209.0.13:22): unreachable: ipmi://admin:"
                                     "Sup3rSecret@bmc refused")
    path = devstack_inventory(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["hosts"]["np0002"] = {"address": "10.209.0.13", "roles": ["compute"],
                               "power": {"driver": "ipmi", "address": "192.0.2.250",
                                         "username": "admin", "password": "Sup3rSecret"}}
    path.write_text(yaml.safe_dump(data))
    code, lines, err = verify(path, capsys)
    assert code == 1
    assert line_of(lines, "np0002: ").startswith("np0002: not checked: np0002 (10.209.0.13:22): "
                                                 "unreachable")
    assert "Sup3rSecret" not in "\n".join(lines) + err
    assert lines[-1].endswith("1 host not reached: MISMATCH")


@pytest.mark.parametrize(("data", "message"), [
    ({"hosts": {"c1": {"address": "192.0.2.1", "roles": ["compute"]}}, "profile": "devstak"},
     "unknown profile 'devstak'"),
    ({"hosts": {"c1": {"address": "192.0.2.1", "roles": ["compute"]}},
      "profile": {"name": "packages", "variant": "suse"}}, "no variant 'suse'"),
])
def test_an_unknown_profile_is_bad_input(
        data: dict[str, object], message: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = verify(write_inventory(tmp_path, data), capsys)
    assert (code, lines) == (2, [])
    assert err.count("\n") == 1 and err.startswith("stackdrill: error: ") and message in err
    assert "Traceback" not in err


def test_an_unreadable_inventory_is_bad_input(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = verify(tmp_path / "missing.yaml", capsys)
    assert (code, lines) == (2, [])
    assert err == f"stackdrill: error: {tmp_path / 'missing.yaml'}: file not found\n"


def test_no_inventory_is_bad_input(monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("STACKDRILL_INVENTORY", raising=False)
    assert cli.main(["profile", "verify"]) == 2
    assert capsys.readouterr().err == ("stackdrill: error: profile verify needs an inventory: "
                                       "pass --inventory FILE or --lab\n")


def test_the_lab_not_up_is_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STACKDRILL_LAB_DIR", str(tmp_path))
    assert cli.main(["profile", "verify", "--lab"]) == 2
    err = capsys.readouterr().err
    assert err == (f"stackdrill: error: lab: no inventory at {tmp_path / 'inventory.yaml'}; the "
                   f"lab is not up (stackdrill lab up)\n")
