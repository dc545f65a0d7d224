"""Galera's bootstrap after every member went down, as operators do it: each member's
grastate.dat, the position ``--wsrep-recover`` finds where it says -1, the member with the
highest seqno chosen whatever ``safe_to_bootstrap`` says (the tie and the stale flag included),
and the runbook and the stale-flag fault played against three fake members."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

import pytest
from stackdrill.builtin.faults import stale_safe_to_bootstrap
from stackdrill.builtin.recovery import bootstrap_galera

from stackdrill.api import Target
from stackdrill.api._fault import FaultError
from stackdrill.hostkit import galera_recovery as galera
from stackdrill.hostkit.galera import GaleraNode, GraState
from stackdrill.inventory.loader import load_inventory
from stackdrill.inventory.model import Inventory

UUID = "b048715d-4369-11e4-b7ef-af1999a6c989"
OTHER_UUID = "438f1f9f-6b1a-11e7-8ee6-b772e69ca864"


def grastate(seqno: int, safe: int | None = 0, uuid: str = UUID) -> str:
    flag = "" if safe is None else f"safe_to_bootstrap: {safe}\n"
    return f"# GALERA saved state\nversion: 2.1\nuuid:    {uuid}\nseqno:   {seqno}\n{flag}"


# -- grastate.dat -------------------------------------------------------------------------------
def test_a_clean_stop_leaves_its_seqno_and_flag() -> None:
    state = galera.saved_state(grastate(1234, 1), "c1")
    assert (state.uuid, state.seqno, state.safe_to_bootstrap) == (UUID, 1234, True)


def test_a_crash_leaves_seqno_minus_one_and_no_flag_is_not_safe() -> None:
    state = galera.saved_state(grastate(-1, None), "c1")
    assert (state.seqno, state.safe_to_bootstrap) == (-1, False)


@pytest.mark.parametrize(("text", "fragment"), [
    ("# GALERA saved state\nversion: 2.1\nseqno: 5\n", "no cluster uuid"),
    (f"uuid: {UUID}\nseqno: many\n", "no seqno"),
    ("", "no cluster uuid"),
])
def test_a_grastate_without_uuid_or_seqno_is_refused(text: str, fragment: str) -> None:
    with pytest.raises(galera.GaleraStateError, match=fragment) as raised:
        galera.saved_state(text, "controller2:/var/lib/mysql/grastate.dat")
    assert "controller2:/var/lib/mysql/grastate.dat" in str(raised.value)


# -- the recovered position ---------------------------------------------------------------------
SERVER_LOG = textwrap.dedent(f"""\
    2026-12-07  6:01:02 0 [Note] InnoDB: Starting crash recovery from checkpoint LSN=46231
    2026-12-07  6:01:03 0 [Note] WSREP: Recovered position: {UUID}:8204
    2026-12-07  6:01:03 0 [Note] InnoDB: Shutdown completed""")
GALERA_RECOVERY = textwrap.dedent(f"""\
    WSREP: Recovered position {UUID}:8210
    --wsrep_start_position={UUID}:8210""")


@pytest.mark.parametrize(("output", "seqno"), [
    (SERVER_LOG, 8204),
    (GALERA_RECOVERY, 8210),
    (f"_WSREP_START_POSITION=--wsrep_start_position={UUID}:77", 77),
    (f"WSREP: Recovered position: {UUID}:91,0-1-91", 91),  # a GTID after the position
    (f"--wsrep_start_position={UUID}:-1", -1),
])
def test_the_recovered_position_is_read_from_the_server_or_galera_recovery(output: str,
                                                                          seqno: int) -> None:
    assert galera.parse_recovered_position(output) == galera.Position(UUID, seqno)


def test_no_position_when_the_recovery_printed_none() -> None:
    assert galera.parse_recovered_position("WSREP: Position recovery skipped.") is None
    assert galera.parse_recovered_position("") is None


def test_a_member_at_minus_one_takes_the_recovered_position() -> None:
    saved = galera.saved_state(grastate(-1), "c1")
    state = galera.node_state("c1", saved, galera.Position(UUID, 8204))
    assert (state.seqno, state.recovered, state.safe_to_bootstrap) == (8204, True, False)
    assert "recovered by --wsrep-recover" in state.describe()
    clean = galera.node_state("c2", galera.saved_state(grastate(8000, 1), "c2"))
    assert (clean.seqno, clean.recovered) == (8000, False)
    with pytest.raises(galera.GaleraStateError, match="recovered no position"):
        galera.node_state("c3", saved, None)


# -- the choice ---------------------------------------------------------------------------------
def node(host: str, seqno: int, safe: bool = False, uuid: str = UUID,
         recovered: bool = True) -> galera.NodeState:
    return galera.NodeState(host, uuid, seqno, safe, recovered)


def test_the_highest_seqno_wins() -> None:
    choice = galera.choose_bootstrap_node([node("c1", 100), node("c2", 120), node("c3", 110)])
    assert choice.node.host == "c2"
    assert choice.needs_marking
    assert "c2 wins: the highest seqno, 120" in choice.reasons
    assert any(line.startswith("c1: seqno 100") for line in choice.reasons)
    assert any("c2 is not marked safe_to_bootstrap: the next step marks it" in r
               for r in choice.reasons)


def test_the_highest_wins_over_a_member_marked_safe_that_is_behind() -> None:
    """The stale flag: c1 is marked safe to bootstrap, but the others committed on after it
    left. Bootstrapping it would lose those transactions; the most advanced is chosen and
    marked instead."""
    marked = node("c1", 1200, safe=True, recovered=False)
    choice = galera.choose_bootstrap_node([marked, node("c2", 1234), node("c3", 1234)])
    assert choice.node.host == "c2"
    assert choice.needs_marking
    assert ("c1 is marked safe_to_bootstrap but its seqno 1200 is 34 behind: bootstrapping it "
            "would lose those transactions") in choice.reasons
    assert any("tied with c3; none of them is marked safe_to_bootstrap, so the first by name"
               in line for line in choice.reasons)
    assert "c1: seqno 1200 (in grastate.dat), safe_to_bootstrap: 1" in choice.reasons[0]


def test_of_members_tied_at_the_highest_the_one_marked_safe_wins() -> None:
    choice = galera.choose_bootstrap_node([node("c1", 50), node("c2", 50),
                                           node("c3", 50, safe=True)])
    assert choice.node.host == "c3"
    assert not choice.needs_marking
    assert any("tied with c1, c2; of those it is marked safe_to_bootstrap" in line
               for line in choice.reasons)


def test_a_tie_none_marked_goes_to_the_first_by_name() -> None:
    choice = galera.choose_bootstrap_node([node("c3", 7), node("c2", 7), node("c1", 6)])
    assert choice.node.host == "c2"
    assert choice.needs_marking


def test_a_clean_shutdown_bootstraps_the_last_to_leave_without_marking() -> None:
    choice = galera.choose_bootstrap_node([
        node("c1", 90, recovered=False), node("c2", 95, recovered=False),
        node("c3", 99, safe=True, recovered=False)])
    assert choice.node.host == "c3"
    assert not choice.needs_marking
    assert not any("behind" in line for line in choice.reasons)


def test_members_whose_position_is_unknown_are_left_out() -> None:
    choice = galera.choose_bootstrap_node([node("c1", -1), node("c2", 12),
                                           node("c3", 40, uuid=galera.UNDEFINED_UUID)])
    assert choice.node.host == "c2"
    assert "c1 is left out: its position is unknown" in choice.reasons
    assert "c3 is left out: its position is unknown" in choice.reasons


def test_no_known_position_or_two_histories_is_refused() -> None:
    with pytest.raises(galera.GaleraStateError, match="no member has a known position"):
        galera.choose_bootstrap_node([node("c1", -1), node("c2", -1)])
    with pytest.raises(galera.GaleraStateError, match="different clusters"):
        galera.choose_bootstrap_node([node("c1", 5), node("c2", 9, uuid=OTHER_UUID)])


# -- a whole cluster ----------------------------------------------------------------------------
def status(size: int = 3, state: str = "Primary", local: str = "Synced",
           uuid: str = UUID, committed: str = "10") -> dict[str, str]:
    return {"wsrep_cluster_size": str(size), "wsrep_cluster_status": state,
            "wsrep_local_state_comment": local, "wsrep_cluster_state_uuid": uuid,
            "wsrep_last_committed": committed}


def test_the_cluster_is_whole_when_every_member_is_synced_in_one_primary_of_all() -> None:
    assert galera.cluster_problems({"c1": status(), "c2": status(), "c3": status()}, 3) == []


@pytest.mark.parametrize(("statuses", "fragment"), [
    ({"c1": status(), "c2": status(), "c3": None}, "c3: MariaDB does not answer"),
    ({"c1": status(size=2), "c2": status(size=2), "c3": status(1, "non-Primary")},
     "c3 is in a non-Primary component"),
    ({"c1": status(size=2), "c2": status(), "c3": status()}, "c1 sees a cluster of 2, not 3"),
    ({"c1": status(), "c2": status(local="Joining: receiving State Transfer"),
      "c3": status(local="Donor/Desynced")}, "c2 is Joining"),
    ({"c1": status(), "c2": status(), "c3": status(uuid=OTHER_UUID)},
     "different cluster state uuids"),
])
def test_what_keeps_the_cluster_from_being_whole(statuses: Mapping[str, Any],
                                                 fragment: str) -> None:
    problems = galera.cluster_problems(statuses, 3)
    assert any(fragment in problem for problem in problems), problems


def test_last_committed_is_a_number_or_minus_one() -> None:
    assert galera.last_committed(status(committed="1234")) == 1234
    assert galera.last_committed(status(committed="")) == -1
    assert galera.last_committed(None) == -1


# -- the runbook against three fake members -----------------------------------------------------
INVENTORY = """\
hosts:
  controller1: {address: 192.0.2.31, roles: [controller]}
  controller2: {address: 192.0.2.32, roles: [controller]}
  controller3: {address: 192.0.2.33, roles: [controller]}
