from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from stackdrill.builtin.faults.kill_service import KillService

from stackdrill.api._registry import DuplicateName, Registry, UnknownName, load_registries


class Thing:
    name = "thing"
    description = "a thing"


def test_unknown_name_lists_what_is_known() -> None:
    registry: Registry[Any] = Registry("fault")
    registry.register(Thing)
    with pytest.raises(UnknownName, match=r"^unknown fault 'other' \(known: thing\)$"):
        registry.get("other")


def test_a_name_cannot_be_taken_twice_by_different_classes() -> None:
    registry: Registry[Any] = Registry("fault")
    registry.register(Thing)
    registry.register(Thing)
    other = type("Other", (), {"name": "thing", "description": ""})
    with pytest.raises(DuplicateName, match="registered twice"):
        registry.register(other)


def test_a_class_without_a_name_is_refused() -> None:
    registry: Registry[Any] = Registry("probe")
    with pytest.raises(ValueError, match="has no `name`"):
        registry.register(type("Anonymous", (), {}))


def test_builtins_arrive_through_the_entry_point_hook() -> None:
    registries = load_registries()
    assert registries.faults.get("kill_service") is KillService
    assert {"start_services", "restart_services"} <= set(registries.recoveries)
    assert {"systemd_units", "libvirt_domains"} <= set(registries.probes)


def test_extra_plugins_use_the_same_hook() -> None:
    class Custom:
        name = "unplug_everything"
        description = "custom"

    def pytest_stackdrill_register(registries: Any) -> None:
        registries.faults.register(Custom)

    plugin = SimpleNamespace(pytest_stackdrill_register=pytest_stackdrill_register)
    registries = load_registries([plugin])
    assert registries.faults.get("unplug_everything") is Custom
    assert "kill_service" in registries.faults
