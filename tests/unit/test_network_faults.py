"""The network faults (``partition``, ``packet_loss``), ``freeze_service`` and ``disk_fill``
against fake hosts answering recorded output: parameters refused as they are read, the rules
planned with their drill tag and the harness's path exempt first, confirmations read from
observations (connects that fail and succeed, ``/proc`` states, ``df``), idempotent undos."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from stackdrill.builtin.faults.disk_fill import DiskFill, fill_bytes, parse_df
from stackdrill.builtin.faults.freeze_service import FreezeService, parse_states
from stackdrill.builtin.faults.packet_loss import PacketLoss
from stackdrill.builtin.faults.partition import Partition, cut_rules

from stackdrill.api._fault import FaultError
from stackdrill.core.params import ParamError
from stackdrill.hostkit import netfilter, peers
from stackdrill.hosts.service import Service
from stackdrill.hosts.ssh import CommandResult
from stackdrill.inventory.loader import load_inventory
from stackdrill.inventory.model import Inventory

INVENTORY = """\
cloud: unit
hosts:
  controller:
    address: 172.31.77.10
    roles: [controller]
    power: {driver: ipmi, address: 10.9.9.10}
  compute1: {address: 172.31.77.11, roles: [compute]}
  compute2: {address: 172.31.77.12, roles: [compute]}
  storage1: {address: 172.31.77.21, roles: [storage]}
"""


@pytest.fixture
def inventory(tmp_path: Path) -> Inventory:
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY)
    return load_inventory(path)


@pytest.fixture(autouse=True)
def harness_on_the_bridge(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness reaches every host from 172.31.77.1, as on the lab's bridge."""
    monkeypatch.setattr(peers, "route_source", lambda address: "172.31.77.1")
    monkeypatch.setattr(peers.never_cut, "__defaults__", (lambda address: "172.31.77.1",))
    monkeypatch.setattr(peers.own_addresses, "__defaults__", (lambda address: "172.31.77.1",))
    monkeypatch.setattr(peers.harness_addresses, "__defaults__",
                        (lambda address: "172.31.77.1",))


class Host:
    """A target answering each command by the first pattern it matches, recording what ran; its
    peers are hosts of the same kind."""

    def __init__(self, name: str, inventory: Inventory,
                 answers: dict[str, tuple[int, str]] | None = None,
                 world: dict[str, Host] | None = None) -> None:
        self.name = name
        self.inventory = inventory
        self.spec = inventory.hosts[name]
        self.answers = answers or {}
        self.ran: list[str] = []
        self.world = world if world is not None else {}
        self.world[name] = self

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True) -> CommandResult:
        self.ran.append(command)
        status, out = next((v for k, v in self.answers.items() if re.search(k, command)),
                           (0, ""))
        if check and status:
            raise AssertionError(f"{command} failed")
        return CommandResult(self.name, command, status, out, "", 0.0, 0.0)

    def peer(self, name: str) -> Host:
        return self.world.get(name) or Host(name, self.inventory, world=self.world)

    def service(self, name: str) -> Service:
        return Service.for_unit(self, name)  # type: ignore[arg-type]


# -- parameters, refused as they are read ---------------------------------------------------

@pytest.mark.parametrize(("fault", "params", "fragment"), [
    (Partition, {"peers": ""}, "the set is empty"),
    (Partition, {"peers": "role:gpu"}, "unknown role 'gpu'"),
    (Partition, {"peers": "rack:7"}, "expected role:NAME"),
    (Partition, {"peers": "controller", "direction": "sideways"}, "expected one of both"),
    (Partition, {"peers": "controller", "ports": "70000"}, "TCP port 1..65535"),
    (PacketLoss, {"percent": "0", "interface": "eth0"}, "above 0 and at most 100"),
    (PacketLoss, {"percent": "101", "interface": "eth0"}, "above 0 and at most 100"),
    (PacketLoss, {"percent": "-5", "interface": "eth0"}, "above 0 and at most 100"),
    (PacketLoss, {"percent": "30"}, "name an interface or peers"),
    (DiskFill, {"path": "var/lib", "percent": "95"}, "expected an absolute path"),
    (DiskFill, {"path": "/var/lib", "percent": "150"}, "at most 100"),
    (FreezeService, {"service": "sshd"}, "never frozen"),
])
def test_bad_parameters_are_refused_with_one_line(fault: Any, params: dict[str, str],
                                                  fragment: str) -> None:
    with pytest.raises(ParamError) as caught:
        fault.validate(params)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_a_partition_holding_the_harness_address_is_refused_at_collection(
        inventory: Inventory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peers.own_addresses, "__defaults__", (lambda address: "172.31.77.10",))
    problems = Partition.inventory_problems({"peers": "role:controller"}, inventory,
                                            inventory.with_role("compute"))
    assert problems == ["the partition would include controller (172.31.77.10), the harness's "
                        "own address: the harness would cut itself off"]


