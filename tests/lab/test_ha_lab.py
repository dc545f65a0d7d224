"""The HA lab (``stackdrill lab up --topology ha``) is a production-shaped control plane: three
controllers in one Galera cluster (every node Synced) and one RabbitMQ cluster (every node
running, the RPC queues quorum queues), a VIP held by exactly one controller, HAProxy on each
controller with every backend up, the same Keystone keys on all three, every catalog endpoint
on the VIP, and the cloud answering through it: the openstack CLI lists servers and volumes,
and the canary servers boot. The inventory names the clusters for the quorum guard.

These run only against an HA lab: with any other lab (or none built) they are skipped, and they
never bring one up. The single topology's own tests are the rest of tests/lab."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import pytest

from stackdrill.cloud.canary import CanaryWorkload
from stackdrill.engine.guards import Guards
from stackdrill.inventory.loader import load_inventory
from stackdrill.lab.cloud.clusters import KEY_DIRS, synced, wsrep_status
from stackdrill.lab.cloud.ha_configs import HAPROXY_SOCKET
from stackdrill.lab.cloud.layout import VENV
from stackdrill.lab.lab import Lab
from stackdrill.lab.topology import API_ADDRESS, HA


@pytest.fixture(scope="module", autouse=True)
def ha_lab(lab: Lab) -> Lab:
    if lab.topology != HA or not lab.paths.inventory.exists():
        built = lab.topology.name if lab.paths.inventory.exists() else "none"
        pytest.skip(f"needs the HA lab up (stackdrill lab up --topology ha); the lab under "
                    f"{lab.paths.root}: {built}")
    return lab


def run(lab: Lab, host: str, command: str) -> str:
    result = lab.in_host(host, command, check=False, timeout=60)
    assert result.returncode == 0, f"{host}: {command}: {result.stderr or result.stdout}"
    return str(result.stdout)


CONTROLLERS = [host.name for host in HA.controllers]


def openstack(*args: str, cwd: Path) -> list[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    result = subprocess.run([str(VENV / "bin/openstack"), *args, "-f", "json"],
                            env={**env, "OS_CLOUD": "stackdrill-lab"}, cwd=cwd,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    found: list[dict[str, str]] = json.loads(result.stdout)
    return found


def test_every_galera_node_is_synced_in_one_primary_cluster_of_three(ha_lab: Lab) -> None:
    def sh(host: str, command: str, timeout: float = 20) -> str:
        return run(ha_lab, host, command)

    for name in CONTROLLERS:
        status = wsrep_status(sh, name)
        assert synced(status, 3), f"{name}: {status}"


def test_every_rabbitmq_node_runs_in_one_cluster_with_no_partition(ha_lab: Lab) -> None:
    expected = sorted(f"rabbit@{name}" for name in CONTROLLERS)
    for name in CONTROLLERS:
        status = json.loads(run(ha_lab, name, "rabbitmqctl -q cluster_status --formatter json"))
        assert sorted(status["running_nodes"]) == expected, name
        assert not status.get("partitions"), status.get("partitions")


def test_the_rpc_queues_are_quorum_queues_on_every_node(ha_lab: Lab) -> None:
    out = run(ha_lab, "controller1", "rabbitmqctl -q list_queues name type members "
                                     "--formatter json")
    queues = {q["name"]: q for q in json.loads(out)}
    for name in ("conductor", "scheduler", "cinder-scheduler", "compute.compute1"):
        assert queues[name]["type"] == "quorum", queues[name]
        assert sorted(queues[name]["members"]) == sorted(f"rabbit@{c}" for c in CONTROLLERS)


def vip_holders(lab: Lab) -> list[str]:
    return [name for name in CONTROLLERS
            if f" {API_ADDRESS}/" in run(lab, name, "ip -4 -o addr show dev eth0")]


def test_exactly_one_controller_holds_the_vip(ha_lab: Lab) -> None:
    assert len(vip_holders(ha_lab)) == 1


def test_every_haproxy_backend_is_up_on_every_controller(ha_lab: Lab) -> None:
    for name in CONTROLLERS:
        out = run(ha_lab, name, f"echo 'show stat' | socat stdio {HAPROXY_SOCKET}")
        rows = list(csv.DictReader(out.lstrip("# ").splitlines()))
        servers = [r for r in rows if r["svname"] not in ("FRONTEND", "BACKEND")]
        assert len(servers) == 8 * 3, [r["svname"] for r in servers]
        down = [f"{r['pxname']}/{r['svname']}: {r['status']}" for r in servers
                if not r["status"].startswith("UP")]
        assert down == [], f"{name}: {down}"
        database = [r["svname"] for r in servers if r["pxname"] == "mariadb" and
                    r["bck"] == "0"]
        assert database == ["controller1"]


def test_the_keystone_keys_are_the_same_on_every_controller(ha_lab: Lab) -> None:
    command = " && ".join(f"cat {directory}/*" for directory in KEY_DIRS)
    keys = {name: run(ha_lab, name, command) for name in CONTROLLERS}
    assert len(set(keys.values())) == 1


def test_every_api_runs_on_every_controller_on_its_own_address(ha_lab: Lab) -> None:
    for host in HA.controllers:
        listening = run(ha_lab, host.name, "ss -Hltn")
        for port in (5000, 8778, 9292, 8774, 8776, 9696, 8080):
            assert f"{host.address}:{port} " in listening, (host.name, port)
            assert f"{API_ADDRESS}:{port} " in listening, (host.name, port)  # HAProxy
        assert f"{host.address}:3306 " in listening


def test_the_catalog_is_the_vip_and_the_cli_works_through_it(ha_lab: Lab,
                                                              tmp_path: Path) -> None:
    endpoints = openstack("endpoint", "list", cwd=tmp_path)
    assert endpoints and all(f"//{API_ADDRESS}:" in e["URL"] for e in endpoints)
    openstack("server", "list", "--all-projects", cwd=tmp_path)
    openstack("volume", "list", "--all-projects", cwd=tmp_path)


def test_the_canary_servers_boot_through_the_vip(ha_lab: Lab, canaries: CanaryWorkload,
                                                 tmp_path: Path) -> None:
    servers = {s["ID"]: s["Status"] for s in openstack("server", "list", "--all-projects",
                                                         cwd=tmp_path)}
    assert canaries.servers
    for server_id in canaries.servers.values():
        assert servers[server_id] == "ACTIVE"


def test_the_inventory_names_the_clusters_for_the_quorum_guard(ha_lab: Lab) -> None:
    inventory = load_inventory(ha_lab.paths.inventory)
    assert dict(inventory.clusters) == {"galera": tuple(CONTROLLERS),
                                        "rabbitmq": tuple(CONTROLLERS)}
    guards = Guards.for_inventory(inventory)
    assert guards.clusters["galera"] == frozenset(CONTROLLERS)
