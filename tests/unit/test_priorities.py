"""Restoration priority lists are data: the built-in Table 11-1 loads, and a malformed list is
refused with one line before anything is touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from stackdrill.builtin.faults.hold_services_at_boot import HoldServicesAtBoot
from stackdrill.builtin.recovery.restore_in_priority_order import RestoreInPriorityOrder

from stackdrill.core.params import ParamError
from stackdrill.hostkit.priorities import PriorityError, load_priorities, parse_priorities


def test_table_11_1_keeps_the_guide_s_order() -> None:
    order = load_priorities("ops-guide-table-11-1")
    assert [t.name for t in order.tiers] == [
        "Internal network connectivity", "Backing storage services",
        "Public network connectivity for user virtual machines",
        "nova-compute, nova-network, cinder hosts", "User virtual machines",
        "Message queue and database services", "Keystone services",
        "Image Catalog and Delivery services", "nova-scheduler services",
        "nova-api services", "Dashboard node"]
    services = order.services()
    assert services.index("mariadb") < services.index("keystone") < services.index("nova-api")
    assert "database_integrity" in order.tiers[5].checks
    assert "hypervisors_match_database" in order.tiers[9].checks


@pytest.mark.parametrize(("raw", "message"), [
    ({}, "non-empty list 'tiers'"),
    ({"tiers": [{"services": ["a"]}]}, "tier 1: each tier needs a name"),
    ({"tiers": [{"name": "x", "checks": ["reboot_everything"]}]}, "unknown check"),
    ({"tiers": [{"name": "x", "services": "mariadb"}]}, "services must be a list"),
    ({"tiers": [{"name": "x", "services": ["a"]}, {"name": "y", "services": ["a"]}]},
     "a is listed in two tiers"),
    ({"tiers": [{"name": "x", "start": ["a"]}]}, "unknown key 'start'"),
])
def test_a_malformed_list_is_refused(raw: object, message: str) -> None:
    with pytest.raises(PriorityError, match=message):
        parse_priorities(raw, "order.yaml")


def test_an_unknown_list_is_a_parameter_error_naming_the_built_ins(tmp_path: Path) -> None:
    with pytest.raises(ParamError, match="built in: ops-guide-table-11-1"):
        RestoreInPriorityOrder.validate({"order": "no-such-list"})
    broken = tmp_path / "mine.yaml"
    broken.write_text("tiers: [")
    with pytest.raises(ParamError, match=r"mine\.yaml"):
        HoldServicesAtBoot.validate({"order": str(broken)})
    mine = tmp_path / "ours.yaml"
    mine.write_text("tiers:\n  - name: db first\n    services: [mariadb]\n")
    RestoreInPriorityOrder.validate({"order": str(mine)})
