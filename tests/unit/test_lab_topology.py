"""The lab's topologies: ``single`` (one controller, the default) and ``ha`` (three controllers
behind a keepalived VIP, with Galera, a RabbitMQ cluster and HAProxy on each). What ``lab up``
writes for each, the topology it records and what reads it back, the refusal of a lab of
another topology, and the clusters formed on the booted hosts (their commands against fake
hosts). The HA lab itself is tested by tests/lab/test_ha_lab.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from stackdrill import cli
from stackdrill.engine.guards import Guards
from stackdrill.inventory.loader import load_inventory
from stackdrill.lab import lab as lab_module
from stackdrill.lab import rootfs
from stackdrill.lab import status as lab_status
from stackdrill.lab.cloud import clusters, configs, ha_configs, swift
from stackdrill.lab.cloud.bootstrap import configure
from stackdrill.lab.cloud.layout import CATALOG, KEYSTONE_URL, transport_url
from stackdrill.lab.cloud.naming import PACKAGES, lab_naming
from stackdrill.lab.cloud.secrets import NAMES, LabSecrets
from stackdrill.lab.lab import Lab
from stackdrill.lab.power import LabPower
from stackdrill.lab.supervisor import nspawn_argv
from stackdrill.lab.system import LabError
from stackdrill.lab.topology import (
    API_ADDRESS,
    HA,
    SINGLE,
    LabPaths,
    Topology,
    TopologyError,
    record_topology,
    recorded_topology,
    topology_named,
)

SECRETS = LabSecrets({name: f"pw-{name}" for name in NAMES})
ROOT = Path(__file__).resolve().parents[2]
CONTROLLERS = ("controller1", "controller2", "controller3")


def ha_controller_files(name: str = "controller2") -> dict[str, str]:
    return configs.controller_files(HA.host(name), SECRETS, PACKAGES, HA)


# -- the topologies ----------------------------------------------------------------------------
def test_the_single_topology_is_one_controller_at_the_api_address() -> None:
    assert [(h.name, h.address) for h in SINGLE.hosts] == [
        ("controller", "172.31.77.10"), ("compute1", "172.31.77.11"),
        ("compute2", "172.31.77.12"), ("storage1", "172.31.77.21"),
        ("storage2", "172.31.77.22")]
    assert SINGLE.first_controller.address == API_ADDRESS
    assert not SINGLE.clustered


def test_ha_has_three_controllers_and_a_vip_no_host_holds_as_its_own() -> None:
    assert [(h.name, h.address) for h in HA.controllers] == [
        ("controller1", "172.31.77.31"), ("controller2", "172.31.77.32"),
        ("controller3", "172.31.77.33")]
    assert [h.name for h in HA.hosts[3:]] == [h.name for h in SINGLE.hosts[1:]]
    assert HA.clustered and HA.first_controller.name == "controller1"
    assert API_ADDRESS == "172.31.77.10"
    assert API_ADDRESS not in {h.address for h in HA.hosts}


def test_every_catalog_endpoint_is_the_api_address_under_both_topologies() -> None:
    assert KEYSTONE_URL == "http://172.31.77.10:5000/v3"
    for _, _, url in (*CATALOG, swift.CATALOG_ENTRY):
        assert url.startswith("http://172.31.77.10:"), url


def test_an_unknown_topology_is_bad_input() -> None:
    assert topology_named("ha") is HA
    with pytest.raises(TopologyError, match="expected one of single, ha"):
        topology_named("triple")


# -- what the HA controllers run ---------------------------------------------------------------
def test_galera_binds_each_node_to_its_own_address_in_one_cluster_of_three() -> None:
    cnf = ha_controller_files()["/etc/mysql/mariadb.conf.d/99-stackdrill.cnf"]
    assert "bind-address = 172.31.77.32\n" in cnf
    assert "wsrep_provider = /usr/lib/galera/libgalera_smm.so\n" in cnf
    assert "wsrep_cluster_address = gcomm://172.31.77.31,172.31.77.32,172.31.77.33\n" in cnf
    assert "wsrep_sst_method = rsync\n" in cnf
    assert "wsrep_node_address = 172.31.77.32\n" in cnf


def test_messaging_lists_every_node_with_quorum_queues_and_pause_minority() -> None:
    files = ha_controller_files()
    url = transport_url(HA, "pw-rabbit")
    assert url == ("rabbit://openstack:pw-rabbit@172.31.77.31:5672,openstack:pw-rabbit@"
                   "172.31.77.32:5672,openstack:pw-rabbit@172.31.77.33:5672/")
    assert transport_url(SINGLE, "pw") == "rabbit://openstack:pw@172.31.77.10:5672/"
    compute = configs.compute_files(HA.host("compute1"), SECRETS, PACKAGES, HA)
    storage = configs.block_storage_files(HA.host("storage1"), SECRETS, PACKAGES, HA)
    for text in (files["/etc/nova/nova.conf"], files["/etc/cinder/cinder.conf"],
                 files["/etc/neutron/neutron.conf"], compute["/etc/nova/nova.conf"],
                 storage["/etc/cinder/cinder.conf"]):
        assert f"transport_url = {url}\n" in text
        assert "[oslo_messaging_rabbit]\nrabbit_quorum_queue = true\n" in text
    single = configs.controller_files(SINGLE.host("controller"), SECRETS)
    assert "rabbit_quorum_queue" not in single["/etc/nova/nova.conf"]
    assert "cluster_partition_handling = pause_minority" in files["/etc/rabbitmq/rabbitmq.conf"]


def test_caches_list_every_controllers_memcached() -> None:
    files = ha_controller_files()
    servers = "172.31.77.31:11211,172.31.77.32:11211,172.31.77.33:11211"
    assert f"memcached_servers = {servers}\n" in files["/etc/nova/nova.conf"]
    assert ("[cache]\nenabled = true\nbackend = oslo_cache.memcache_pool\n"
            f"memcache_servers = {servers}\n") in files["/etc/keystone/keystone.conf"]
    assert "-l 172.31.77.32\n" in files["/etc/memcached.conf"]
    proxy = swift.proxy_files(SECRETS, PACKAGES, HA, HA.host("controller2"))
    assert f"memcache_servers = {servers}\n" in proxy["/etc/swift/proxy-server.conf"]
    assert "bind_ip = 172.31.77.32\n" in proxy["/etc/swift/proxy-server.conf"]


def test_each_api_listens_on_its_controllers_own_address_with_one_worker() -> None:
    unit = ha_controller_files()["/etc/systemd/system/nova-api.service"]
    assert "--workers 1 --bind 172.31.77.32:8774 " in unit
    single = configs.controller_files(SINGLE.host("controller"), SECRETS)
    assert "--workers 2 --bind 0.0.0.0:8774 " in single["/etc/systemd/system/nova-api.service"]
    nova = ha_controller_files()["/etc/nova/nova.conf"]
    assert "[conductor]\nworkers = 1\n" in nova and "[scheduler]\nworkers = 1\n" in nova


def test_haproxy_balances_each_api_and_keeps_one_active_database() -> None:
    cfg = ha_controller_files()["/etc/haproxy/haproxy.cfg"]
    assert "stats socket /run/haproxy/admin.sock mode 660 level admin\n" in cfg
    for port in (5000, 8778, 9292, 8774, 8776, 9696, 8080):
        block = cfg.split(f"    bind 172.31.77.10:{port}\n")[1].split("\nlisten")[0]
        assert "option httpchk GET /" in block
        assert all(f"server {h.name} {h.address}:{port} check\n" in block for h in HA.controllers)
    database = cfg.split("listen mariadb\n")[1]
    assert "bind 172.31.77.10:3306\n" in database and "mode tcp\n" in database
    assert "server controller1 172.31.77.31:3306 check\n" in database
    assert "server controller2 172.31.77.32:3306 check backup\n" in database
    assert "server controller3 172.31.77.33:3306 check backup\n" in database
    assert f"option mysql-check user {ha_configs.HAPROXY_CHECK_USER}" in database


def test_keepalived_moves_the_vip_when_haproxy_is_gone() -> None:
    conf = ha_controller_files("controller3")["/etc/keepalived/keepalived.conf"]
    assert "unicast_src_ip 172.31.77.33\n" in conf
    assert "unicast_peer {\n        172.31.77.31\n        172.31.77.32\n    }" in conf
    assert 'script "/usr/bin/killall -0 haproxy"' in conf
    assert "track_script {\n        haproxy_running\n        peer_reachable\n    }" in conf
    assert "172.31.77.10/24 dev eth0" in conf
    assert "priority 130\n" in conf
    assert "priority 150\n" in ha_controller_files("controller1")[
        "/etc/keepalived/keepalived.conf"]


def _peer_check(tmp_path: Path, peers: str, port: int) -> subprocess.CompletedProcess[str]:
    script = ha_controller_files("controller1")[ha_configs.PEER_CHECK]
    assert "for peer in 172.31.77.32 172.31.77.33; do" in script
    script = script.replace("172.31.77.32 172.31.77.33", peers).replace(
        f"/{ha_configs.PEER_CHECK_PORT}\"", f"/{port}\"")
    path = tmp_path / "peer_reachable"
    path.write_text(script)
    return subprocess.run(["bash", str(path)], capture_output=True, text=True, timeout=10,
                          check=False)


def test_the_vip_check_passes_while_one_peer_answers_and_fails_when_none_does(
        tmp_path: Path) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert _peer_check(tmp_path, "192.0.2.1 127.0.0.1", port).returncode == 0
        server.close()
        assert _peer_check(tmp_path, "192.0.2.1 127.0.0.1", port).returncode == 1


def test_the_single_controller_runs_no_front_end() -> None:
    files = configs.controller_files(SINGLE.host("controller"), SECRETS)
    assert not any(path.startswith(("/etc/haproxy", "/etc/keepalived")) for path in files)
    assert "wsrep" not in files["/etc/mysql/mariadb.conf.d/99-stackdrill.cnf"]
    assert ("[cache]\nenabled = true\nbackend = oslo_cache.memcache_pool\n"
            "memcache_servers = 172.31.77.10:11211\n") in files["/etc/keystone/keystone.conf"]


def test_configure_writes_one_erlang_cookie_on_every_ha_controller(tmp_path: Path) -> None:
    paths = LabPaths(tmp_path)
    venv_etc = Path("/opt/stackdrill-lab/openstack/etc")
    if not (venv_etc / "nova/api-paste.ini").exists():
        pytest.skip("the lab's OpenStack virtualenv is not installed")
    for host in HA.hosts:
        etc = paths.merged(host.name) / "etc"
        etc.mkdir(parents=True)
        (etc / "passwd").write_text(f"rabbitmq:x:{os.getuid()}:{os.getgid()}::/:/bin/false\n")
    configure(paths, SECRETS, PACKAGES, HA)
    for name in CONTROLLERS:
        root = paths.merged(name)
        cookie = root / "var/lib/rabbitmq/.erlang.cookie"
        assert cookie.read_text() == "pw-erlang_cookie"
        assert cookie.stat().st_mode & 0o777 == 0o400
        assert (root / "etc/rabbitmq/rabbitmq.conf").stat().st_mode & 0o777 == 0o644
        assert (root / "etc/keepalived/keepalived.conf").stat().st_mode & 0o777 == 0o640
        assert (root / "etc/keepalived/peer_reachable").stat().st_mode & 0o777 == 0o755
    assert not (paths.merged("compute1") / "var/lib/rabbitmq").exists()


def test_only_ha_controllers_keep_the_front_end_and_hold_mariadb_at_first_boot() -> None:
    kept = rootfs._kept_units(HA.host("controller1"), HA)
    assert {"haproxy.service", "keepalived.service", "mariadb.service"} <= kept
    for topology, name in ((SINGLE, "controller"), (HA, "compute1"), (HA, "storage1")):
        others = rootfs._kept_units(topology.host(name), topology)
        assert not {"haproxy.service", "keepalived.service"} & others, name
    assert rootfs.HA_HELD_AT_FIRST_BOOT == ("mariadb.service",)


def test_a_held_unit_is_disabled_not_masked(tmp_path: Path) -> None:
    wants = tmp_path / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True)
    (wants / "mariadb.service").symlink_to("/lib/systemd/system/mariadb.service")
    (wants / "ssh.service").symlink_to("/lib/systemd/system/ssh.service")
    rootfs._disable(tmp_path, "mariadb.service")
    assert sorted(p.name for p in wants.iterdir()) == ["ssh.service"]
    assert not (tmp_path / "etc/systemd/system/mariadb.service").exists()


def test_lab_status_expects_the_front_end_on_ha_controllers_only() -> None:
    ha = lab_status.expected_units(HA.host("controller2"), PACKAGES, cloud=True, topology=HA)
    single = lab_status.expected_units(SINGLE.host("controller"), PACKAGES, cloud=True)
    assert {"haproxy", "keepalived", "mariadb", "rabbitmq-server"} <= set(ha)
    assert not {"haproxy", "keepalived"} & set(single)


# -- the inventory and the record --------------------------------------------------------------
def test_the_ha_inventory_names_the_clusters_for_the_quorum_guard(tmp_path: Path) -> None:
    LabSecrets.load_or_create(tmp_path / "secrets.json")
    Lab(LabPaths(tmp_path), lab_naming("packages"), HA).write_inventory(cloud=True)
    inventory = load_inventory(tmp_path / "inventory.yaml")
    assert sorted(inventory.hosts) == sorted(h.name for h in HA.hosts)
    assert dict(inventory.clusters) == {"galera": CONTROLLERS, "rabbitmq": CONTROLLERS}
    assert Guards.for_inventory(inventory).clusters["galera"] == frozenset(CONTROLLERS)
    assert inventory.service("haproxy").unit == "haproxy"
    assert inventory.service("keepalived").unit == "keepalived"
    vips = getattr(inventory, "vips", {})
    if vips:
        assert (vips["api"].address, vips["api"].hosts) == (API_ADDRESS, CONTROLLERS)
    assert "&id" not in (tmp_path / "inventory.yaml").read_text()  # no YAML aliases


def test_the_single_inventory_names_no_cluster(tmp_path: Path) -> None:
    LabSecrets.load_or_create(tmp_path / "secrets.json")
    Lab(LabPaths(tmp_path)).write_inventory(cloud=True)
    data = yaml.safe_load((tmp_path / "inventory.yaml").read_text())
    assert "clusters" not in data and "vips" not in data
    assert "haproxy" not in data["services"]
    # Tempest is told what it cannot ask Cinder: the lab's driver snapshots and clones
    inventory = load_inventory(tmp_path / "inventory.yaml")
    assert (inventory.tempest.snapshots, inventory.tempest.clones) == (True, True)


def test_the_recorded_topology_is_read_back_by_the_lab_power_and_nspawn(tmp_path: Path) -> None:
    paths = LabPaths(tmp_path)
    assert recorded_topology(paths) is None
    assert Lab(paths).topology is SINGLE
    record_topology(paths, HA)
    assert recorded_topology(paths) is HA
    assert Lab(paths).topology is HA
    assert [s.name for s in Lab(paths).status()][:3] == list(CONTROLLERS)
    power = LabPower(paths)
    assert not power.is_on("controller2")
    with pytest.raises(LabError, match="no lab host named 'controller'"):
        power.is_on("controller")
    assert "--network-namespace-path=/run/netns/sdlab-controller3" in nspawn_argv(
        paths, "controller3")


def test_an_old_labs_inventory_without_a_record_is_single(tmp_path: Path) -> None:
    paths = LabPaths(tmp_path)
    paths.inventory.write_text("hosts: {}\n")
    assert recorded_topology(paths) is SINGLE


def refuse_to_touch_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the refusal, up would tear down the machine's lab bridge and namespaces."""
    def touched(*_: object, **__: object) -> None:
        raise AssertionError("lab up went past the refusal")

    for name in ("_preflight", "down", "_build_hosts"):
        monkeypatch.setattr(Lab, name, touched)