def test_a_partition_whose_set_is_empty_is_refused_at_collection(inventory: Inventory) -> None:
    assert Partition.inventory_problems({"peers": "role:network"}, inventory,
                                        inventory.with_role("compute")) == [
        "peers: role:network: the inventory has no such host, so the set is empty"]
    assert Partition.inventory_problems({"peers": "compute1"}, inventory,
                                        [inventory.hosts["compute1"]]) == [
        "peers: compute1 names only the host the fault is on, so the set is empty"]
    assert Partition.inventory_problems({"peers": "role:controller"}, inventory,
                                        inventory.with_role("compute")) == []


# -- partition ---------------------------------------------------------------------------------

def test_the_rules_exempt_the_harness_and_the_bmcs_first_and_carry_the_tag(
        inventory: Inventory) -> None:
    host = Host("compute1", inventory)
    facts = Partition(host, {"peers": "role:controller", "ports": "5672"}).prepare()
    tag = facts["tag"]
    assert re.fullmatch(r"stackdrill-partition-[0-9a-f]{8}", tag)
    assert facts["rules"][:4] == [
        f"INPUT -s 10.9.9.10 -m comment --comment {tag} -j ACCEPT",
        f"OUTPUT -d 10.9.9.10 -m comment --comment {tag} -j ACCEPT",
        f"INPUT -s 172.31.77.1 -m comment --comment {tag} -j ACCEPT",
        f"OUTPUT -d 172.31.77.1 -m comment --comment {tag} -j ACCEPT"]
    assert f"OUTPUT -d 172.31.77.10 -p tcp --dport 5672 -m comment --comment {tag} -j DROP" \
        in facts["rules"]
    assert all(f"--comment {tag} " in rule for rule in facts["rules"])
    assert facts["peers"] == {"controller": "172.31.77.10"}


def test_install_puts_the_rules_in_order_at_the_head_of_each_chain() -> None:
    command = netfilter.install(["INPUT -s 1.1.1.1 -j ACCEPT", "INPUT -s 2.2.2.2 -j DROP",
                                 "OUTPUT -d 2.2.2.2 -j DROP"])
    assert command.endswith("iptables -I INPUT 1 -s 1.1.1.1 -j ACCEPT && "
                            "iptables -I INPUT 2 -s 2.2.2.2 -j DROP && "
                            "iptables -I OUTPUT 1 -d 2.2.2.2 -j DROP")
    assert command.startswith("while iptables -C INPUT -s 1.1.1.1 -j ACCEPT")


def test_one_way_cuts_refuse_new_connections_only() -> None:
    assert cut_rules(["10.0.0.5"], [], "incoming", "t") == [
        "INPUT -s 10.0.0.5 -m conntrack --ctstate NEW -m comment --comment t -j DROP"]
    assert cut_rules(["10.0.0.5"], [5672], "outgoing", "t") == [
        "OUTPUT -d 10.0.0.5 -p tcp --dport 5672 -m conntrack --ctstate NEW -m comment "
        "--comment t -j DROP"]
    assert len(cut_rules(["10.0.0.5"], [5672], "both", "t")) == 4


def _connects(lines: dict[tuple[str, int], str]) -> str:
    words = {"open": "0", "refused": "1 bash: connect: Connection refused",
             "no answer": "124"}
    return "".join(f"{a} {p} {words[o]}\n" for (a, p), o in lines.items())


