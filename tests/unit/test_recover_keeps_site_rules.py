"""``recover --pending`` after a run that died with a partition or a packet loss in place: from
the journal alone, it deletes exactly the rules that injection added, and keeps every other rule
of the host, the site's own (one that drops the very same traffic without a tag among them) and
another injection's. The host's iptables is the fake of :mod:`tests.unit.iptables_fake`, which
shows and compares rules as iptables does."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from stackdrill.builtin.faults.packet_loss import PacketLoss
from stackdrill.builtin.faults.partition import Partition

from stackdrill.api._registry import load_registries
from stackdrill.engine.journal import Journal
from stackdrill.engine.recover import undo_pending
from stackdrill.hostkit import peers
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.inventory.model import Inventory
from tests.unit.iptables_fake import IptablesHost

INVENTORY = """\
cloud: unit
hosts:
  controller: {address: 172.31.77.10, roles: [controller]}
  compute1: {address: 172.31.77.11, roles: [compute]}
  compute2: {address: 172.31.77.12, roles: [compute]}
"""

SITE = ["INPUT -p tcp --dport 9 -m comment --comment site-own-rule -j DROP",
        "INPUT -s 172.31.77.10 -p tcp --dport 5672 -j DROP",
        "OUTPUT -d 192.0.2.99 -j ACCEPT"]


@pytest.fixture(autouse=True)
def harness_on_the_bridge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peers, "route_source", lambda address: "172.31.77.1")
    monkeypatch.setattr(peers.never_cut, "__defaults__", (lambda address: "172.31.77.1",))


@pytest.fixture
def inventory(tmp_path: Path) -> Inventory:
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY)
    return load_inventory(path)


class OneHost:
    """The targets of ``recover --pending``: the one host the journal names."""

    def __init__(self, host: IptablesHost) -> None:
        self.host = host
        self.inventory = host.inventory
        self.listeners: list[Any] = []

    def get(self, name: str) -> IptablesHost:
        assert name == self.host.name
        return self.host


@pytest.mark.parametrize(("fault", "params"), [
    (Partition, {"peers": "role:controller", "ports": "5672"}),
    (Partition, {"peers": "controller", "direction": "incoming"}),
    (PacketLoss, {"percent": "30", "interface": "eth0"}),
    (PacketLoss, {"percent": "10", "peers": "role:controller"}),
])
def test_recover_pending_deletes_the_dead_runs_rules_and_keeps_every_other(
        inventory: Inventory, tmp_path: Path, fault: Any, params: dict[str, str]) -> None:
    host = IptablesHost("compute1", tmp_path, inventory)
    for rule in SITE:
        chain, _, spec = rule.partition(" ")
        host.iptables(f"-I {chain} 1 {spec}")
    site = host.rules()
    other = fault(host, params)  # another injection's rules, not the dead run's
    other_facts = other.prepare()
    other.inject(other_facts)
    with_other = host.rules()

    journal = Journal(tmp_path / "journal.jsonl")
    dead = fault(host, params)
    facts = dead.prepare()
    journal.arm(fault.name, "compute1", params, facts)
    dead.inject(facts)  # then the run is killed: its undo never runs
    assert len(host.rules()) == len(with_other) + len(facts["rules"])
    assert facts["tag"] != other_facts["tag"]

    lines, failures = undo_pending(journal, cast(Targets, OneHost(host)), load_registries())
    assert failures == 0, lines
    assert lines[0].startswith(f"restored {fault.name} on compute1 ")
    assert host.rules() == with_other
    assert [rule for rule in host.rules() if other_facts["tag"] not in rule] == site
    assert journal.pending() == []

    other.undo(other_facts)
    assert host.rules() == site
