"""The upgrade vocabulary: record the cloud before an upgrade, check it against that record
after. The logic is in :mod:`stackdrill.engine.upgrade`; these steps gather what it needs."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_bdd import given, parsers, then

from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.canary import CanaryWorkload
from stackdrill.core.state import Snapshot, render_diff
from stackdrill.core.waiting import WaitTimeout, poll
from stackdrill.engine.drill import Drill
from stackdrill.engine.guards import changes_the_cloud
from stackdrill.engine.upgrade import (
    DIFF,
    UpgradeDiff,
    UpgradeError,
    UpgradeRecord,
    check_canaries,
    diff,
    load,
    now_iso,
    record_path,
    save,
)
from stackdrill.inventory.model import Inventory
from stackdrill.pytest_plugin import default_state_dir
from stackdrill.reporting.history import UPGRADE_CHANGES, api_versions, stackdrill_version

CHANGES = UPGRADE_CHANGES


def _cloud(inventory: Inventory, cloud_access: CloudAccess | None) -> tuple[str, CloudAccess]:
    if cloud_access is None:
        pytest.fail("the upgrade checks need the cloud's APIs: no clouds.yaml entry for this "
                    "inventory", pytrace=False)
    return inventory.cloud or cloud_access.cloud, cloud_access


@changes_the_cloud
@then("the pre-upgrade state is recorded")
def record_pre_upgrade(drill: Drill, baseline: Snapshot, canaries: CanaryWorkload,
                       inventory: Inventory, cloud_access: CloudAccess | None) -> None:
    name, access = _cloud(inventory, cloud_access)
    record = UpgradeRecord(cloud=name, recorded_at=now_iso(), versions=api_versions(access),
                           canaries=dict(canaries.servers), snapshot=baseline,
                           stackdrill_version=stackdrill_version())
    path = record_path(default_state_dir(), name)
    save(record, path)
    versions = ", ".join(f"{k} {v}" for k, v in sorted(record.versions.items()))
    drill.evidence.attach_text("pre-upgrade record", (
        f"stored at {path}\ncanaries: {dict(record.canaries)}\nversions: {versions}\n"
        f"verified state: {len(baseline.values)} values"))


@given("the pre-upgrade state is recorded", target_fixture="pre_upgrade")
def pre_upgrade(request: pytest.FixtureRequest, drill: Drill, inventory: Inventory,
                cloud_access: CloudAccess | None) -> UpgradeRecord:
    name, _ = _cloud(inventory, cloud_access)
    try:
        record = load(record_path(default_state_dir(), name), name)
    except UpgradeError as exc:
        message = str(exc)
    else:
        drill.evidence.attach_json("pre-upgrade record", record.to_json())
        return record
    pytest.fail(message, pytrace=False)


def _server(access: CloudAccess, server_id: str) -> Any:
    from openstack.exceptions import NotFoundException

    try:
        return access.connection().compute.get_server(server_id)
    except NotFoundException:
        return None


def _report(request: pytest.FixtureRequest, drill: Drill, found: UpgradeDiff) -> None:
    """The findings in the terminal summary, in Allure, and in the drill's history record."""
    request.config.stash[DIFF] = found
    drill.evidence.attach_text(CHANGES, "\n".join(found.changes()))
    lines = [*found.canary_problems, *found.version_problems]
    drill.evidence.attach_text("state difference: against the pre-upgrade state",
                               "\n".join([*lines, render_diff(found.deviations)])
                               if lines else render_diff(found.deviations))


@then("the same canaries still run where they ran")
def same_canaries(request: pytest.FixtureRequest, drill: Drill, pre_upgrade: UpgradeRecord,
                  cloud_access: CloudAccess | None) -> None:
    assert cloud_access is not None  # the record was loaded through it
    problems = check_canaries(pre_upgrade, lambda server_id: _server(cloud_access, server_id))
    if problems:
        _report(request, drill, UpgradeDiff(canary_problems=problems))
        pytest.fail(f"the canaries recorded before the upgrade: {'; '.join(problems)}",
                    pytrace=False)


@then(parsers.re(r"the cloud matches its pre-upgrade state within (?P<seconds>\d+) seconds?"),
      converters={"seconds": float})
def matches_pre_upgrade(request: pytest.FixtureRequest, drill: Drill,
                        pre_upgrade: UpgradeRecord, cloud_access: CloudAccess | None,
                        seconds: float, budget_scale: float) -> None:
    assert cloud_access is not None
    last: list[UpgradeDiff] = []

    def matches() -> bool:
        found = diff(pre_upgrade, drill.snapshot("after the upgrade"), api_versions(cloud_access),
                     drill.tolerance)
        last[:] = [found]
        return found.ok

    try:
        poll(matches, timeout=seconds * budget_scale, interval=5.0, max_interval=15.0,
             description="the cloud matching its pre-upgrade state")
    except WaitTimeout:
        found = last[-1]
        _report(request, drill, found)
        problems = found.problems()
        pytest.fail(f"the cloud does not match its pre-upgrade state after {seconds:g}s: "
                    f"{len(problems)} deviation(s), first: {problems[0]}", pytrace=False)
    _report(request, drill, last[-1])
