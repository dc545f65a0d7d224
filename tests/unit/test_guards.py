"""Blast-radius guards: protected hosts, role limits (and raising them with a tag), and the
production guard; every refusal happens before anything is journalled or injected."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from stackdrill.drill import Drill, DrillError, GuardRefused
from stackdrill.fault import Fault
from stackdrill.guards import Guards, limits_from_tags, parse_limit_tag
from stackdrill.inventory import Inventory, parse_inventory
from stackdrill.journal import Journal
from stackdrill.registry import Registries

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


def make_drill(tmp_path: Path, inv: Inventory, guards: Guards | None = None) -> Drill:
    EVENTS.clear()
    registries = Registries()
    registries.faults.register(Touch)
    return Drill("guarded", FakeTargets(inv), registries,  # type: ignore[arg-type]
                 Journal(tmp_path / "journal.jsonl"), guards=guards)


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
    with pytest.raises(ValueError, match=r"tag @allow_down_compute: expected "
                                         r"@allow_down_<role>_<count>"):
        parse_limit_tag("allow_down_compute")
    with pytest.raises(ValueError, match=r"unknown role 'computer' \(known: controller, "):
        parse_limit_tag("allow_down_computer_2")
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
