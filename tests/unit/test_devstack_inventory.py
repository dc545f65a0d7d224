"""``stackdrill inventory devstack`` turns DevStack's own variables (each node's host name,
address and ENABLED_SERVICES) into an inventory stackdrill loads: roles from the services, every
service a node runs declared with the devstack profile's unit, overrides where the node differs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stackdrill.cli import main
from stackdrill.inventory.devstack import HEADER, DevstackInventoryError, parse_node
from stackdrill.inventory.loader import load_inventory
from stackdrill.inventory.profiles import load_profile

# The controller of the devstack job (devstack_services of its .zuul.yaml), plus the plugin.
CONTROLLER = ("dstat,etcd3,memory_tracker,mysql,rabbit,tls-proxy,key,g-api,n-api,n-api-meta,"
              "n-cond,n-cpu,n-novnc,n-sch,placement-api,ovn-controller,ovn-northd,ovs-vswitchd,"
              "ovsdb-server,q-svc,q-ovn-metadata-agent,s-account,s-container,s-object,s-proxy,"
              "c-api,c-bak,c-sch,c-vol,stackdrill")
# Its subnodes' group-vars.
SUBNODE = ("dstat,memory_tracker,tls-proxy,n-cpu,placement-client,ovn-controller,ovs-vswitchd,"
           "ovsdb-server,q-ovn-metadata-agent,c-bak,c-vol")


def write(tmp_path: Path, *args: str) -> int:
    return main(["inventory", "devstack", "--ssh-key", str(tmp_path / "key"),
                 "--known-hosts", str(tmp_path / "known_hosts"), *args])


def test_a_single_node_becomes_a_controller_compute_and_storage(tmp_path: Path) -> None:
    output = tmp_path / "inventory.yaml"
    assert write(tmp_path, "--node", f"np0001,192.0.2.10,{CONTROLLER}",
                 "--output", str(output)) == 0
    assert output.read_text().startswith(HEADER + "\n")
    inventory = load_inventory(output)
    assert inventory.profile == "devstack"
    assert not inventory.production
    assert inventory.cloud == "devstack-admin"
    host = inventory.host("np0001")
    assert host.address == "192.0.2.10"
    assert host.roles == ("controller", "compute", "storage")
    assert host.ssh.user == "root"
    assert host.ssh.key == tmp_path / "key"
    assert inventory.service("nova-compute").unit == "devstack@n-cpu"
    assert inventory.service("neutron-api").unit == "devstack@neutron-api"
    assert inventory.service("nova-conductor").unit == "devstack@n-super-cond"
    assert inventory.service("nova-conductor-cell1").unit == "devstack@n-cond-cell1"
    assert inventory.service("rabbitmq").unit == "rabbitmq-server"
    assert inventory.service("mariadb").unit == "mysql"


def test_every_declared_unit_is_the_profiles(tmp_path: Path) -> None:
    output = tmp_path / "inventory.yaml"
    assert write(tmp_path, "--node", f"np0001,192.0.2.10,{CONTROLLER}",
                 "--output", str(output)) == 0
    profile = load_profile("devstack")
    for name, spec in load_inventory(output).services.items():
        assert spec.unit == profile.placement(name).unit, name


def test_a_controller_and_a_subnode(tmp_path: Path) -> None:
    output = tmp_path / "inventory.yaml"
    assert write(tmp_path, "--node", f"np0001,192.0.2.10,{CONTROLLER}",
                 "--node", f"np0002,192.0.2.11,{SUBNODE}", "--output", str(output)) == 0
    inventory = load_inventory(output)
    assert [h.name for h in inventory.with_role("compute")] == ["np0001", "np0002"]
    assert [h.name for h in inventory.with_role("controller")] == ["np0001"]
    assert inventory.host("np0002").roles == ("compute", "storage")


def test_units_where_the_node_differs_from_the_profile(tmp_path: Path) -> None:
    output = tmp_path / "inventory.yaml"
    assert write(tmp_path, "--node", f"rocky1,192.0.2.10,{CONTROLLER}",
                 "--unit", "mariadb=mariadb", "--unit", "ssh=sshd",
                 "--unit", "neutron-api=devstack@q-svc", "--output", str(output)) == 0
    inventory = load_inventory(output)
    assert inventory.service("mariadb").unit == "mariadb"
    assert inventory.service("ssh").unit == "sshd"
    assert inventory.service("neutron-api").unit == "devstack@q-svc"


def test_it_rewrites_its_own_file_but_never_a_hand_written_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "inventory.yaml"
    node = f"np0001,192.0.2.10,{CONTROLLER}"
    assert write(tmp_path, "--node", node, "--output", str(output)) == 0
    assert write(tmp_path, "--node", node.replace("192.0.2.10", "192.0.2.20"),
                 "--output", str(output)) == 0
    assert load_inventory(output).host("np0001").address == "192.0.2.20"
    output.write_text("hosts: {mine: {address: 192.0.2.1, roles: [compute]}}\n")
    capsys.readouterr()
    assert write(tmp_path, "--node", node, "--output", str(output)) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "was not written by stackdrill inventory devstack; not overwritten" in error
    assert "mine" in output.read_text()


def test_standard_output_without_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert write(tmp_path, "--node", "np0001,192.0.2.10,n-cpu") == 0
    text = capsys.readouterr().out
    data = yaml.safe_load(text)
    assert data["hosts"] == {"np0001": {"address": "192.0.2.10", "roles": ["compute"]}}
    assert data["services"] == {"nova-compute": {"unit": "devstack@n-cpu"}}


@pytest.mark.parametrize(("node", "message"), [
    ("np0001", "no address after the name"),
    ("np 1,192.0.2.1,n-cpu", "expected NAME,ADDRESS,SERVICES"),
    ("np0001,192.0.2.1,dstat,tempest", "none of its DevStack services gives it a role"),
])
def test_a_bad_node_is_refused_in_one_line(tmp_path: Path, node: str, message: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert write(tmp_path, "--node", node) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error and "Traceback" not in error
    with pytest.raises(DevstackInventoryError, match=message):
        parse_node(node)


def test_a_bad_unit_and_a_repeated_node_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert write(tmp_path, "--node", "np0001,192.0.2.10,n-cpu", "--unit", "mariadb") == 2
    assert "expected SERVICE=UNIT" in capsys.readouterr().err
    assert write(tmp_path, "--node", "np0001,192.0.2.10,n-cpu",
                 "--node", "np0001,192.0.2.11,n-cpu") == 2
    assert "np0001: given twice" in capsys.readouterr().err