def test_the_cut_is_confirmed_from_both_sides_and_an_open_path(inventory: Inventory) -> None:
    world: dict[str, Host] = {}
    compute = Host("compute1", inventory, world=world)
    controller = Host("controller", inventory, world=world)
    fault = Partition(compute, {"peers": "role:controller", "ports": "5672"})
    facts = fault.prepare()
    fault.inject(facts)
    assert compute.ran[-1] == netfilter.install(facts["rules"])
    # before the cut takes: the AMQP port still answers
    compute.answers["/dev/tcp"] = (0, _connects({("172.31.77.10", 5672): "open",
                                                 ("172.31.77.10", 22): "open"}))
    controller.answers["/dev/tcp"] = (0, _connects({("172.31.77.11", 5672): "refused"}))
    assert fault.confirm(facts) is None
    compute.answers["/dev/tcp"] = (0, _connects({("172.31.77.10", 5672): "no answer",
                                                 ("172.31.77.10", 22): "open"}))
    assert fault.confirm(facts) is None  # the controller's side still reaches compute1
    controller.answers["/dev/tcp"] = (0, _connects({("172.31.77.11", 5672): "no answer"}))
    compute.answers["iptables -S"] = (0, (
        f"-A OUTPUT -d 172.31.77.10/32 -p tcp -m tcp --dport 5672 -m comment --comment "
        f"{facts['tag']} -c 7 420 -j DROP\n"))
    evidence = fault.confirm(facts)
    assert evidence == (
        "compute1: cut from controller (172.31.77.10) on 5672, both: "
        "compute1 -> 172.31.77.10:5672 no answer (across the cut); "
        "controller -> 172.31.77.11:5672 no answer (across the cut); "
        "compute1 -> 172.31.77.10:22 open (still open); "
        f"7 packets dropped by the rules tagged {facts['tag']}")
    # the path that must still work is cut too: not the fault asked for
    compute.answers["/dev/tcp"] = (0, _connects({("172.31.77.10", 5672): "no answer",
                                                 ("172.31.77.10", 22): "no answer"}))
    assert fault.confirm(facts) is None


def test_a_peer_on_the_harness_ssh_path_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY.replace("compute2: {address: 172.31.77.12, roles: [compute]}",
                                      "compute2: {address: 172.31.77.12, roles: [compute], "
                                      "ssh: {jump: controller}}"))
    with pytest.raises(FaultError, match="refusing to cut controller"):
        Partition(Host("compute2", load_inventory(path)), {"peers": "controller"}).prepare()


def test_the_undo_removes_exactly_its_rules_and_is_idempotent(inventory: Inventory) -> None:
    host = Host("compute1", inventory)
    fault = Partition(host, {"peers": "controller"})
    facts = fault.prepare()
    fault.undo(facts)
    fault.undo(facts)
    removals = [c for c in host.ran if c.startswith("while iptables -C")]
    assert len(removals) == 2
    assert all(f"--comment {facts['tag']} " in part
               for command in removals for part in command.split("; ") if "iptables" in part)
    host.answers["grep -F"] = (0, f"-A INPUT -s 172.31.77.10/32 -m comment --comment "
                                  f"{facts['tag']} -c 0 0 -j DROP\n")
    with pytest.raises(FaultError, match="left after the undo"):
        fault.undo(facts)


def test_connect_outcomes_are_read_from_recorded_output() -> None:
    text = ("10.0.0.5 5672 124\n10.0.0.5 22 0\n"
            "10.0.0.6 80 1 bash: connect: Connection refused bash: line 1: /dev/tcp/10.0.0.6/80: "
            "Connection refused\n10.0.0.7 22 1 bash: connect: Operation not permitted\n")
    assert netfilter.parse_connects(text) == {
        ("10.0.0.5", 5672): "no answer", ("10.0.0.5", 22): "open",
        ("10.0.0.6", 80): "refused", ("10.0.0.7", 22): "no answer"}


# -- packet_loss -------------------------------------------------------------------------------