@pytest.mark.parametrize(("built", "asked"), [(SINGLE, "ha"), (HA, None)])
def test_lab_up_of_another_topology_is_one_line_and_exit_2(
        built: Topology, asked: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    refuse_to_touch_the_machine(monkeypatch)
    monkeypatch.setenv("STACKDRILL_LAB_DIR", str(tmp_path))
    record_topology(LabPaths(tmp_path), built)
    code = cli.main(["lab", "up", *(["--topology", asked] if asked else [])])
    err = capsys.readouterr().err
    assert code == cli.EXIT_BAD_INPUT
    wanted = asked or "single"
    assert err == (f"stackdrill: error: the lab under {tmp_path} is up with topology "
                   f"{built.name}, not {wanted}: lab down first (stackdrill lab down)\n")
    assert recorded_topology(LabPaths(tmp_path)) is built


def test_topology_is_an_option_of_lab_up_only(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "STACKDRILL_LAB_DIR": str(tmp_path)}

    def stackdrill(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "stackdrill.cli", *args], env=env,
                              capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)

    status = stackdrill("lab", "status", "--topology", "ha")
    assert (status.returncode, status.stderr) == (2, "stackdrill: error: lab status: "
                                                  "--topology is for lab up (the lab's own is "
                                                  "recorded)\n")
    bogus = stackdrill("lab", "up", "--topology", "triple")
    assert bogus.returncode == 2
    assert bogus.stderr.startswith("stackdrill: error: argument --topology: invalid choice")


