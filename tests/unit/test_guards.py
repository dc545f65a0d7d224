"""Blast-radius guards: protected hosts, role limits (and raising them with a tag), and the
production guard; every refusal happens before anything is journalled or injected."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from stackdrill.api._fault import Fault
from stackdrill.api._registry import Registries
from stackdrill.engine.drill import Drill, DrillError, GuardRefused
from stackdrill.engine.guards import Guards, limits_from_tags, parse_limit_tag, unknown_limit_names
from stackdrill.engine.journal import Journal
from stackdrill.inventory.loader import parse_inventory
from stackdrill.inventory.model import Inventory

INVENTORY: dict[str, Any] = {
    "cloud": "prod-eu",
    "hosts": {
        "ctl1": {"address": "192.0.2.10", "roles": ["controller"]},
        "cmp1": {"address": "192.0.2.11", "roles": ["compute"]},
        "cmp2": {"address": "192.0.2.12", "roles": ["compute"]},
        "cmp3": {"address": "192.0.2.13", "roles": ["compute", "storage"]},
        "sto1": {"address": "192.0.2.21", "roles": ["storage"]},
    },
    "protected": ["ctl1"],
}


def inventory(tmp_path: Path, **changes: Any) -> Inventory:
    return parse_inventory({**INVENTORY, **changes}, tmp_path / "inventory.yaml")


EVENTS: list[str] = []


class Touch(Fault):
    name = "touch"
    description = "records what it was asked to do"
    params: ClassVar[Mapping[str, Any]] = {}

    def plan(self) -> list[str]:
        return [f"touch {self.target.name}"]

    def prepare(self) -> dict[str, Any]:
        EVENTS.append(f"prepare {self.target.name}")
        return {}

    def inject(self, facts: Mapping[str, Any]) -> None:
        EVENTS.append(f"inject {self.target.name}")

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        return "touched"

    def undo(self, facts: Mapping[str, Any]) -> None:
        EVENTS.append(f"undo {self.target.name}")


class FakeTarget:
    def __init__(self, inventory: Inventory, name: str) -> None:
        self.name = name
        self.spec = inventory.host(name)


class FakeTargets:
    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.listeners: list[Any] = []

    def get(self, name: str) -> Any:
        return FakeTarget(self.inventory, name)

    def __iter__(self) -> Any:  # no host to observe: the verified state is empty
        return iter(())


def make_drill(tmp_path: Path, inv: Inventory, guards: Guards | None = None) -> Drill:
    EVENTS.clear()
    registries = Registries()
    registries.faults.register(Touch)
    drill = Drill("guarded", FakeTargets(inv), registries,  # type: ignore[arg-type]
                  Journal(tmp_path / "journal.jsonl"), guards=guards)
    drill.record_baseline()
    return drill


def test_a_protected_host_is_never_touched(tmp_path: Path) -> None:
    inv = inventory(tmp_path)
    drill = make_drill(tmp_path, inv, Guards.for_inventory(inv, confirm=None))
    with pytest.raises(GuardRefused, match=r"^fault touch refused: ctl1 is protected in "):
        drill.inject("touch", drill.targets.get("ctl1"), {})
    assert EVENTS == []
    assert not drill.journal.path.exists()
    assert drill.faults == []
    with pytest.raises(DrillError, match="recovery start_services refused: ctl1 is protected"):
        drill.recover("start_services", drill.targets.get("ctl1"), {})


def test_without_guards_the_drill_takes_them_from_the_inventory(tmp_path: Path) -> None:
    drill = make_drill(tmp_path, inventory(tmp_path))
    assert drill.guards.protected == frozenset({"ctl1"})
    with pytest.raises(GuardRefused, match="ctl1 is protected"):
        drill.inject("touch", drill.targets.get("ctl1"), {})


def test_one_host_per_role_under_faults_by_default(tmp_path: Path) -> None:
    drill = make_drill(tmp_path, inventory(tmp_path))
    drill.inject("touch", drill.targets.get("cmp1"), {})
    drill.inject("touch", drill.targets.get("cmp1"), {})  # the same host again: still one
    drill.inject("touch", drill.targets.get("sto1"), {})  # another role
    with pytest.raises(GuardRefused) as refused:
        drill.inject("touch", drill.targets.get("cmp2"), {})
    assert str(refused.value) == (
        "fault touch refused: it would put 2 compute hosts under faults at once (cmp1, cmp2), "
        "the limit is 1; a feature may raise it with @allow_down_compute_2")
    assert EVENTS == ["prepare cmp1", "inject cmp1", "prepare cmp1", "inject cmp1",
                      "prepare sto1", "inject sto1"]
    assert len(drill.journal.pending()) == 3
    # cmp3 is compute and storage: both limits apply
    with pytest.raises(GuardRefused, match="2 compute hosts"):
        drill.inject("touch", drill.targets.get("cmp3"), {})
    # once the faults are undone, another host may go down
    assert drill.undo_all() == []
    drill.inject("touch", drill.targets.get("cmp2"), {})
    assert EVENTS[-1] == "inject cmp2"


def test_a_fault_on_every_host_of_a_role_is_judged_as_a_whole(tmp_path: Path) -> None:
    """"Injected on every compute host" touches none of them when the set is over a limit,
    rather than breaking the first and being refused on the second."""
    drill = make_drill(tmp_path, inventory(tmp_path))
    computes = [drill.targets.get(name) for name in ("cmp1", "cmp2")]
    with pytest.raises(GuardRefused, match=r"2 compute hosts .*; no host of the 2 was touched$"):
        drill.inject_each("touch", computes, {})  # type: ignore[arg-type]
    assert EVENTS == []
    assert not drill.journal.path.exists()
    raised = make_drill(tmp_path, inventory(tmp_path),
                        Guards.for_inventory(inventory(tmp_path), confirm=None,
                                             limits={"compute": 2}))
    raised.inject_each("touch", computes, {})  # type: ignore[arg-type]
    # every undo is journalled before the first injection (which may take a host down)
    assert EVENTS == ["prepare cmp1", "prepare cmp2", "inject cmp1", "inject cmp2"]


def test_a_tag_raises_a_role_limit(tmp_path: Path) -> None:
    inv = inventory(tmp_path)
    limits = limits_from_tags(["drill", "allow_down_compute_2", "compute"])
    assert limits == {"compute": 2}
    drill = make_drill(tmp_path, inv, Guards.for_inventory(inv, limits))
    drill.inject("touch", drill.targets.get("cmp1"), {})
    drill.inject("touch", drill.targets.get("cmp2"), {})
    with pytest.raises(GuardRefused, match=r"3 compute hosts .*\(cmp1, cmp2, cmp3\), the limit "
                                           r"is 2; .*@allow_down_compute_3"):
        drill.inject("touch", drill.targets.get("cmp3"), {})
    assert EVENTS == ["prepare cmp1", "inject cmp1", "prepare cmp2", "inject cmp2"]
    # the storage limit is still 1 for cmp3 even with a higher compute limit
    storage = Guards.for_inventory(inv, {"compute": 3})
    assert storage.fault_refusal("touch", inv.host("cmp3"), [inv.host("sto1")]) is not None
    assert storage.fault_refusal("touch", inv.host("cmp3"),
                                 [inv.host("cmp1"), inv.host("cmp2")]) is None


def test_limit_tags_are_checked() -> None:
    assert parse_limit_tag("compute") is None
    assert parse_limit_tag("allow_down_object-storage_3") == ("object-storage", 3)
    with pytest.raises(ValueError, match=r"tag @allow_down_compute: expected @allow_down_<role>_"
                                         r"<count> or @allow_down_<cluster>_<count>"):
        parse_limit_tag("allow_down_compute")
    assert parse_limit_tag("allow_down_rabbitmq_cluster_2") == ("rabbitmq_cluster", 2)
    with pytest.raises(ValueError, match="at least 1"):
        parse_limit_tag("allow_down_compute_0")
    assert limits_from_tags(["allow_down_compute_2", "allow_down_compute_3"]) == {"compute": 3}


def test_production_refuses_every_fault_without_the_right_confirmation(tmp_path: Path) -> None:
    inv = inventory(tmp_path, production=True)
    source = str(tmp_path / "inventory.yaml")
    unconfirmed = Guards.for_inventory(inv)
    assert unconfirmed.production_refusal() == (
        f"production cloud 'prod-eu' ({source}): destructive drills need --confirm prod-eu; "
        f"nothing injected")
    wrong = Guards.for_inventory(inv, confirm="prod-us")
    assert wrong.production_refusal() == (
        f"--confirm 'prod-us' does not match the cloud of {source} ('prod-eu'); nothing injected")
    assert Guards.for_inventory(inv, confirm="prod-eu").production_refusal() is None

    for guards in (unconfirmed, wrong):
        drill = make_drill(tmp_path, inv, guards)
        with pytest.raises(GuardRefused, match="nothing injected"):
            drill.inject("touch", drill.targets.get("cmp1"), {})
        assert EVENTS == []
        assert not drill.journal.path.exists()

    drill = make_drill(tmp_path, inv, Guards.for_inventory(inv, confirm="prod-eu"))
    drill.inject("touch", drill.targets.get("cmp1"), {})
    assert EVENTS == ["prepare cmp1", "inject cmp1"]
    # confirmed production keeps the other guards
    with pytest.raises(GuardRefused, match="protected"):
        drill.inject("touch", drill.targets.get("ctl1"), {})


def test_production_without_a_cloud_name_cannot_be_confirmed(tmp_path: Path) -> None:
    inv = inventory(tmp_path, production=True, cloud=None)
    refusal = Guards.for_inventory(inv, confirm="anything").production_refusal()
    assert refusal is not None and "does not match" in refusal
    refusal = Guards.for_inventory(inv).production_refusal()
    assert refusal is not None and "without a cloud name" in refusal


def test_a_mismatched_confirmation_is_refused_even_outside_production(tmp_path: Path) -> None:
    inv = inventory(tmp_path)
    assert Guards.for_inventory(inv).production_refusal() is None
    assert Guards.for_inventory(inv, confirm="prod-eu").production_refusal() is None
    refusal = Guards.for_inventory(inv, confirm="staging").production_refusal()
    assert refusal is not None and refusal.startswith("--confirm 'staging' does not match")


# -- quorum ------------------------------------------------------------------------------------
CLUSTERED: dict[str, Any] = {
    "cloud": "prod-eu",
    "hosts": {
        "ctl1": {"address": "192.0.2.10", "roles": ["controller"]},
        "ctl2": {"address": "192.0.2.11", "roles": ["controller"]},
        "ctl3": {"address": "192.0.2.12", "roles": ["controller"]},
        "mq1": {"address": "192.0.2.21", "roles": ["messaging"]},
        "mq2": {"address": "192.0.2.22", "roles": ["messaging"]},
        "db1": {"address": "192.0.2.31", "roles": ["database"]},
        "db2": {"address": "192.0.2.32", "roles": ["database"]},
        "db3": {"address": "192.0.2.33", "roles": ["database"]},
        "db4": {"address": "192.0.2.34", "roles": ["database"]},
        "db5": {"address": "192.0.2.35", "roles": ["database"]},
    },
    "clusters": {"galera": ["ctl1", "ctl2", "ctl3"], "rabbitmq": ["mq1", "mq2"],
                 "big": ["db1", "db2", "db3", "db4", "db5"]},
}


def clustered(tmp_path: Path) -> Inventory:
    return parse_inventory(CLUSTERED, tmp_path / "inventory.yaml")


def test_a_cluster_keeps_its_quorum_even_when_the_role_limit_is_raised(tmp_path: Path) -> None:
    inv = clustered(tmp_path)
    assert inv.clusters["galera"] == ("ctl1", "ctl2", "ctl3")
    drill = make_drill(tmp_path, inv, Guards.for_inventory(inv, {"controller": 3}))
    drill.inject("touch", drill.targets.get("ctl1"), {})  # one of three keeps the quorum
    with pytest.raises(GuardRefused) as refused:
        drill.inject("touch", drill.targets.get("ctl2"), {})
    assert str(refused.value) == (
        "fault touch refused: it would put 2 of the 3 members of cluster galera under faults at "
        "once (ctl1, ctl2), the limit is 1 (fewer than half keeps its quorum); a feature that "
        "means to break it says @allow_down_galera_2")
    assert EVENTS == ["prepare ctl1", "inject ctl1"]
    assert len(drill.journal.pending()) == 1


def test_half_of_a_two_member_cluster_is_already_too_many(tmp_path: Path) -> None:
    inv = clustered(tmp_path)
    guards = Guards.for_inventory(inv)
    refusal = guards.fault_refusal("touch", inv.host("mq1"), [])
    assert refusal is not None and "1 of the 2 members of cluster rabbitmq" in refusal
    assert refusal.endswith("@allow_down_rabbitmq_1")
    declared = Guards.for_inventory(inv, limits_from_tags(["allow_down_rabbitmq_1"]))
    assert declared.fault_refusal("touch", inv.host("mq1"), []) is None


def test_five_members_tolerate_two_down_and_a_declared_drill_may_take_more(tmp_path: Path
                                                                          ) -> None:
    inv = clustered(tmp_path)
    db = [inv.host(f"db{n}") for n in range(1, 6)]
    guards = Guards.for_inventory(inv, {"database": 5})
    assert guards.fault_refusal("touch", db[1], db[:1]) is None
    refusal = guards.fault_refusal("touch", db[2], db[:2])
    assert refusal is not None and "3 of the 5 members of cluster big" in refusal
    declared = Guards.for_inventory(inv, {"database": 5, "big": 3})
    assert declared.fault_refusal("touch", db[2], db[:2]) is None
    assert declared.fault_refusal("touch", db[3], db[:3]) is not None  # 4 > 3
    # hosts outside the cluster do not count against it
    assert guards.fault_refusal("touch", db[0], [inv.host("ctl1"), inv.host("mq1")]) is None


def test_a_raised_limit_must_name_a_role_or_a_cluster(tmp_path: Path) -> None:
    inv = clustered(tmp_path)
    assert unknown_limit_names({"compute": 2, "galera": 2}, inv) is None
    problem = unknown_limit_names({"galera": 2, "galera-typo": 2}, inv)
    assert problem == (f"tag @allow_down_galera-typo_2: no role or cluster named 'galera-typo' "
                       f"(roles: controller, compute, storage, network, database, messaging, "
                       f"object-storage, block-storage; clusters in {inv.path}: big, galera, "
                       f"rabbitmq)")


def test_cluster_members_must_be_hosts_of_the_inventory(tmp_path: Path) -> None:
    from stackdrill.inventory.model import InventoryError

    with pytest.raises(InventoryError) as error:
        parse_inventory({**CLUSTERED, "clusters": {"galera": ["ctl1", "ctl9"]}},
                        tmp_path / "inventory.yaml")
    assert str(error.value) == (f"{tmp_path / 'inventory.yaml'}: clusters.galera[1]: no host "
                                f"named 'ctl9' (known: ctl1, ctl2, ctl3, db1, db2, db3, db4, "
                                f"db5, mq1, mq2)")
    with pytest.raises(InventoryError, match=r"clusters\.galera: expected non-empty list"):
        parse_inventory({**CLUSTERED, "clusters": {"galera": []}}, tmp_path / "inventory.yaml")
