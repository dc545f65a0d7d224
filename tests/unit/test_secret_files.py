"""Secrets the harness knows only from files are kept out of the evidence too: the lab's
``secrets.json`` (named by the inventory ``lab up`` writes, under ``secrets_files``), any other
secrets file an inventory names (kolla-ansible's ``passwords.yml``), the secrets of a service's
config file read on a host for its DSN, and the password of any URL in the text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stackdrill.cloud.access import CloudError, database, dsn_from_config
from stackdrill.core.evidence import Evidence, Redactor
from stackdrill.hosts.secrets import inventory_redactor
from stackdrill.hosts.ssh import CommandResult
from stackdrill.inventory.loader import load_inventory
from stackdrill.inventory.model import InventoryError
from stackdrill.inventory.secrets import config_secrets, file_secrets
from stackdrill.lab.cloud.secrets import LabSecrets
from stackdrill.lab.lab import Lab
from stackdrill.lab.topology import LabPaths

HOSTS = {"compute1": {"address": "192.0.2.11", "roles": ["compute"]}}


def result(command: str, stdout: str) -> CommandResult:
    return CommandResult(host="controller", command=command, exit_status=0, stdout=stdout,
                         stderr="", started=0.0, duration=0.1)


def test_the_lab_cloud_passwords_never_reach_the_evidence(tmp_path: Path) -> None:
    """The lab's RabbitMQ, database and service passwords, in unit status output and command
    output, come out as ``***`` through the redactor built from the lab's inventory."""
    secrets = LabSecrets.load_or_create(tmp_path / "secrets.json")
    lab = Lab(LabPaths(tmp_path))
    lab.write_inventory(cloud=True)
    evidence = Evidence(inventory_redactor(load_inventory(lab.paths.inventory)))
    status = result("systemctl status rabbitmq-server nova-api", (
        f"  CGroup: /system.slice/rabbitmq-server.service\n"
        f"          └─812 rabbitmqctl add_user openstack {secrets['rabbit']}\n"
        f"  nova-api[901]: connecting to mysql as nova with {secrets['database']}\n"
        f"  nova-api[901]: [keystone_authtoken] password = {secrets['nova']}\n"))
    evidence.attach_text("command", status.render())
    evidence.attach_json("facts", {"admin": secrets["admin"], "glance": secrets["glance"]})
    text = "\n".join(attached for _, attached in evidence.attachments)
    for name, value in secrets.passwords.items():
        assert value not in text, name
    assert "add_user openstack ***" in text
    assert '"admin": "***"' in text


def test_an_inventory_names_a_secrets_file_relative_to_itself(tmp_path: Path) -> None:
    (tmp_path / "passwords.yml").write_text(yaml.safe_dump({
        "database_password": "db-Secret-1", "rabbitmq_password": "rabbit-Secret-2",
        "keystone_ssh_key": {"private_key": "PRIVATE-KEY-3"}, "port": 35357, "none": None}))
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump({
        "hosts": HOSTS, "secrets_files": ["passwords.yml"]}))
    inventory = load_inventory(tmp_path / "inventory.yaml")
    assert inventory.secrets_files == (tmp_path / "passwords.yml",)
    assert sorted(file_secrets(tmp_path / "passwords.yml")) == [
        "35357", "PRIVATE-KEY-3", "db-Secret-1", "rabbit-Secret-2"]
    redact = inventory_redactor(inventory)
    assert redact("mysql -p db-Secret-1; PRIVATE-KEY-3") == "mysql -p ***; ***"


@pytest.mark.parametrize(("content", "reason"), [
    (None, "cannot read: No such file or directory"),
    ("- a list\n", "expected a mapping of names to secrets"),
    ("a: [unclosed\n", "not YAML or JSON"),
])
def test_a_secrets_file_that_cannot_be_read_is_bad_input(tmp_path: Path, content: str | None,
                                                         reason: str) -> None:
    if content is not None:
        (tmp_path / "secrets.json").write_text(content)
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump({
        "hosts": HOSTS, "secrets_files": ["secrets.json"]}))
    with pytest.raises(InventoryError) as failed:
        load_inventory(tmp_path / "inventory.yaml")
    assert str(failed.value) == (f"{tmp_path / 'inventory.yaml'}: secrets_files[0]: secrets "
                                 f"file {tmp_path / 'secrets.json'}: {reason}")


NOVA_CONF = """\
[DEFAULT]
transport_url = rabbit://openstack:rabbit-Pw-1@10.0.0.1:5672,openstack:rabbit-Pw-2@10.0.0.2:5672/
[database]
connection = mysql+pymysql://nova:db-Pw-3@10.0.0.1/nova
[keystone_authtoken]
password = service-Pw-4
username = nova
[service_user]
send_service_user_token = true
"""


class FakeController:
    name = "controller"

    def run(self, command: str, **_: Any) -> CommandResult:
        return result(command, NOVA_CONF)


def test_the_config_a_dsn_is_read_from_gives_up_all_its_secrets() -> None:
    """The nova_db probe reads nova.conf for its DSN: the transport URL's passwords and the
    service's own password are registered with the database's."""
    assert config_secrets(NOVA_CONF) == ["rabbit-Pw-1", "rabbit-Pw-2", "db-Pw-3",
                                         "service-Pw-4"]
    dsn = dsn_from_config(FakeController(), "/etc/nova/nova.conf")  # type: ignore[arg-type]
    assert "rabbit-Pw-1" not in repr(dsn)
    redactor = Redactor()
    with pytest.raises(CloudError), database(replace_port(dsn), redactor, timeout=2):
        pass  # nothing listens there: the secrets are registered before connecting
    text = "ps: rabbit-Pw-1 rabbit-Pw-2 db-Pw-3 service-Pw-4; true"
    assert redactor(text) == "ps: *** *** *** ***; true"  # a switch is no secret


def replace_port(dsn: Any) -> Any:
    from dataclasses import replace

    return replace(dsn, host="127.0.0.1", port=9)


def test_the_password_of_any_url_is_removed_registered_or_not() -> None:
    redact = Redactor()
    assert redact("transport_url = rabbit://openstack:abc@h1:5672,openstack:def@h2:5672/") \
        == "transport_url = rabbit://openstack:***@h1:5672,openstack:***@h2:5672/"
    assert redact("connection = mysql+pymysql://nova:pw@db/nova?charset=utf8") \
        == "connection = mysql+pymysql://nova:***@db/nova?charset=utf8"
    unchanged = ("http://172.31.77.10:5000/v3 qemu+ssh://root@h/system "
                 "https://example.org/a@b http://[::1]:8774/")
    assert redact(unchanged) == unchanged
