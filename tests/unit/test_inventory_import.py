from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stackdrill.cli import main
from stackdrill.inventory.importer import (
    InventoryImportError,
    expand_hosts,
    import_inventory,
)
from stackdrill.inventory.loader import load_inventory

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ansible"


def test_kolla_multinode(tmp_path: Path) -> None:
    conversion = import_inventory(FIXTURES / "multinode", profile="kolla")
    hosts = conversion.data["hosts"]
    assert sorted(hosts) == ["compute01", "compute02", "control01", "control02", "control03",
                             "network01", "storage01"]
    assert conversion.skipped == ["localhost", "monitoring01"]
    assert conversion.data["profile"] == "kolla"
    # kolla's service groups say where MariaDB and RabbitMQ run: [mariadb:children] control
    assert hosts["control01"] == {
        "address": "control01", "roles": ["controller", "network", "database", "messaging"],
        "ssh": {"user": "kolla", "key": "/home/kolla/.ssh/id_ed25519"}}
    assert hosts["network01"] == {"address": "10.0.0.21", "roles": ["network"],
                                  "ssh": {"user": "kolla"}}
    assert hosts["compute01"] == {"address": "10.0.0.31", "roles": ["compute"],
                                  "ssh": {"user": "stack", "port": 2222}}
    assert hosts["storage01"]["roles"] == ["storage", "block-storage"]


def test_cli_writes_a_valid_inventory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "inventory.yaml"
    code = main(["inventory", "import", str(FIXTURES / "multinode"), "--profile", "kolla",
                 "-o", str(out)])
    assert code == 0
    captured = capsys.readouterr()
    assert f"inventory: {out} (7 hosts)" in captured.out
    assert "skipped localhost" in captured.err
    inventory = load_inventory(out)
    assert inventory.profile == "kolla"
    assert [h.name for h in inventory.with_role("compute")] == ["compute01", "compute02"]
    assert inventory.host("compute01").ssh.port == 2222


def test_cli_prints_to_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", "import", str(FIXTURES / "devstack.ini"),
                 "--profile", "devstack"]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    assert data["profile"] == "devstack"
    assert data["hosts"]["devstack-controller"]["roles"] == ["controller"]
    assert data["hosts"]["devstack-compute1"] == {
        "address": "192.0.2.20", "roles": ["compute"], "ssh": {"user": "stack", "port": 22}}
    assert "devstack-compute2" in data["hosts"]


def test_openstack_ansible_yaml() -> None:
    conversion = import_inventory(FIXTURES / "openstack-ansible.yml",
                                  profile="openstack-ansible")
    hosts = conversion.data["hosts"]
    assert hosts["infra1"] == {"address": "172.29.236.11", "roles": ["controller"],
                               "ssh": {"user": "root"}}
    assert hosts["compute1"]["ssh"] == {"user": "root", "port": 2200,
                                        "key": "~/.ssh/osa_compute"}
    assert hosts["storage1"]["roles"] == ["block-storage"]
    assert conversion.skipped == ["logging1"]


def test_yaml_inventory_without_all(tmp_path: Path) -> None:
    source = tmp_path / "hosts.yaml"
    source.write_text("control:\n  hosts:\n    ctl1:\n  vars:\n    ansible_user: ops\n"
                      "compute:\n  hosts:\n    cmp[1:2]:\n      ansible_port: 2022\n")
    hosts = import_inventory(source).data["hosts"]
    assert hosts == {
        "cmp1": {"address": "cmp1", "roles": ["compute"], "ssh": {"port": 2022}},
        "cmp2": {"address": "cmp2", "roles": ["compute"], "ssh": {"port": 2022}},
        "ctl1": {"address": "ctl1", "roles": ["controller"], "ssh": {"user": "ops"}},
    }


