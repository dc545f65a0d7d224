"""``stackdrill inventory import`` of OpenStack-Ansible's generated ``openstack_inventory.json``
with the operator's ``openstack_user_config.yml``: the physical hosts, their roles, the services
this deployment places otherwise than the profile (metal, containers), the clusters; and the
service handle reaching each service where the import says it runs.

The fixtures in ``tests/unit/data/openstack_deploy/`` are in OpenStack-Ansible's own formats: a
recent release's cloud of three infrastructure hosts, two computes and one storage host, with
ovn-northd on the infrastructure hosts' metal and cinder-volume in LXC containers."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackdrill.cli import main
from stackdrill.engine.guards import Guards
from stackdrill.engine.plan import dry_run_target
from stackdrill.hosts.service_commands import find_lxc_container, parse_lxc_ls
from stackdrill.inventory.importer import InventoryImportError, import_inventory
from stackdrill.inventory.loader import load_inventory

DEPLOY = Path(__file__).parent / "data" / "openstack_deploy"
INVENTORY = DEPLOY / "openstack_inventory.json"
USER_CONFIG = DEPLOY / "openstack_user_config.yml"
INFRA = ["infra1", "infra2", "infra3"]


def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(INVENTORY.read_text())
    return data


def _write(tmp_path: Path, data: dict[str, Any], config: str | None = None) -> Path:
    """An /etc/openstack_deploy of our own: the inventory, and the user config beside it."""
    path = tmp_path / "openstack_inventory.json"
    path.write_text(json.dumps(data, indent=4, sort_keys=True))
    (tmp_path / "openstack_user_config.yml").write_text(config or USER_CONFIG.read_text())
    return path


def _containers(data: dict[str, Any], component: str) -> list[str]:
    return list(data[component]["hosts"])


def _without(data: dict[str, Any], containers: list[str]) -> dict[str, Any]:
    """``data`` without ``containers``, in its host variables and in every group."""
    data = copy.deepcopy(data)
    for container in containers:
        del data["_meta"]["hostvars"][container]
        for group in data.values():
            if isinstance(group, dict) and container in group.get("hosts", []):
                group["hosts"].remove(container)
    return data


def _to_metal(data: dict[str, Any], component: str, hosts: list[str]) -> dict[str, Any]:
    """``data`` with ``component``'s containers replaced by the physical hosts, as
    OpenStack-Ansible lays out a container group marked ``is_metal: true``."""
    data = _without(data, _containers(data, component))
    data[component]["hosts"] = list(hosts)
    return data


def test_the_physical_hosts_their_roles_services_and_clusters() -> None:
    conversion = import_inventory(INVENTORY)
    data = conversion.data
    assert data["profile"] == "openstack-ansible"
    assert data["production"] is False
    hosts = data["hosts"]
    assert sorted(hosts) == ["compute1", "compute2", "infra1", "infra2", "infra3", "storage1"]
    # physical hosts only: no container is a host of the stackdrill inventory
    assert not [name for name in hosts if "container" in name]
    assert hosts["infra1"] == {"address": "172.29.236.11",
                               "roles": ["controller", "database", "messaging"]}
    assert hosts["compute2"] == {"address": "172.29.236.22", "roles": ["compute"]}
    assert hosts["storage1"] == {"address": "172.29.236.31", "roles": ["block-storage"]}
    # ovn-northd runs on the infrastructure hosts' metal, cinder-volume in LXC containers; every
    # other service where the openstack-ansible profile places it
    assert data["services"] == {
        "cinder-volume": {"container": "cinder_volumes_container", "runtime": "lxc"},
        "ovn-northd": {"unit": "ovn-northd"},
    }
    assert data["clusters"] == {"galera": INFRA, "rabbitmq": INFRA}
    assert conversion.skipped == []
    assert conversion.notes == []
    assert conversion.sources == (str(INVENTORY), str(USER_CONFIG))


def test_the_cli_writes_an_inventory_the_service_handle_reaches(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "inventory.yaml"
    assert main(["inventory", "import", str(INVENTORY), "--user-config", str(USER_CONFIG),
                 "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"inventory: {out} (6 hosts)\n"
    assert captured.err == ""
    assert out.read_text().startswith(f"# Imported from {INVENTORY} and {USER_CONFIG} by ")
    inventory = load_inventory(out)
    assert inventory.profile == "openstack-ansible"
    assert inventory.clusters == {"galera": tuple(INFRA), "rabbitmq": tuple(INFRA)}
    assert [h.name for h in inventory.with_role("database")] == INFRA
    # the quorum guard keeps two of the three Galera members up, whatever the role limits say
    guards = Guards.for_inventory(inventory, limits={role: 3 for role in
                                                     ("controller", "database", "messaging")})
    infra1, infra2 = inventory.host("infra1"), inventory.host("infra2")
    assert guards.fault_refusal("kill_service", infra1, []) is None
    refusal = guards.fault_refusal("kill_service", infra2, [infra1])
    assert refusal is not None and "2 of the 3 members of cluster galera" in refusal

    data = _data()
    hostvars = data["_meta"]["hostvars"]

    def target(host: str) -> Any:
        """The host as a dry run sees it, with the LXC containers the inventory puts on it."""
        found = dry_run_target(inventory, host)
        names = [name for name, v in hostvars.items()
                 if v.get("physical_host") == host and name != host]
        lines = [f"{'NAME':<48} {'STATE':<7} {'IPV4':<15} IPV6"]
        lines += [f"{name:<48} {'RUNNING':<7} {hostvars[name]['ansible_host']:<15} -"
                  for name in names]
        found.__dict__["lxc_containers"] = parse_lxc_ls("\n".join(lines))
        return found

    galera = _containers(data, "galera")[0]
    rabbit = _containers(data, "rabbitmq")[0]
    volumes = _containers(data, "cinder_volume")[0]
    infra1, storage1, compute1 = target("infra1"), target("storage1"), target("compute1")
    assert infra1.service("mariadb").command("stop") == \
        f"lxc-attach -n {galera} -- systemctl stop mariadb"
    assert infra1.service("rabbitmq").command("start") == \
        f"lxc-attach -n {rabbit} -- systemctl start rabbitmq-server"
    assert infra1.service("ovn-northd").command("stop") == "systemctl stop ovn-northd"
    assert storage1.service("cinder-volume").command("restart") == \
        f"lxc-attach -n {volumes} -- systemctl restart cinder-volume"
    assert compute1.service("nova-compute").command("stop") == "systemctl stop nova-compute"


def test_the_user_config_is_read_beside_the_inventory_or_named(tmp_path: Path) -> None:
    moved = USER_CONFIG.read_text().replace("ip: 172.29.236.21", "ip: 192.0.2.21")
    moved = moved.replace("  compute2:\n    ip: 172.29.236.22\n",
                          "  compute2:\n    ip: 172.29.236.22\n    host_vars:\n"
                          "      ansible_user: ops\n      ansible_port: 2222\n")
    path = _write(tmp_path, _data(), moved)
    hosts = import_inventory(path).data["hosts"]
    # the operator's file is newer than the generated inventory: its ip is the SSH address
    assert hosts["compute1"]["address"] == "192.0.2.21"
    assert hosts["compute2"] == {"address": "172.29.236.22", "roles": ["compute"],
                                 "ssh": {"user": "ops", "port": 2222}}
    # named explicitly, the fixture's file wins over the one beside the inventory
    named = import_inventory(path, user_config=USER_CONFIG).data["hosts"]
    assert named["compute1"]["address"] == "172.29.236.21"


def test_without_a_user_config_the_hostvars_give_the_addresses(tmp_path: Path) -> None:
    path = tmp_path / "openstack_inventory.json"
    path.write_text(INVENTORY.read_text())
    conversion = import_inventory(path)
    assert conversion.sources == (str(path),)
    assert conversion.data["hosts"]["infra2"]["address"] == "172.29.236.12"
    assert conversion.data["hosts"]["storage1"]["address"] == "172.29.236.31"


def test_conf_d_adds_hosts_as_openstack_ansible_merges_it(tmp_path: Path) -> None:
    path = _write(tmp_path, _data())
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "swift.yml").write_text(
        "swift_hosts:\n  swift1:\n    ip: 172.29.236.41\n")
    (tmp_path / "conf.d" / "compute.yml").write_text(
        "compute_hosts:\n  compute3:\n    ip: 172.29.236.23\n")
    hosts = import_inventory(path).data["hosts"]
    assert hosts["swift1"] == {"address": "172.29.236.41", "roles": ["object-storage"]}
    assert hosts["compute3"] == {"address": "172.29.236.23", "roles": ["compute"]}
    assert "compute1" in hosts  # merged into compute_hosts, not replacing it


def test_a_control_plane_on_metal_runs_the_profiles_units_on_the_hosts(tmp_path: Path) -> None:
    data = _to_metal(_data(), "galera", INFRA)
    data = _to_metal(data, "keystone", INFRA)
    conversion = import_inventory(_write(tmp_path, data))
    services = conversion.data["services"]
    assert services["mariadb"] == {"unit": "mariadb"}
    assert services["keystone"] == {"unit": "keystone-wsgi-public"}
    assert "rabbitmq" not in services
    # the database group is the physical hosts themselves now: the cluster is unchanged
    assert conversion.data["clusters"]["galera"] == INFRA
    inventory = load_inventory(_inventory_file(tmp_path, conversion.data))
    infra2 = dry_run_target(inventory, "infra2")
    assert infra2.service("mariadb").command("stop") == "systemctl stop mariadb"


def _inventory_file(tmp_path: Path, data: dict[str, Any]) -> Path:
    out = tmp_path / "stackdrill.yaml"
    out.write_text(yaml.safe_dump(data))
    return out


def test_cinder_volume_on_metal_needs_no_services_entry(tmp_path: Path) -> None:
    data = _to_metal(_data(), "cinder_volume", ["storage1"])
    services = import_inventory(_write(tmp_path, data)).data["services"]
    assert services == {"ovn-northd": {"unit": "ovn-northd"}}


def test_a_service_on_metal_and_in_containers_is_left_to_the_profile_with_a_note(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _data()
    data["galera"]["hosts"].append("compute2")  # one more member, on a compute's metal
    path = _write(tmp_path, data)
    conversion = import_inventory(path)
    assert "mariadb" not in conversion.data.get("services", {})
    assert conversion.notes == [
        "mariadb runs on metal on compute2 and in LXC containers on infra1, infra2, infra3: left "
        "as profile openstack-ansible places it (unit mariadb in LXC container "
        "galera_container)"]
    assert conversion.data["clusters"]["galera"] == ["compute2", *INFRA]
    assert main(["inventory", "import", str(path)]) == 0
    assert "stackdrill: note: mariadb runs on metal on compute2" in capsys.readouterr().err


def test_containers_named_the_older_way_are_found_as_well(tmp_path: Path) -> None:
    """Older deployments keep their containers' names: infra1_galera_container-55baf836."""
    text = INVENTORY.read_text()
    old = re.sub(r"\b(infra\d|storage\d)-([a-z-]+)-container-([0-9a-f]{8})\b",
                 lambda m: f"{m[1]}_{m[2].replace('-', '_')}_container-{m[3]}", text)
    assert "infra1_galera_container-" in old and "infra1-galera-container" not in old
    path = tmp_path / "openstack_inventory.json"
    path.write_text(old)
    assert import_inventory(path, user_config=USER_CONFIG).data == \
        import_inventory(INVENTORY).data


