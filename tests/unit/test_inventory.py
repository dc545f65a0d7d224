from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from stackdrill.inventory.loader import load_inventory, parse_inventory
from stackdrill.inventory.model import HostSpec, InventoryError, ServiceSpec, SshSpec
from stackdrill.inventory.schema import INVENTORY_SCHEMA

FULL = """\
cloud: stackdrill-lab
production: true
deployment: devstack
defaults:
  ssh:
    user: stack
    port: 22
    key: ./lab/id_ed25519
    known_hosts: ./lab/known_hosts
    strict_host_key_checking: false
    jump: bastion
    connect_timeout: 5
    command_timeout: 120.5
  power: {driver: lab}
hosts:
  bastion:
    address: 172.31.77.2
    roles: [network]
  controller1:
    address: 172.31.77.10
    roles: [controller, database, messaging]
    ssh: {jump: null, key: /abs/controller_key}
  compute2:
    address: 172.31.77.12
    roles: [compute]
  compute1:
    address: 172.31.77.11
    roles: [compute, block-storage]
    ssh: {port: 2222, user: root}
    power: {name: compute1}
services:
  libvirtd: {unit: libvirtd}
  nova-compute: {unit: "devstack@n-cpu"}
  rabbitmq: {container: rabbitmq, runtime: podman}
  mariadb: {container: galera}
protected: [controller1]
"""

MINIMAL_HOST = "hosts:\n  compute1: {address: 10.0.0.1, roles: [compute]}\n"


