"""A journal written before the built-ins were renamed and moved into ``stackdrill.builtin``
still loads: each former module name leads to the class's module now."""

from __future__ import annotations

import importlib
import importlib.util

import pytest

from stackdrill.api._former_names import RENAMED, SPLIT, TOP_LEVEL, current_module
from stackdrill.api._origin import Origin, current_origin, load_class


@pytest.mark.parametrize("module", sorted({*RENAMED, *TOP_LEVEL}))
def test_every_former_top_level_name_leads_to_a_module_of_today(module: str) -> None:
    found = current_module(module, "AnyClass")
    assert found is not None and found.startswith("stackdrill.builtin.")
    assert importlib.util.find_spec(found) is not None


def test_a_split_module_leads_each_class_to_its_own_module() -> None:
    for former, classes in SPLIT.items():
        for qualname, module in classes.items():
            for name in (former, f"stackdrill.builtin.{former}"):
                found = current_module(name, qualname)
                assert found == f"stackdrill.builtin.{module}"
                assert hasattr(importlib.import_module(found), qualname)


@pytest.mark.parametrize(("origin", "kind", "name", "module"), [
    (Origin("faults.service_kill", "KillService", "/gone/faults/service_kill.py"),
     "fault", "kill_service", "stackdrill.builtin.faults.kill_service"),
    (Origin("faults.kill_service", "KillService", "/gone/faults/kill_service.py"),
     "fault", "kill_service", "stackdrill.builtin.faults.kill_service"),
    (Origin("faults.pull_disk", "PullDisk", "/gone/faults/pull_disk.py"),
     "fault", "pull_disk", "stackdrill.builtin.faults.pull_disk"),
    (Origin("recovery.swift_rings", "AddStorageNodeToRings", "/gone/recovery/swift_rings.py"),
     "recovery", "add_storage_node_to_rings", "stackdrill.builtin.recovery.storage_node_rings"),
    (Origin("recovery.compute_failure", "RemoveStaleDomains",
            "/gone/recovery/compute_failure.py"),
     "recovery", "remove_stale_domains", "stackdrill.builtin.recovery.remove_stale_domains"),
    (Origin("stackdrill.builtin.recovery.compute_failure", "EvacuateInstances",
            "/gone/recovery/compute_failure.py"),
     "recovery", "evacuate_instances", "stackdrill.builtin.recovery.evacuate_instances"),
])
def test_a_journal_from_before_the_renames_loads_the_class_of_today(
        origin: Origin, kind: str, name: str, module: str) -> None:
    expected = getattr(importlib.import_module(module), origin.qualname)
    assert load_class(origin, kind, name) is expected


def test_other_modules_keep_their_recorded_origin() -> None:
    for origin in (Origin("faults.my_own_fault", "Mine", "/home/me/faults/my_own_fault.py"),
                   Origin("conftest", "DyingStop", "/srv/drills/features/conftest.py"),
                   Origin("stackdrill.builtin.faults.kill_service", "KillService", None)):
        assert current_origin(origin) is origin