@pytest.mark.parametrize(("names", "group", "found"), [
    (["infra1-galera-container-55baf836", "infra1-rabbit-mq-container-1f0c2d3e"],
     "galera_container", "infra1-galera-container-55baf836"),
    (["infra1_galera_container-3ea2f8c1"], "galera_container",
     "infra1_galera_container-3ea2f8c1"),
    (["storage1-cinder-volumes-container-66e66cc6"], "cinder_volumes_container",
     "storage1-cinder-volumes-container-66e66cc6"),
    (["os-infra-1_neutron_ovn_northd_container-24eea9c2"], "neutron_ovn_northd_container",
     "os-infra-1_neutron_ovn_northd_container-24eea9c2"),
])
def test_an_lxc_container_group_matches_either_naming(names: list[str], group: str,
                                                      found: str) -> None:
    listing = f"{'NAME':<52} STATE\n" + "".join(f"{name:<52} RUNNING\n" for name in names)
    assert find_lxc_container(parse_lxc_ls(listing), group) == found


def test_a_single_infrastructure_host_gives_no_cluster(tmp_path: Path) -> None:
    data = _data()
    others = [name for name in data["_meta"]["hostvars"]
              if name.startswith(("infra2-", "infra3-"))]
    data = _without(data, others)
    conversion = import_inventory(_write(tmp_path, data))
    assert conversion.data["hosts"]["infra1"]["roles"] == ["controller", "database", "messaging"]
    assert conversion.data["hosts"]["infra2"]["roles"] == ["controller"]
    assert "clusters" not in conversion.data


