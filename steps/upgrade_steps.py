"""The upgrade vocabulary: check that nothing needs cleaning and record the cloud before an
upgrade, check it against that record after. The logic is in
:mod:`stackdrill.engine.upgrade_phases`; these steps gather what it needs."""

from __future__ import annotations

import functools

import pytest
from pytest_bdd import given, parsers, then

from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.canary import CanaryWorkload
from stackdrill.core.state import Snapshot
from stackdrill.engine.drill import Drill
from stackdrill.engine.guards import changes_the_cloud
from stackdrill.engine.state_dir import default_state_dir
from stackdrill.engine.upgrade import UpgradeError, UpgradeRecord, releases_of
from stackdrill.engine.upgrade_phases import (
    check_cleaning,
    check_recorded_canaries,
    load_pre_upgrade,
    wait_for_pre_upgrade_state,
)
from stackdrill.engine.upgrade_phases import record_pre_upgrade as store_record
from stackdrill.hosts.target import Targets
from stackdrill.inventory.model import Inventory
from stackdrill.reporting.history import (
    api_versions,
    session_service_versions,
    stackdrill_version,
)

NO_CLOUD = ("the upgrade checks need the cloud's APIs: no clouds.yaml entry for this "
            "inventory")


def _cloud(inventory: Inventory, cloud_access: CloudAccess | None) -> tuple[str, CloudAccess]:
    """The cloud's name in its record, and its APIs."""
    if cloud_access is None:
        pytest.fail(NO_CLOUD, pytrace=False)
    return inventory.cloud or cloud_access.cloud, cloud_access


def _fail_on(problem: str | None) -> None:
    if problem is not None:
        pytest.fail(problem, pytrace=False)


@given("the cloud needs no cleaning before the upgrade")
def needs_no_cleaning(request: pytest.FixtureRequest, drill: Drill, targets: Targets,
                      inventory: Inventory, cloud_access: CloudAccess | None) -> None:
    """Read only: Nova's instances against each compute's libvirt domains and instances
    directory, deleted instances left behind, services down, online data migrations pending."""
    _, access = _cloud(inventory, cloud_access)
    versions = session_service_versions(request.config.stash, targets)
    _fail_on(check_cleaning(request.config, drill, access, targets, versions))


@changes_the_cloud
@then("the pre-upgrade state is recorded")
def record_pre_upgrade(request: pytest.FixtureRequest, drill: Drill, baseline: Snapshot,
                       canaries: CanaryWorkload, targets: Targets, inventory: Inventory,
                       cloud_access: CloudAccess | None) -> None:
    name, access = _cloud(inventory, cloud_access)
    store_record(drill, default_state_dir(), name, versions=api_versions(access),
                 canaries=canaries.servers, baseline=baseline,
                 stackdrill_version=stackdrill_version(),
                 releases=releases_of(session_service_versions(request.config.stash, targets)))


@given("the pre-upgrade state is recorded", target_fixture="pre_upgrade")
def pre_upgrade(drill: Drill, inventory: Inventory,
                cloud_access: CloudAccess | None) -> UpgradeRecord:
    name, _ = _cloud(inventory, cloud_access)
    try:
        return load_pre_upgrade(drill, default_state_dir(), name)
    except UpgradeError as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)


@then("the same canaries still run where they ran")
def same_canaries(request: pytest.FixtureRequest, drill: Drill, pre_upgrade: UpgradeRecord,
                  cloud_access: CloudAccess | None) -> None:
    assert cloud_access is not None  # the record was loaded through it
    _fail_on(check_recorded_canaries(request.config, drill, pre_upgrade, cloud_access))


@then(parsers.re(r"the cloud matches its pre-upgrade state within (?P<seconds>\d+) seconds?"),
      converters={"seconds": float})
def matches_pre_upgrade(request: pytest.FixtureRequest, drill: Drill,
                        pre_upgrade: UpgradeRecord, cloud_access: CloudAccess | None,
                        targets: Targets, seconds: float, budget_scale: float) -> None:
    assert cloud_access is not None
    releases = releases_of(session_service_versions(request.config.stash, targets))
    _fail_on(wait_for_pre_upgrade_state(request.config, drill, pre_upgrade,
                                        functools.partial(api_versions, cloud_access),
                                        seconds=seconds, budget_scale=budget_scale,
                                        releases=releases))