def write(tmp_path: Path, text: str, name: str = "inv.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> InventoryError:
    path = write(tmp_path, text)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    return info.value


def test_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(INVENTORY_SCHEMA)
    assert INVENTORY_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_full_example_round_trips(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    inv = load_inventory(path)

    assert inv.path == path
    assert inv.cloud == "stackdrill-lab"
    assert inv.production is True
    assert inv.deployment == "devstack"
    assert list(inv.hosts) == ["bastion", "controller1", "compute2", "compute1"]
    assert inv.protected == frozenset({"controller1"})

    lab = tmp_path / "lab"
    assert inv.hosts["compute1"] == HostSpec(
        name="compute1",
        address="172.31.77.11",
        roles=("compute", "block-storage"),
        ssh=SshSpec(
            user="root",
            port=2222,
            key=lab / "id_ed25519",
            known_hosts=lab / "known_hosts",
            strict_host_key_checking=False,
            jump="bastion",
            connect_timeout=5.0,
            command_timeout=120.5,
        ),
        power={"driver": "lab", "name": "compute1"},
    )
    compute2 = inv.hosts["compute2"].ssh
    assert (compute2.user, compute2.port, compute2.jump) == ("stack", 22, "bastion")
    assert inv.hosts["compute2"].power == {"driver": "lab"}

    controller = inv.hosts["controller1"].ssh
    assert controller.jump is None
    assert controller.key == Path("/abs/controller_key")
    assert controller.known_hosts == lab / "known_hosts"

    assert inv.hosts["bastion"].ssh.jump is None

    assert inv.services["libvirtd"] == ServiceSpec("libvirtd", "libvirtd", None, None)
    assert inv.services["nova-compute"].unit == "devstack@n-cpu"
    assert inv.services["nova-compute"].kind == "systemd"
    assert inv.services["rabbitmq"] == ServiceSpec("rabbitmq", None, "rabbitmq", "podman")
    assert inv.services["rabbitmq"].kind == "container"
    assert inv.services["mariadb"].runtime == "docker"


def test_defaults_when_keys_are_omitted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    inv = load_inventory(write(tmp_path, MINIMAL_HOST))

    assert inv.cloud is None
    assert inv.production is False
    assert inv.deployment == "packages"
    assert inv.services == {}
    assert inv.protected == frozenset()
    host = inv.hosts["compute1"]
    assert host.power is None
    assert host.ssh == SshSpec(
        user="root",
        port=22,
        key=None,
        known_hosts=tmp_path / "home" / ".ssh" / "known_hosts",
        strict_host_key_checking=True,
        jump=None,
        connect_timeout=10.0,
        command_timeout=60.0,
    )


def test_relative_paths_resolve_against_inventory_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    (tmp_path / "conf").mkdir()
    write(tmp_path / "conf", MINIMAL_HOST + "defaults: {ssh: {key: ../keys/id}}\n")

    inv = load_inventory(Path("../conf/inv.yaml"))

    assert inv.hosts["compute1"].ssh.key == other / ".." / "conf" / ".." / "keys" / "id"
    assert inv.hosts["compute1"].ssh.key.resolve() == (tmp_path / "keys" / "id").resolve()


def test_with_role_host_and_service_lookups(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    inv = load_inventory(path)

    assert [h.name for h in inv.with_role("compute")] == ["compute1", "compute2"]
    assert [h.name for h in inv.with_role("database")] == ["controller1"]
    assert inv.with_role("object-storage") == []
    with pytest.raises(ValueError, match="unknown role 'comptue'"):
        inv.with_role("comptue")

    assert inv.host("bastion").address == "172.31.77.2"
    with pytest.raises(InventoryError) as info:
        inv.host("compute9")
    assert str(info.value) == (
        f"{path}: hosts: no host named 'compute9' (known: bastion, compute1, compute2, controller1)"
    )

    assert inv.service("rabbitmq").container == "rabbitmq"
    implicit = inv.service("neutron-l3-agent")
    assert implicit == ServiceSpec("neutron-l3-agent", "neutron-l3-agent", None, None)
    assert implicit.kind == "systemd"


def test_parse_inventory_accepts_loaded_data(tmp_path: Path) -> None:
    data = {
        "hosts": {"db1": {"address": "db1.lab", "roles": ["database"], "ssh": {"key": "k"}}},
    }
    inv = parse_inventory(data, tmp_path / "x.yaml")
    assert inv.hosts["db1"].ssh.key == tmp_path / "k"


ERROR_CASES: list[tuple[str, str, str]] = [
    (
        "port_type",
        MINIMAL_HOST.replace("roles: [compute]", "roles: [compute], ssh: {port: abc}"),
        "hosts.compute1.ssh.port: expected integer 1..65535, got 'abc'",
    ),
    (
        "port_range",
        MINIMAL_HOST + "defaults: {ssh: {port: 70000}}\n",
        "defaults.ssh.port: expected integer 1..65535, got 70000",
    ),
    (
        "port_bool",
        MINIMAL_HOST + "defaults: {ssh: {port: true}}\n",
        "defaults.ssh.port: expected integer 1..65535, got True",
    ),
    (
        "type_mapping",
        "hosts:\n  compute1: just-a-string\n",
        "hosts.compute1: expected mapping, got 'just-a-string'",
    ),
    (
        "type_list",
        "hosts:\n  compute1: {address: a, roles: compute}\n",
        "hosts.compute1.roles: expected list, got 'compute'",
    ),
    (
        "type_boolean",
        MINIMAL_HOST + "production: 'no'\n",
        "production: expected boolean, got 'no'",
    ),
    (
        "type_nullable",
        MINIMAL_HOST + "defaults: {ssh: {jump: 5}}\n",
        "defaults.ssh.jump: expected string or null, got 5",
    ),
    (
        "unknown_top_level",
        MINIMAL_HOST + "hostz: {}\n",
        "unknown key 'hostz' (allowed: alerts, cloud, clusters, coordination, defaults, "
        "deployment, hosts, keystone, production, profile, protected, secrets_files, services, "
        "tempest, upgrade, vips)",
    ),
    (
        "unknown_ssh",
        MINIMAL_HOST.replace("roles: [compute]", "roles: [compute], ssh: {prot: 1}"),
        "hosts.compute1.ssh: unknown key 'prot' (allowed: command_timeout, connect_timeout, "
        "jump, key, known_hosts, port, strict_host_key_checking, user)",
    ),
    (
        "missing_address",
        "hosts:\n  compute1: {roles: [compute]}\n",
        "hosts.compute1: missing required key 'address'",
    ),
    (
        "missing_hosts",
        "cloud: lab\n",
        "missing required key 'hosts'",
    ),
    (
        "enum_role",
        "hosts:\n  compute1: {address: a, roles: [compute, gpu]}\n",
        "hosts.compute1.roles[1]: expected one of controller, compute, storage, network, "
        "database, messaging, object-storage, block-storage, got 'gpu'",
    ),
    (
        "enum_runtime",
        MINIMAL_HOST + "services: {rabbitmq: {container: rabbitmq, runtime: rkt}}\n",
        "services.rabbitmq.runtime: expected one of docker, podman, lxc, got 'rkt'",
    ),
    (
        "empty_roles",
        "hosts:\n  compute1: {address: a, roles: []}\n",
        "hosts.compute1.roles: expected non-empty list, got []",
    ),
    (
        "duplicate_roles",
        "hosts:\n  compute1: {address: a, roles: [compute, compute]}\n",
        "hosts.compute1.roles: expected list without duplicates, got ['compute', 'compute']",
    ),
    (
        "empty_hosts",
        "hosts: {}\n",
        "hosts: expected non-empty mapping, got {}",
    ),
    (
        "timeout_zero",
        MINIMAL_HOST + "defaults: {ssh: {connect_timeout: 0}}\n",
        "defaults.ssh.connect_timeout: expected number > 0, got 0",
    ),
    (
        "timeout_nan",
        MINIMAL_HOST + "defaults: {ssh: {command_timeout: .nan}}\n",
        "defaults.ssh.command_timeout: expected finite number > 0, got nan",
    ),
    (
        "address_whitespace",
        "hosts:\n  compute1: {address: 'a b', roles: [compute]}\n",
        "hosts.compute1.address: expected non-empty string without whitespace, got 'a b'",
    ),
    (
        "service_both",
        MINIMAL_HOST + "services: {nova: {unit: nova, container: nova}}\n",
        "services.nova: keys 'unit' and 'container' cannot be used together",
    ),
    (
        "service_neither",
        MINIMAL_HOST + "services: {nova: {}}\n",
        "services.nova: missing required key: one of 'unit' or 'container'",
    ),
    (
        "service_runtime_without_container",
        MINIMAL_HOST + "services: {nova: {unit: nova, runtime: docker}}\n",
        "services.nova: key 'runtime' is only allowed together with 'container'",
    ),
    (
        "service_unit_name",
        MINIMAL_HOST + "services: {nova: {unit: 'nova; reboot'}}\n",
        "services.nova.unit: expected systemd unit name (letters, digits and :_.@-), "
        "got 'nova; reboot'",
    ),
    (
        "dotted_host_name",
        "hosts:\n  c1.lab.example: {address: a, roles: [cpu]}\n",
        "hosts['c1.lab.example'].roles[0]: expected one of controller, compute, storage, "
        "network, database, messaging, object-storage, block-storage, got 'cpu'",
    ),
    (
        "non_string_host_name",
        "hosts:\n  1: {address: a, roles: [compute]}\n",
        "hosts: expected string as key, got 1",
    ),
    (
        "empty_host_name",
        "hosts:\n  '': {address: a, roles: [compute]}\n",
        "hosts: expected non-empty key, got ''",
    ),
    (
        "jump_unknown",
        MINIMAL_HOST.replace("roles: [compute]", "roles: [compute], ssh: {jump: bastion}"),
        "hosts.compute1.ssh.jump: no host named 'bastion' (known: compute1)",
    ),
    (
        "default_jump_unknown",
        MINIMAL_HOST + "defaults: {ssh: {jump: bastion}}\n",
        "defaults.ssh.jump: no host named 'bastion' (known: compute1)",
    ),
    (
        "jump_self",
        MINIMAL_HOST.replace("roles: [compute]", "roles: [compute], ssh: {jump: compute1}"),
        "hosts.compute1.ssh.jump: a host cannot be its own jump host",
    ),
    (
        "jump_loop",
        "hosts:\n"
        "  a: {address: a, roles: [compute], ssh: {jump: b}}\n"
        "  b: {address: b, roles: [compute], ssh: {jump: a}}\n",
        "hosts.a.ssh.jump: jump hosts form a loop: a -> b -> a",
    ),
    (
        "protected_unknown",
        MINIMAL_HOST + "protected: [compute1, controller1]\n",
        "protected[1]: no host named 'controller1' (known: compute1)",
    ),
    (
        "power_without_driver",
        MINIMAL_HOST.replace("roles: [compute]", "roles: [compute], power: {name: c1}"),
        "hosts.compute1.power: missing required key 'driver'",
    ),
    (
        "not_a_mapping",
        "- compute1\n- compute2\n",
        "expected mapping, got ['compute1', 'compute2']",
    ),
    (
        "empty_file",
        "",
        "empty document, expected a mapping with 'hosts'",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [pytest.param(text, expected, id=name) for name, text, expected in ERROR_CASES],
)
def test_error_messages(tmp_path: Path, text: str, expected: str) -> None:
    err = error_for(tmp_path, text)
    assert str(err) == f"{tmp_path / 'inv.yaml'}: {expected}"
    assert err.errors == [str(err)]
    assert "\n" not in str(err)


def test_several_errors_are_counted_in_document_order(tmp_path: Path) -> None:
    err = error_for(
        tmp_path,
        """\
        hosts:
          compute1:
            adress: 10.0.0.1
            roles: [compute, gpu]
            ssh: {port: abc}
        extra: 1
        """,
    )
    file = tmp_path / "inv.yaml"
    roles = (
        "controller, compute, storage, network, database, messaging, object-storage, block-storage"
    )
    assert err.errors == [
        f"{file}: hosts.compute1: missing required key 'address'",
        f"{file}: hosts.compute1: unknown key 'adress' (allowed: address, power, roles, ssh)",
        f"{file}: hosts.compute1.roles[1]: expected one of {roles}, got 'gpu'",
        f"{file}: hosts.compute1.ssh.port: expected integer 1..65535, got 'abc'",
        f"{file}: unknown key 'extra' (allowed: alerts, cloud, clusters, coordination, "
        "defaults, deployment, hosts, keystone, production, profile, protected, secrets_files, "
        "services, tempest, upgrade, vips)",
    ]
    assert str(err) == f"{file}: hosts.compute1: missing required key 'address' (and 4 more)"


def test_several_cross_reference_errors(tmp_path: Path) -> None:
    err = error_for(
        tmp_path,
        MINIMAL_HOST.replace("roles: [compute]", "roles: [compute], ssh: {jump: gw}")
        + "protected: [db1, db2]\n",
    )
    file = tmp_path / "inv.yaml"
    assert err.errors == [
        f"{file}: hosts.compute1.ssh.jump: no host named 'gw' (known: compute1)",
        f"{file}: protected[0]: no host named 'db1' (known: compute1)",
        f"{file}: protected[1]: no host named 'db2' (known: compute1)",
    ]
    assert str(err).endswith("(and 2 more)")


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    err = error_for(
        tmp_path,
        """\
        hosts:
          compute1:
            address: 10.0.0.1
            roles: [compute
        """,
    )
    file = tmp_path / "inv.yaml"
    message = str(err)
    assert message.startswith(f"{file}: line 5, column 1: invalid YAML: ")
    assert "\n" not in message


def test_yaml_mapping_error_names_line(tmp_path: Path) -> None:
    err = error_for(tmp_path, "hosts:\n  compute1: address: 10.0.0.1\n")
    assert str(err) == (
        f"{tmp_path / 'inv.yaml'}: line 2, column 20: invalid YAML: "
        "mapping values are not allowed here"
    )


def test_duplicate_keys_are_rejected_with_line(tmp_path: Path) -> None:
    err = error_for(
        tmp_path,
        """\
        hosts:
          compute1: {address: 10.0.0.1, roles: [compute]}
          compute1: {address: 10.0.0.2, roles: [compute]}
        """,
    )
    assert str(err) == (
        f"{tmp_path / 'inv.yaml'}: line 3, column 3: invalid YAML: found duplicate key 'compute1'"
    )


def test_yaml_merge_keys_still_work(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        hosts:
          compute1: &base {address: 10.0.0.1, roles: [compute]}
          compute2:
            <<: *base
            address: 10.0.0.2
        """,
    )
    inv = load_inventory(path)
    assert inv.hosts["compute2"].address == "10.0.0.2"
    assert inv.hosts["compute2"].roles == ("compute",)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert str(info.value) == f"{path}: file not found"


def test_directory_is_not_an_inventory(tmp_path: Path) -> None:
    with pytest.raises(InventoryError) as info:
        load_inventory(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, expected a YAML file"


def test_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_bytes(b"hosts:\n  c\xff: {}\n")
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert str(info.value) == f"{path}: not valid UTF-8 text (bad byte at offset 10)"


def test_multiple_documents_rejected(tmp_path: Path) -> None:
    err = error_for(tmp_path, MINIMAL_HOST + "---\n" + MINIMAL_HOST)
    assert str(err).startswith(f"{tmp_path / 'inv.yaml'}: line 3, column 1: invalid YAML: ")


def test_error_built_from_plain_string_and_pickles() -> None:
    single = InventoryError("inv.yaml: hosts: bad")
    assert single.errors == ["inv.yaml: hosts: bad"]
    assert str(single) == "inv.yaml: hosts: bad"

    several = InventoryError(["a: x", "a: y", "a: z"])
    restored = pickle.loads(pickle.dumps(several))
    assert isinstance(restored, InventoryError)
    assert restored.errors == ["a: x", "a: y", "a: z"]
    assert str(restored) == "a: x (and 2 more)"


def test_hosts_are_read_only(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, FULL))
    with pytest.raises(TypeError):
        inv.hosts["new"] = inv.hosts["bastion"]  # type: ignore[index]
    power = inv.hosts["compute1"].power
    assert power is not None
    with pytest.raises(TypeError):
        power["driver"] = "ipmi"  # type: ignore[index]