@pytest.mark.parametrize(("config", "message"), [
    ("compute_hosts:\n  compute1: {}\n", "compute_hosts.compute1: expected ip: <the host's "
                                          "address>"),
    ("compute_hosts: [compute1]\n", "compute_hosts: expected a mapping of host names"),
    ("- compute1\n", "expected a YAML mapping"),
    ("compute_hosts:\n  compute1:\n    ip: 10.0.0.1\n    host_vars: [a]\n",
     "compute_hosts.compute1.host_vars: expected a mapping"),
    ("compute_hosts: {compute1: {ip: 10.0.0.1}\n", "invalid YAML"),
])
def test_a_bad_user_config_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              config: str, message: str) -> None:
    path = _write(tmp_path, _data(), config)
    with pytest.raises(InventoryImportError, match=re.escape(message)):
        import_inventory(path)
    assert main(["inventory", "import", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("stackdrill: error: ") and message in err


@pytest.mark.parametrize(("text", "message"), [
    ('{"all": {"hosts": ["a"]', "line 1: invalid JSON"),
    ('{"_meta": {"hostvars": []}, "control": ["a"]}', "_meta.hostvars: expected an object"),
    ('{"control": {"hosts": "a"}}', "control.hosts: expected a list of names"),
    ('{"control": {"hostz": ["a"]}}', "control: unknown key 'hostz'"),
    ('{"control": 3}', "control: expected a list of hosts or a mapping"),
    ("[]", "expected a JSON object of groups"),
])
def test_a_bad_json_inventory_is_one_line_exit_2(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 text: str, message: str) -> None:
    path = tmp_path / "inventory.json"
    path.write_text(text)
    assert main(["inventory", "import", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_the_user_config_belongs_to_openstack_ansible_only(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "hosts.json"
    path.write_text('{"control": ["ctl1"]}')
    assert main(["inventory", "import", str(path), "--user-config", str(USER_CONFIG)]) == 2
    assert "--user-config goes with OpenStack-Ansible's openstack_inventory.json" in \
        capsys.readouterr().err
    empty = tmp_path / "deploy"
    empty.mkdir()
    missing = re.escape("no openstack_user_config.yml in this directory")
    with pytest.raises(InventoryImportError, match=missing):
        import_inventory(INVENTORY, user_config=empty)


def test_a_dynamic_inventorys_json_is_imported_with_its_clusters(tmp_path: Path) -> None:
    """``ansible-inventory --list`` of any inventory: groups with list-valued hosts and
    children, host variables under ``_meta.hostvars``."""
    listed = {
        "_meta": {"hostvars": {
            "db1": {"ansible_host": "10.0.0.11"}, "db2": {"ansible_host": "10.0.0.12"},
            "db3": {"ansible_host": "10.0.0.13", "ansible_user": "ops"},
            "cmp1": {"ansible_host": "10.0.0.21"}}},
        "all": {"children": ["ungrouped", "control", "compute"], "vars": {"ansible_port": 22}},
        "control": {"hosts": ["db1", "db2", "db3"]},
        "galera": {"children": ["control"]},
        "rabbitmq": ["db1"],
        "compute": {"hosts": ["cmp1"]},
    }
    path = tmp_path / "hosts.json"
    path.write_text(json.dumps(listed))
    conversion = import_inventory(path)
    assert conversion.data["profile"] == "packages"
    assert conversion.data["hosts"]["db3"] == {
        "address": "10.0.0.13", "roles": ["controller", "database"],
        "ssh": {"user": "ops", "port": 22}}
    assert conversion.data["hosts"]["db1"]["roles"] == ["controller", "database", "messaging"]
    # one RabbitMQ node: no cluster to keep a quorum of
    assert conversion.data["clusters"] == {"galera": ["db1", "db2", "db3"]}