# -- forming the clusters on fake hosts --------------------------------------------------------
class FakeControllers:
    """Answers the commands forming the clusters as three booted controllers would, keeping the
    order they came in."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, str]] = []
        self.galera: dict[str, str] = {}  # host -> its state, once its MariaDB runs
        self.rabbit = {name: [f"rabbit@{name}"] for name in CONTROLLERS}

    def run(self, host: str, command: str, timeout: float = 0.0) -> str:
        self.commands.append((host, command))
        if command.startswith("galera_new_cluster"):
            self.galera[host] = "Synced"
        elif "systemctl start --no-block mariadb" in command:
            self.galera[host] = "Joining"
        elif command.startswith("mysql "):
            return self._wsrep(host)
        elif "join_cluster rabbit@controller1" in command:
            for name in (host, "controller1"):
                self.rabbit[name] = sorted({*self.rabbit["controller1"], f"rabbit@{host}"})
        elif "cluster_status" in command:
            return json.dumps({"running_nodes": self.rabbit[host]})
        return ""

    def _wsrep(self, host: str) -> str:
        if host not in self.galera:
            raise LabError(f"{host}: mysql: Can't connect to local server")
        if self.galera[host] == "Joining":  # the state transfer ends at its next look
            self.galera[host] = "Synced"
            return "wsrep_local_state_comment\tJoiner\n"
        size = len(self.galera)
        return (f"wsrep_cluster_size\t{size}\nwsrep_cluster_status\tPrimary\n"
                f"wsrep_local_state_comment\t{self.galera[host]}\n")

    def first(self, predicate: Callable[[str, str], bool]) -> int:
        return next(i for i, (host, cmd) in enumerate(self.commands) if predicate(host, cmd))


def test_galera_is_bootstrapped_on_the_first_controller_then_joined() -> None:
    fake, said = FakeControllers(), []
    clusters.form_galera(fake.run, HA.controllers, said.append, timeout=30)
    bootstrap = fake.first(lambda h, c: c.startswith("galera_new_cluster"))
    assert fake.commands[bootstrap][0] == "controller1"
    for name in ("controller2", "controller3"):
        joined = fake.first(lambda h, c, name=name: h == name and "start --no-block" in c)
        assert joined > bootstrap
    assert said == ["lab cloud: Galera cluster of 3 formed"]
    assert all(state == "Synced" for state in fake.galera.values())


def test_rabbitmq_nodes_join_the_first_ones_cluster() -> None:
    fake, said = FakeControllers(), []
    clusters.form_rabbitmq(fake.run, HA.controllers, said.append, timeout=30)
    joins = [(h, c) for h, c in fake.commands if "join_cluster" in c]
    assert [h for h, _ in joins] == ["controller2", "controller3"]
    assert all(c == "rabbitmqctl -q stop_app && rabbitmqctl -q reset && rabbitmqctl -q "
                    "join_cluster rabbit@controller1 && rabbitmqctl -q start_app"
               for _, c in joins)
    assert fake.rabbit["controller1"] == [f"rabbit@{name}" for name in CONTROLLERS]
    assert said == ["lab cloud: RabbitMQ cluster of 3 formed"]


def test_keystone_keys_are_made_once_and_copied(tmp_path: Path) -> None:
    paths = LabPaths(tmp_path)
    for directory in clusters.KEY_DIRS:
        keys = paths.merged("controller1") / directory.lstrip("/")
        keys.mkdir(parents=True)
        (keys / "0").write_text(f"key of {directory}")
    stale = paths.merged("controller3") / "etc/keystone/fernet-keys/1"
    stale.parent.mkdir(parents=True)
    stale.write_text("another")
    clusters.copy_keystone_keys(paths, HA.controllers)
    for name in ("controller2", "controller3"):
        for directory in clusters.KEY_DIRS:
            copied = paths.merged(name) / directory.lstrip("/")
            assert sorted(p.name for p in copied.iterdir()) == ["0"]
            assert (copied / "0").read_text() == f"key of {directory}"


# -- lab status on the HA topology ---------------------------------------------------------------
def whole() -> lab_status.ClusterState:
    wsrep = {"wsrep_cluster_size": "3", "wsrep_cluster_status": "Primary",
             "wsrep_local_state_comment": "Synced"}
    nodes = [f"rabbit@{name}" for name in CONTROLLERS]
    return lab_status.ClusterState(galera={name: wsrep for name in CONTROLLERS},
                                   rabbitmq={name: nodes for name in CONTROLLERS},
                                   vip_holders=["controller1"])


def test_whole_clusters_and_one_vip_holder_are_no_problem() -> None:
    assert lab_status.cluster_problems(whole()) == []
    assert lab_status.cluster_summary(whole()) == (
        "clusters: Galera 3 of 3 Synced, RabbitMQ 3 nodes running, VIP on controller1")


def test_a_broken_cluster_or_vip_is_one_line_each() -> None:
    state = whole()
    galera = dict(state.galera)
    galera["controller3"] = {"wsrep_cluster_size": "1", "wsrep_cluster_status": "non-Primary",
                             "wsrep_local_state_comment": "Initialized"}
    galera["controller2"] = {}
    rabbitmq = dict(state.rabbitmq)
    rabbitmq["controller3"] = ["rabbit@controller3"]
    rabbitmq["controller2"] = []
    broken = lab_status.ClusterState(galera, rabbitmq, ["controller1", "controller2"])
    assert lab_status.cluster_problems(broken) == [
        "controller2: Galera not answering",
        "controller3: Galera Initialized in a non-Primary component of 1, not Synced in one "
        "of 3",
        "controller2: RabbitMQ not answering (rabbitmqctl cluster_status)",
        "controller3: RabbitMQ sees rabbit@controller3 running, not rabbit@controller1, "
        "rabbit@controller2, rabbit@controller3",
        "VIP held by controller1, controller2, not exactly one"]


def test_lab_status_asks_each_ha_controller_for_its_clusters(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    LabSecrets.load_or_create(tmp_path / "secrets.json")
    lab = Lab(LabPaths(tmp_path), lab_naming("packages"), HA)
    record_topology(lab.paths, HA)
    lab.write_inventory(cloud=True)
    fake = FakeControllers()
    for name in CONTROLLERS:
        fake.galera[name] = "Synced"
    fake.rabbit = {name: [f"rabbit@{c}" for c in CONTROLLERS] for name in CONTROLLERS}

    def in_host(self: Lab, name: str, command: str, **_: object
                ) -> subprocess.CompletedProcess[str]:
        if command.startswith("ip -4"):
            holds = name == "controller2"
            return subprocess.CompletedProcess([], 0, f"2: eth0 inet {API_ADDRESS}/24 x\n"
                                               if holds else "", "")
        if command.startswith("systemctl is-active"):
            return subprocess.CompletedProcess([], 0, "active\n" * command.count(" "), "")
        return subprocess.CompletedProcess([], 0, fake.run(name, command), "")

    monkeypatch.setattr(Lab, "in_host", in_host)
    hosts = [lab_module.HostStatus(h.name, h.address, h.roles, True, 1, True)
             for h in HA.hosts]
    report = Lab(LabPaths(tmp_path)).report(hosts, connect=lambda path: FakeNoCloud())
    assert "clusters: Galera 3 of 3 Synced, RabbitMQ 3 nodes running, VIP on controller2" in \
        report.summary
    assert not any("Galera" in p or "RabbitMQ" in p or "VIP" in p for p in report.problems)


class FakeNoCloud:
    def authorize(self) -> str:
        raise RuntimeError("no cloud here")

    def close(self) -> None:
        return None


def test_the_bootstrap_waits_until_haproxy_passes_the_database_and_keystone() -> None:
    """HAProxy marks a server up only after its checks pass: until then the VIP refuses."""
    asked: list[tuple[str, str]] = []

    def run(host: str, command: str, timeout: float = 0.0) -> str:
        asked.append((host, command))
        if len(asked) % 3:  # two refusals, then an answer
            raise LabError(f"{host}: 503 Service Unavailable")
        return "1\n"

    clusters.wait_database_behind_vip(run, "controller1", "keystone", "pw word", timeout=30)
    assert len(asked) == 3
    assert asked[-1] == ("controller1", "MYSQL_PWD='pw word' mysql -N -B -h 172.31.77.10 -u "
                                        "keystone -e 'SELECT 1'")
    clusters.wait_url_behind_vip(run, "controller1", KEYSTONE_URL, timeout=30)
    assert asked[-1] == ("controller1", "curl -fsS -o /dev/null -m 5 "
                                        "http://172.31.77.10:5000/v3")
