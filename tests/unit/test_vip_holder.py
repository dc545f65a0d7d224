"""The ``vip_holder`` probe: which controller holds the inventory's VIP, from each one's
``ip -o addr show`` (iproute2 6.1's one-line format, keepalived's address added as a secondary
``/24`` on eth0), and that exactly one does. A controller that cannot be asked is unknown,
never taken for free."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from stackdrill.builtin.probes.vip_holder import VipHolder

from stackdrill.api import CloudContext, Targets
from stackdrill.cloud.access import CloudAccess
from stackdrill.core.state import Rule, Snapshot, Tolerance, compare
from stackdrill.hostkit.addresses import parse_addresses
from tests.unit.ha_fakes import CONTROLLERS, FakeTargets, fake_tool, ha_inventory, printing

LOOPBACK = """\
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
1: lo    inet6 ::1/128 scope host noprefixroute \\       valid_lft forever preferred_lft forever"""


def addresses(host: str, *, vip: bool) -> str:
    """``ip -o addr show`` on a controller (its own address ends in 3N)."""
    own = f"172.31.77.3{host[-1]}"
    lines = [LOOPBACK,
             f"2: eth0    inet {own}/24 brd 172.31.77.255 scope global eth0\\       "
             "valid_lft forever preferred_lft forever"]
    if vip:
        lines.append("2: eth0    inet 172.31.77.10/24 scope global secondary eth0\\       "
                     "valid_lft forever preferred_lft forever")
    lines.append("2: eth0    inet6 fe80::8c3b:5eff:fe1a:2b3c/64 scope link \\       "
                 "valid_lft forever preferred_lft forever")
    return "\n".join(lines)


def holding(targets: FakeTargets, *holders: str) -> None:
    for host in CONTROLLERS:
        fake_tool(targets.get(host).tools, "ip", printing(addresses(host, vip=host in holders)))


def observe(targets: FakeTargets) -> dict[str, object]:
    """The probe's values as a snapshot takes them (its context's API access unused)."""
    context = CloudContext(cast(CloudAccess, None), cast(Targets, targets))
    return VipHolder().observe_cloud(context)


def test_exactly_one_controller_holds_the_vip(tmp_path: Path) -> None:
    targets = FakeTargets(ha_inventory(tmp_path), tmp_path)
    holding(targets, "controller2")
    values = observe(targets)
    assert values == {"vip:api/host:controller1/holds": False,
                      "vip:api/host:controller2/holds": True,
                      "vip:api/host:controller3/holds": False,
                      "vip:api/holders": 1}
    assert VipHolder().problems(values) == []
    assert targets.get("compute1").commands == []  # not a host that may hold it


def test_no_holder_and_two_holders_are_problems(tmp_path: Path) -> None:
    targets = FakeTargets(ha_inventory(tmp_path), tmp_path)
    holding(targets)
    assert VipHolder().problems(observe(targets)) == [
        "vip:api is held by 0 hosts (none), not exactly one"]
    holding(targets, "controller1", "controller3")
    assert VipHolder().problems(observe(targets)) == [
        "vip:api is held by 2 hosts (controller1, controller3), not exactly one"]


def test_a_controller_that_cannot_be_asked_is_unknown(tmp_path: Path) -> None:
    """controller1 is powered off: whether it holds the VIP is not known, so the others'
    answers do not make the VIP healthy."""
    targets = FakeTargets(ha_inventory(tmp_path), tmp_path, unreachable=("controller1",))
    holding(targets, "controller2")
    values = observe(targets)
    assert values["vip:api/host:controller1/holds"] == "unknown"
    assert values["vip:api/host:controller2/holds"] is True
    assert values["vip:api/holders"] == "unknown"
    assert VipHolder().problems(values) == ["vip:api: controller1 could not be asked"]


def test_the_hosts_the_inventory_names_are_asked(tmp_path: Path) -> None:
    inventory = ha_inventory(tmp_path, HA_TWO_HOLDERS)
    targets = FakeTargets(inventory, tmp_path)
    holding(targets, "controller3")
    assert observe(targets) == {"vip:internal/host:controller2/holds": False,
                                "vip:internal/host:controller3/holds": True,
                                "vip:internal/holders": 1}
    assert targets.get("controller1").commands == []


HA_TWO_HOLDERS = """\
hosts:
  controller1: {address: 172.31.77.31, roles: [controller]}
  controller2: {address: 172.31.77.32, roles: [controller]}
  controller3: {address: 172.31.77.33, roles: [controller]}
vips:
  internal: {address: 172.31.77.10, hosts: [controller2, controller3]}
"""


def test_a_cloud_without_vips_yields_nothing(tmp_path: Path) -> None:
    targets = FakeTargets(ha_inventory(tmp_path, "hosts:\n  c1: {address: 10.0.0.1, "
                                                 "roles: [controller]}\n"), tmp_path)
    assert observe(targets) == {}


def test_addresses_are_read_without_their_prefix_and_normalised() -> None:
    held = parse_addresses(addresses("controller2", vip=True)
                           + "\n3: eth1    inet6 FD00:0::10/64 scope global \\       x")
    assert held["172.31.77.10"] == "eth0"
    assert held["fd00::10"] == "eth1"
    assert "127.0.0.1" in held


def test_a_vip_that_moved_for_good_is_whole_where_its_holder_is_tolerated(
        tmp_path: Path) -> None:
    """keepalived without preemption leaves the VIP where it went: with the holder tolerated,
    the count still compares, and a VIP that nobody holds deviates."""
    targets = FakeTargets(ha_inventory(tmp_path), tmp_path)
    holding(targets, "controller1")
    before = Snapshot(0.0, {f"cloud/{path}": value for path, value in observe(targets).items()})
    tolerance = Tolerance([Rule.parse("cloud/vip:*/host:*/holds ignore")])
    holding(targets, "controller2")
    moved = Snapshot(1.0, {f"cloud/{path}": value for path, value in observe(targets).items()})
    assert compare(before, moved, tolerance) == []
    holding(targets)
    lost = Snapshot(2.0, {f"cloud/{path}": value for path, value in observe(targets).items()})
    assert [str(d) for d in compare(before, lost, tolerance)] == [
        "cloud/vip:api/holders: 1 -> 0 (exact)"]