def test_loss_is_measured_by_the_drop_rules_against_the_counting_rules(
        inventory: Inventory) -> None:
    host = Host("compute1", inventory)
    fault = PacketLoss(host, {"percent": "30 %", "interface": "eth0"})
    facts = fault.prepare()
    tag = facts["tag"]
    assert f"INPUT -i eth0 -m comment --comment {tag}" in facts["rules"]
    assert (f"INPUT -i eth0 -m statistic --mode random --probability 0.30000 -m comment "
            f"--comment {tag} -j DROP") in facts["rules"]
    assert facts["rules"][:2] == [
        f"INPUT -s 172.31.77.1 -p tcp --dport 22 -m comment --comment {tag} -j ACCEPT",
        f"OUTPUT -d 172.31.77.1 -p tcp --sport 22 -m comment --comment {tag} -j ACCEPT"]
    fault.inject(facts)
    host.answers["grep -F"] = (0, f"-A INPUT -i eth0 -m comment --comment {tag} -c 0 0\n")
    assert fault.confirm(facts) is None
    host.answers["grep -F"] = (0, (
        f"-A INPUT -i eth0 -m comment --comment {tag} -c 200 9000\n"
        f"-A INPUT -i eth0 -m statistic --mode random --probability 0.30000000000 -m comment "
        f"--comment {tag} -c 61 2900 -j DROP\n"))
    assert fault.confirm(facts) == (f"compute1: iptables dropped 61 of 200 packets (30.5 %, "
                                    f"asked 30 %) by the rules tagged {tag}")


def test_loss_to_peers_matches_their_addresses(inventory: Inventory) -> None:
    facts = PacketLoss(Host("compute1", inventory),
                       {"percent": "10", "peers": "role:compute", "direction": "outgoing"}
                       ).prepare()
    drops = [rule for rule in facts["rules"] if rule.endswith("DROP")]
    assert drops == [f"OUTPUT -d 172.31.77.12 -m statistic --mode random --probability 0.10000 "
                     f"-m comment --comment {facts['tag']} -j DROP"]


# -- freeze_service ----------------------------------------------------------------------------

def _frozen_host(inventory: Inventory) -> Host:
    return Host("controller", inventory, {
        "systemctl show -p ActiveState": (0, "ActiveState=active\nSubState=running\n"
                                             "MainPID=400\n"),
        r"^todo=": (0, "400\n401\n402\n"),
    })


def test_freeze_is_confirmed_by_state_t_of_every_process(inventory: Inventory) -> None:
    host = _frozen_host(inventory)
    fault = FreezeService(host, {"service": "nova-conductor"})
    host.service = lambda name: SimpleNamespace(  # type: ignore[method-assign]
        name=name, kind="systemd", unit=name, label=name, is_running=lambda: True,
        pids_script=lambda: "systemctl show -p MainPID --value nova-conductor",
        shell=lambda script: script)
    facts = fault.prepare()
    assert facts == {"service": "nova-conductor", "pids": [400, 401, 402]}
    fault.inject(facts)
    assert "kill -s STOP $p" in host.ran[-1] and "400 401 402" in host.ran[-1]
    host.answers["^for p in 400 401 402; do s="] = (0, "400 T\n401 S\n402 T\n")
    assert fault.confirm(facts) is None
    host.answers["^for p in 400 401 402; do s="] = (0, "400 T\n401 gone\n402 T\n")
    assert fault.confirm(facts) is None
    host.answers["^for p in 400 401 402; do s="] = (0, "400 T\n401 T\n402 T\n")
    assert fault.confirm(facts) == ("controller: nova-conductor: 3 process(es) read State: T "
                                    "(stopped) in /proc/<pid>/status: 400, 401, 402")
    # the undo continues the journalled processes and the service's current ones
    host.answers[r"^todo="] = (0, "400\n401\n402\n500\n")
    host.answers["^for p in 400 401 402 500; do s="] = (0, "400 S\n401 S\n402 S\n500 S\n")
    fault.undo(facts)
    fault.undo(facts)
    assert any("kill -s CONT $p" in c and "400 401 402 500" in c for c in host.ran)
    host.answers["^for p in 400 401 402 500; do s="] = (0, "400 T\n")
    with pytest.raises(FaultError, match="400 still stopped after SIGCONT"):
        fault.undo(facts)


