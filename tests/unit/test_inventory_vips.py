"""The inventory's ``vips``: each virtual IP by name, its address, and the hosts that may hold
it (every controller unless named). An address that is no IP address, or a host the inventory
does not have, is refused at load, one line each."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from stackdrill.inventory.loader import load_inventory
from stackdrill.inventory.model import Inventory, InventoryError, VipSpec

HOSTS = """\
hosts:
  controller1: {address: 172.31.77.31, roles: [controller]}
  controller2: {address: 172.31.77.32, roles: [controller]}
  lb1: {address: 172.31.77.40, roles: [network]}
  compute1: {address: 172.31.77.11, roles: [compute]}
"""


def load(tmp_path: Path, text: str) -> Inventory:
    path = tmp_path / "inventory.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_inventory(path)


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(InventoryError) as info:
        load(tmp_path, text)
    return str(info.value).removeprefix(f"{tmp_path / 'inventory.yaml'}: ")


def test_a_vip_is_held_by_the_controllers_unless_it_names_its_hosts(tmp_path: Path) -> None:
    inventory = load(tmp_path, HOSTS + """\
vips:
  api: {address: 172.31.77.10}
  public: {address: "2001:DB8::10", hosts: [lb1]}
""")
    assert inventory.vips == {
        "api": VipSpec("api", "172.31.77.10", ("controller1", "controller2")),
        "public": VipSpec("public", "2001:db8::10", ("lb1",)),
    }


def test_an_inventory_without_vips_has_none(tmp_path: Path) -> None:
    assert dict(load(tmp_path, HOSTS).vips) == {}


@pytest.mark.parametrize(("vips", "message"), [
    ("api: {address: 172.31.77.300}",
     "vips.api.address: expected IPv4 or IPv6 address, got '172.31.77.300'"),
    ("api: {address: vip.example.org}",
     "vips.api.address: expected IPv4 or IPv6 address, got 'vip.example.org'"),
    ("api: {address: 172.31.77.10, hosts: [lb2]}",
     "vips.api.hosts[0]: no host named 'lb2' (known: compute1, controller1, controller2, lb1)"),
    ("api: {hosts: [lb1]}", "vips.api: missing required key 'address'"),
    ("api: {address: 172.31.77.10, interface: eth0}",
     "vips.api: unknown key 'interface' (allowed: address, hosts)"),
])
def test_a_vip_that_cannot_be_held_is_refused(tmp_path: Path, vips: str, message: str) -> None:
    assert refusal(tmp_path, f"{HOSTS}vips:\n  {vips}\n") == message


def test_a_vip_without_controllers_must_name_its_hosts(tmp_path: Path) -> None:
    assert refusal(tmp_path, """\
hosts:
  lb1: {address: 172.31.77.40, roles: [network]}
vips:
  api: {address: 172.31.77.10}
""") == "vips.api: no host may hold it: name its hosts, or give the inventory a controller"