@pytest.mark.parametrize(("pattern", "expected"), [
    ("control[01:03]", ["control01", "control02", "control03"]),
    ("node[1:3].example.org", ["node1.example.org", "node2.example.org", "node3.example.org"]),
    ("db-[a:c]", ["db-a", "db-b", "db-c"]),
    ("n[0:10:5]", ["n0", "n5", "n10"]),
    ("plain", ["plain"]),
])
def test_host_ranges(pattern: str, expected: list[str]) -> None:
    assert expand_hosts(pattern) == expected


@pytest.mark.parametrize(("text", "name", "message"), [
    ("[control\nctl1\n", "bad.ini", "line 1: bad section header '[control'"),
    ("[control]\nctl1 ansible_user\n", "bad.ini", "line 2: expected key=value, got 'ansible_user'"),
    ("[control]\nctl1 ansible_port=ssh\n", "bad.ini",
     "host ctl1: ansible_port: expected a port number, got 'ssh'"),
    ("[monitoring]\nmon1\n", "bad.ini", "no host is in a group stackdrill maps to a role"),
    ("all:\n  hosts: [a, b]\n", "bad.yaml", "all.hosts: expected a mapping"),
    ("all:\n  childs: {}\n", "bad.yaml", "unknown key 'childs'"),
    ("all: {hosts: {a: 1}\n", "bad.yaml", "invalid YAML"),
    ("- a\n- b\n", "bad.yaml", "expected a YAML mapping of groups"),
    ("[control]\nctl[1:x]\n", "bad.ini", "bad host range [1:x]"),
])
def test_bad_files_are_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       text: str, name: str, message: str) -> None:
    source = tmp_path / name
    source.write_text(text)
    with pytest.raises(InventoryImportError) as info:
        import_inventory(source)
    assert message in str(info.value)
    assert main(["inventory", "import", str(source)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("stackdrill: error: ")
    assert message in err


def test_unknown_profile_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", "import", str(FIXTURES / "multinode"), "--profile", "kola"]) == 2
    assert "unknown profile 'kola'" in capsys.readouterr().err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inventory", "import", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err == f"stackdrill: error: {tmp_path / 'nope'}: file not found\n"


def test_kolla_multinode_clusters_its_database_and_messaging_groups() -> None:
    """kolla's [mariadb:children] control and [rabbitmq:children] control: three controllers,
    a Galera cluster and a RabbitMQ cluster the quorum guard keeps."""
    data = import_inventory(FIXTURES / "multinode", profile="kolla").data
    controllers = ["control01", "control02", "control03"]
    assert data["clusters"] == {"galera": controllers, "rabbitmq": controllers}


def test_a_group_of_one_host_gives_no_cluster(tmp_path: Path) -> None:
    source = tmp_path / "multinode"
    text = (FIXTURES / "multinode").read_text()
    source.write_text(text.replace("[rabbitmq:children]\ncontrol\n", "[rabbitmq]\ncontrol01\n"))
    data = import_inventory(source, profile="kolla").data
    assert data["clusters"] == {"galera": ["control01", "control02", "control03"]}
    single = tmp_path / "aio.ini"
    single.write_text("[control]\naio1\n[mariadb:children]\ncontrol\n[rabbitmq:children]\n"
                      "control\n")
    assert "clusters" not in import_inventory(single).data


def test_clusters_from_a_hand_written_inventory_reach_the_guards(tmp_path: Path) -> None:
    source = tmp_path / "hosts.yaml"
    source.write_text("all:\n  children:\n    galera:\n      hosts:\n        db[1:3]:\n"
                      "    messaging:\n      hosts:\n        mq[1:2]:\n    compute:\n"
                      "      hosts:\n        cmp1:\n")
    out = tmp_path / "inventory.yaml"
    assert main(["inventory", "import", str(source), "-o", str(out)]) == 0
    inventory = load_inventory(out)
    assert inventory.clusters == {"galera": ("db1", "db2", "db3"), "rabbitmq": ("mq1", "mq2")}