def test_proc_states_are_parsed() -> None:
    assert parse_states("12 T\n13 S\n14 gone\nnoise\n") == {12: "T", 13: "S", 14: "gone"}


# -- disk_fill ---------------------------------------------------------------------------------

DF = ("    1B-blocks        Used       Avail Mounted on\n"
      "  10000000000  4000000000  5500000000 /var/lib/nova/instances\n")


def test_the_fill_is_sized_from_df_and_confirmed_by_df(inventory: Inventory) -> None:
    usage = parse_df(DF)
    assert usage is not None and round(usage.percent, 2) == 42.11
    assert fill_bytes(usage, 95) == 5025000000 - 0
    host = Host("compute1", inventory, {"^df ": (0, DF), "^stat": (0, "5025000000\n")})
    fault = DiskFill(host, {"path": "/var/lib/nova/instances", "percent": "95"})
    facts = fault.prepare()
    assert re.fullmatch(r"/var/lib/nova/instances/\.stackdrill-disk-fill-[0-9a-f]{8}",
                        facts["file"])
    fault.inject(facts)
    assert host.ran[-1].startswith(f"fallocate -l 5025000000 {facts['file']} ||")
    assert fault.confirm(facts) is None  # df still says 42 %
    host.answers["^df "] = (0, "10000000000 9025000000 475000000 /var/lib/nova/instances\n")
    assert fault.confirm(facts) == (
        f"compute1: df shows /var/lib/nova/instances 95.0 % used (475000000 bytes free; "
        f"42.1 % before), with {facts['file']} of 5025000000 bytes")
    fault.undo(facts)
    fault.undo(facts)
    removal = f"rm -f -- {facts['file']} && test ! -e {facts['file']}"
    assert host.ran.count(removal) == 2
    host.answers["^rm -f"] = (1, "")
    with pytest.raises(FaultError, match="still there after the undo"):
        fault.undo(facts)


def test_a_filesystem_already_fuller_is_refused(inventory: Inventory) -> None:
    host = Host("compute1", inventory, {"^df ": (0, DF)})
    with pytest.raises(FaultError, match="nothing to fill to 40 %"):
        DiskFill(host, {"path": "/var/lib/nova/instances", "percent": "40"}).prepare()


# -- refused at collection, by run and plan alike -------------------------------------------

PARTITION = """\
Feature: a partition on the fake cloud
  Scenario: compute cut off
    Given a compute host
    And the cloud is in its verified state
    When the fault "partition" is injected on the compute host:
      | peers | {peers} |
    Then the fault is confirmed within 5 seconds
"""


@pytest.mark.parametrize(("peers_text", "own", "fragment"), [
    ("role:storage", "198.51.100.1", "peers: role:storage: the inventory has no such host, so "
                                     "the set is empty"),
    ("compute2", "192.0.2.12", "the partition would include compute2 (192.0.2.12), the "
                               "harness's own address"),
])
@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_partition_the_inventory_cannot_hold_is_refused_at_collection(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        peers_text: str, own: str, fragment: str, command: str) -> None:
    from tests.unit.fake_cloud import fake_project, run_args, stackdrill
    from tests.unit.test_feature_input_refused import assert_refused, plan_args

    monkeypatch.setattr(peers.own_addresses, "__defaults__", (lambda address: own,))
    features, inventory = fake_project(tmp_path, PARTITION.format(peers=peers_text))
    argv = run_args(tmp_path, features, inventory) if command == "run" \
        else plan_args(features, inventory)
    ran = stackdrill(argv, tmp_path, capfd)
    assert_refused(ran, tmp_path, features, "drills.feature:5: fault 'partition': ", fragment)


def test_wip_drills_are_left_out_unless_the_expression_names_them() -> None:
    from stackdrill.cli import without_wip

    assert without_wip(None) == "not wip"
    assert without_wip("compute and not long") == "(compute and not long) and not wip"
    assert without_wip("wip") == "wip"
    assert without_wip("network and wip") == "network and wip"