clusters:
  galera: [controller1, controller2, controller3]
  rabbitmq: [controller1, controller2, controller3]
"""


class Cluster:
    """Three Galera members: each one's grastate.dat, what its recovery prints, whether its
    MariaDB runs and what it commits; every command each ran, in order."""

    def __init__(self, inventory: Inventory, saved: dict[str, str],
                 recovered: dict[str, int]) -> None:
        self.inventory = inventory
        self.saved = dict(saved)
        self.recovered = recovered
        self.running: dict[str, bool] = dict.fromkeys(saved, False)
        self.bootstrapped: str | None = None
        self.log: list[tuple[str, str]] = []
        self.hosts = {name: FakeMember(self, name) for name in saved}

    def status(self, host: str) -> dict[str, str] | None:
        if not self.running[host]:
            return None
        members = sum(self.running.values())
        return status(size=members, committed="100")


class FakeResult:
    def __init__(self, stdout: str = "", ok: bool = True) -> None:
        self.stdout, self.stderr, self.ok = stdout, "", ok
        self.exit_status = 0 if ok else 1


class FakeService:
    kind = "systemd"
    unit = "mariadb"
    label = "mariadb"

    def __init__(self, member: FakeMember) -> None:
        self.member = member

    def inside(self, script: str) -> str:
        return script

    def command(self, action: str) -> str:
        return f"systemctl {action} mariadb"

    def describe(self) -> str:
        return "unit mariadb"

    def is_running(self) -> bool:
        return self.member.cluster.running[self.member.name]

    def start_again(self, timeout: float = 60.0) -> None:
        cluster = self.member.cluster
        if cluster.bootstrapped is None:
            raise AssertionError(f"{self.member.name} started before any bootstrap")
        cluster.log.append((self.member.name, "start"))
        cluster.running[self.member.name] = True

    def stop(self, timeout: float = 60.0) -> None:
        self.member.cluster.running[self.member.name] = False


class FakeMember:
    def __init__(self, cluster: Cluster, name: str) -> None:
        self.cluster = cluster
        self.name = name
        self.inventory = cluster.inventory
        self.spec = cluster.inventory.hosts[name]

    def peer(self, name: str) -> FakeMember:
        return self.cluster.hosts[name]

    def service(self, name: str) -> FakeService:
        assert name == "mariadb"
        return FakeService(self)

    def run(self, command: str, **_: Any) -> FakeResult:
        cluster = self.cluster
        cluster.log.append((self.name, command))
        if command == galera.READ_GRASTATE:
            return FakeResult(cluster.saved[self.name])
        if command == galera.RECOVER_POSITION:
            return FakeResult(f"WSREP: Recovered position: {UUID}:"
                              f"{cluster.recovered[self.name]}\n")
        if command == galera.MARK_SAFE:
            cluster.saved[self.name] = cluster.saved[self.name].replace(
                "safe_to_bootstrap: 0", "safe_to_bootstrap: 1")
        elif command.startswith("galera_new_cluster"):
            if "safe_to_bootstrap: 1" not in cluster.saved[self.name]:
                return FakeResult("It may not be safe to bootstrap the cluster", ok=False)
            cluster.bootstrapped = self.name
            cluster.running[self.name] = True
        return FakeResult()


def observe(member: FakeMember) -> GaleraNode:
    seen = member.cluster.status(member.name)
    if seen is None:
        return GaleraNode("stopped", GraState("read"))
    return GaleraNode("up", GraState("read"), MappingProxyType(seen))


@pytest.fixture
def inventory(tmp_path: Path) -> Inventory:
    path = tmp_path / "inventory.yaml"
    path.write_text(INVENTORY)
    return load_inventory(path)


def run_bootstrap(cluster: Cluster, monkeypatch: pytest.MonkeyPatch
                  ) -> tuple[bootstrap_galera.BootstrapGalera, dict[str, list[str]]]:
    monkeypatch.setattr(bootstrap_galera, "observe_node", observe)
    recovery = bootstrap_galera.BootstrapGalera(
        cast(Target, cluster.hosts["controller1"]), {"timeout": "5"})
    notes: dict[str, list[str]] = {}

    def note(label: str, call: Any) -> list[str]:
        notes[label] = call()
        return notes[label]

    monkeypatch.setattr(recovery, "api_call", note)
    for step in recovery.runbook():
        step.action()
    return recovery, notes


def test_every_member_crashed_the_most_advanced_is_bootstrapped_then_the_others_join(
        inventory: Inventory, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = Cluster(inventory, {name: grastate(-1) for name in
                                  ("controller1", "controller2", "controller3")},
                      {"controller1": 8200, "controller2": 8204, "controller3": 8201})
    recovery, notes = run_bootstrap(cluster, monkeypatch)
    assert cluster.bootstrapped == "controller2"
    assert all(cluster.running.values())
    recoveries = [host for host, command in cluster.log if command == galera.RECOVER_POSITION]
    assert recoveries == ["controller1", "controller2", "controller3"]
    marked = [host for host, command in cluster.log if command == galera.MARK_SAFE]
    assert marked == ["controller2"]
    starts = [host for host, command in cluster.log if command == "start"]
    assert starts == ["controller1", "controller3"]
    assert "controller2 wins: the highest seqno, 8204" in notes["galera bootstrap choice"]
    assert recovery.choice is not None and recovery.choice.node.host == "controller2"
    assert len(notes["galera cluster"]) == 3


def test_the_stale_flag_is_passed_over_for_the_highest_seqno(
        inventory: Inventory, monkeypatch: pytest.MonkeyPatch) -> None:
    """controller1 left cleanly at 1200 and was marked safe to bootstrap by hand; the others
    crashed at 1234. Galera would have let controller1 bootstrap; the runbook does not."""
    cluster = Cluster(inventory, {"controller1": grastate(1200, 1), "controller2": grastate(-1),
                                  "controller3": grastate(-1)},
                      {"controller1": 0, "controller2": 1234, "controller3": 1234})
    _, notes = run_bootstrap(cluster, monkeypatch)
    assert cluster.bootstrapped == "controller2"
    recovered = [host for host, command in cluster.log if command == galera.RECOVER_POSITION]
    assert recovered == ["controller2", "controller3"]  # controller1's file knows its seqno
    reasons = notes["galera bootstrap choice"]
    assert ("controller1 is marked safe_to_bootstrap but its seqno 1200 is 34 behind: "
            "bootstrapping it would lose those transactions") in reasons
    assert "safe_to_bootstrap: 1" in cluster.saved["controller2"]


def test_a_cluster_found_up_is_not_bootstrapped_again(
        inventory: Inventory, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = Cluster(inventory, {name: grastate(-1) for name in
                                  ("controller1", "controller2", "controller3")}, {})
    cluster.running.update(controller1=True, controller3=True)
    cluster.bootstrapped = "controller3"  # Galera's pc.recovery formed it
    recovery, notes = run_bootstrap(cluster, monkeypatch)
    assert recovery.primary == "controller1"
    assert not [c for _, c in cluster.log if c.startswith(("galera_new_cluster", "sed", "if "))]
    assert [host for host, command in cluster.log if command == "start"] == ["controller2"]
    assert any("nothing is bootstrapped" in line for line in notes["galera members"])


def test_the_rollback_clears_the_new_cluster_variable_on_every_member(
        inventory: Inventory) -> None:
    cluster = Cluster(inventory, dict.fromkeys(("controller1", "controller2", "controller3"),
                                               grastate(-1)), {})
    recovery = bootstrap_galera.BootstrapGalera(cast(Target, cluster.hosts["controller1"]), {})
    done = recovery.rollback()
    assert len(done) == 3
    assert all(command == "systemctl unset-environment _WSREP_NEW_CLUSTER"
               for _, command in cluster.log)


def test_the_runbook_names_every_member_and_contacts_none(inventory: Inventory) -> None:
    cluster = Cluster(inventory, dict.fromkeys(("controller1", "controller2", "controller3"),
                                               grastate(-1)), {})
    steps = bootstrap_galera.BootstrapGalera(cast(Target, cluster.hosts["controller1"]),
                                             {}).runbook()
    assert "(controller1, controller2, controller3)" in steps[0].title
    assert cluster.log == []


# -- the stale flag, as a fault -----------------------------------------------------------------
def stale_fault(cluster: Cluster, monkeypatch: pytest.MonkeyPatch
                ) -> stale_safe_to_bootstrap.StaleSafeToBootstrap:
    monkeypatch.setattr(stale_safe_to_bootstrap, "observe_node", observe)
    return stale_safe_to_bootstrap.StaleSafeToBootstrap(
        cast(Target, cluster.hosts["controller1"]), {})


def test_the_stale_flag_is_confirmed_from_the_file_and_the_others_commits(
        inventory: Inventory, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = Cluster(inventory, {"controller1": grastate(90, 1), "controller2": grastate(-1),
                                  "controller3": grastate(-1)}, {})
    cluster.running.update(controller2=True, controller3=True)
    fault = stale_fault(cluster, monkeypatch)
    facts = {"others": ["controller2", "controller3"]}
    evidence = fault.confirm(facts)
    assert evidence == ("controller1: MariaDB stopped, grastate.dat seqno 90, safe_to_bootstrap: "
                        "1; controller2 committed 100 (10 ahead); controller3 committed 100 "
                        "(10 ahead)")
    cluster.saved["controller1"] = grastate(100, 1)  # the others have not committed past it
    assert fault.confirm(facts) is None
    cluster.saved["controller1"] = grastate(90, 0)  # not marked
    assert fault.confirm(facts) is None


def test_the_stale_flag_needs_a_whole_cluster_to_leave_behind(
        inventory: Inventory, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = Cluster(inventory, dict.fromkeys(("controller1", "controller2", "controller3"),
                                               grastate(-1)), {})
    cluster.running.update(controller1=True, controller2=True)
    with pytest.raises(FaultError, match="cluster galera is not whole: controller1 sees a "
                                         "cluster of 2, not 3"):
        stale_fault(cluster, monkeypatch).prepare()


def test_the_undo_marks_the_member_unsafe_again_and_needs_a_primary_to_rejoin(
        inventory: Inventory, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = Cluster(inventory, {"controller1": grastate(90, 1), "controller2": grastate(-1),
                                  "controller3": grastate(-1)}, {})
    fault = stale_fault(cluster, monkeypatch)
    facts = {"others": ["controller2", "controller3"]}
    with pytest.raises(FaultError, match="bootstrap the cluster first"):
        fault.undo(facts)
    assert (("controller1", galera.MARK_UNSAFE)) in cluster.log
    cluster.running.update(controller2=True, controller3=True)
    cluster.bootstrapped = "controller2"
    fault.undo(facts)
    assert cluster.running["controller1"]
    fault.undo(facts)  # idempotent: it runs now
