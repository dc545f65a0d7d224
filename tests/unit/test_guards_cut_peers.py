"""A fault that cuts its host off from peers (a partition) counts as taking the peers' side down
too: the guards count the peers it cuts off as under the fault, for the protected hosts, the role
limits and the quorum, while it lasts; the drill and the dry run alike."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
from stackdrill.builtin.faults.partition import Partition

from stackdrill.api._registry import Registries
from stackdrill.core.params import Param
from stackdrill.engine.drill import Drill, GuardRefused
from stackdrill.engine.guards import Guards
from stackdrill.engine.journal import Journal
from stackdrill.engine.plan import PlannedScenario, plan_scenario
from stackdrill.hostkit import peers
from stackdrill.inventory.model import HostSpec, Inventory
from tests.unit.test_guards import EVENTS, FakeTargets, Touch, clustered, inventory


class Cut(Touch):
    """Records what it was asked to do, and cuts its host off from the peers it names."""

    name = "cut"
    params: ClassVar[Mapping[str, Any]] = {"peers": Param("the peers", peers.selectors)}

    @classmethod
    def cut_off(cls, raw_params: Mapping[str, str], inventory: Inventory,
                host: HostSpec) -> list[HostSpec]:
        return [spec for spec in peers.resolve(inventory, peers.selectors(raw_params["peers"]))
                if spec.name != host.name]


def drill_for(tmp_path: Path, inv: Inventory, guards: Guards) -> Drill:
    EVENTS.clear()
    registries = Registries()
    registries.faults.register(Touch)
    registries.faults.register(Cut)
    drill = Drill("cut", FakeTargets(inv), registries,  # type: ignore[arg-type]
                  Journal(tmp_path / "journal.jsonl"), guards=guards)
    drill.record_baseline()
    return drill


def test_isolating_a_controller_from_every_compute_puts_every_compute_under_it(
        tmp_path: Path) -> None:
    inv = inventory(tmp_path, protected=[])
    drill = drill_for(tmp_path, inv, Guards.for_inventory(inv))
    with pytest.raises(GuardRefused) as refused:
        drill.inject("cut", drill.targets.get("ctl1"), {"peers": "role:compute"})
    assert str(refused.value) == (
        "fault cut refused: it would put 3 compute hosts under faults at once (cmp1, cmp2, cmp3; "
        "cmp1, cmp2, cmp3 cut off from ctl1), the limit is 1; a feature may raise it with "
        "@allow_down_compute_3")
    assert EVENTS == []
    raised = drill_for(tmp_path, inv, Guards.for_inventory(inv, {"compute": 3, "storage": 2}))
    raised.inject("cut", raised.targets.get("ctl1"), {"peers": "role:compute"})
    assert EVENTS == ["prepare ctl1", "inject ctl1"]


def test_the_cut_off_peers_count_while_the_partition_lasts(tmp_path: Path) -> None:
    inv = inventory(tmp_path, protected=[])
    drill = drill_for(tmp_path, inv, Guards.for_inventory(inv))
    drill.confirm(drill.inject("cut", drill.targets.get("sto1"), {"peers": "cmp1"}), 1)
    with pytest.raises(GuardRefused, match=r"2 compute hosts under faults at once \(cmp1, "
                                           r"cmp2\), the limit is 1"):
        drill.inject("touch", drill.targets.get("cmp2"), {})
    drill.end_faults("cut")  # healed: cmp1 no longer counts
    drill.inject("touch", drill.targets.get("cmp2"), {})


def test_a_protected_peer_is_never_cut_off(tmp_path: Path) -> None:
    inv = inventory(tmp_path)  # ctl1 protected
    drill = drill_for(tmp_path, inv, Guards.for_inventory(inv))
    with pytest.raises(GuardRefused) as refused:
        drill.inject("cut", drill.targets.get("cmp1"), {"peers": "role:controller"})
    assert str(refused.value) == (f"fault cut refused: it would cut cmp1 off from ctl1, "
                                  f"protected in {inv.path}")


def test_cutting_a_cluster_member_off_from_the_others_counts_them_all(tmp_path: Path) -> None:
    inv = clustered(tmp_path)
    guards = Guards.for_inventory(inv, {"controller": 3})
    refusal = guards.fault_refusal("cut", inv.host("ctl1"), [],
                                   [inv.host("ctl2"), inv.host("ctl3")])
    assert refusal == (
        "fault cut refused: it would put 3 of the 3 members of cluster galera under faults at "
        "once (ctl1, ctl2, ctl3; ctl2, ctl3 cut off from ctl1), the limit is 1 (fewer than half "
        "keeps its quorum); a feature that means to break it says @allow_down_galera_3")
    # a peer outside the cluster does not count against it
    assert guards.fault_refusal("cut", inv.host("db1"), [], [inv.host("ctl1")]) is None


def test_a_partition_cuts_off_the_peers_it_names_but_not_its_own_host(tmp_path: Path) -> None:
    inv = inventory(tmp_path)
    names = [spec.name for spec in Partition.cut_off({"peers": "role:compute"}, inv,
                                                     inv.host("cmp1"))]
    assert names == ["cmp2", "cmp3"]
    assert Partition.cut_off({"peers": "role:network"}, inv, inv.host("cmp1")) == []
    assert Touch.cut_off({}, inv, inv.host("cmp1")) == []


class Step:
    def __init__(self, name: str, line: int, rows: list[list[str]] | None = None) -> None:
        self.name = name
        self.line_number = line
        self.datatable = None if rows is None else type(
            "Table", (), {"raw": staticmethod(lambda: rows)})()


def test_the_dry_run_shows_the_refusal_of_a_partition_over_the_role_limit(
        tmp_path: Path) -> None:
    inv = inventory(tmp_path, protected=[])
    registries = Registries()
    registries.faults.register(Partition)
    scenario = PlannedScenario("x.feature:3", "isolated", [
        Step('When the fault "partition" is injected on the controller host', 5,
             [["peers", "role:compute"]])])
    lines = plan_scenario(scenario, inv, registries, Guards.for_inventory(inv))
    assert lines[1] == "  fault partition on ctl1 (controller host, line 5)"
    assert lines[2].startswith("    ! fault partition refused: it would put 3 compute hosts")
