"""Cloud-level drill vocabulary: the canary workload and the data on its volumes."""

from __future__ import annotations

import pytest
from pytest_bdd import given, then

from stackdrill.cloud.access import CloudAccess, CloudError
from stackdrill.cloud.canary import CanaryWorkload
from stackdrill.cloud.volume_data import (
    Readback,
    WrittenData,
    verify_patterns,
    write_patterns,
)
from stackdrill.engine.drill import Drill
from stackdrill.engine.guards import changes_the_cloud
from stackdrill.hosts.target import Targets


@changes_the_cloud
@given("the canary workload is running")
def canary_workload(canaries: CanaryWorkload) -> None:
    """The ``canaries`` fixture creates or reuses one canary server per compute host."""


def _volumes(canaries: CanaryWorkload) -> list[str]:
    if not canaries.volumes:
        pytest.fail("the canary servers have no volumes: the cloud has no block storage",
                    pytrace=False)
    return list(canaries.volumes.values())


@changes_the_cloud
@given("each canary volume holds a known pattern", target_fixture="written_data")
def known_pattern(canaries: CanaryWorkload, cloud_access: CloudAccess, targets: Targets,
                  drill: Drill) -> WrittenData:
    written: WrittenData | None = None
    try:
        written = write_patterns(cloud_access, targets, _volumes(canaries))
    except CloudError as exc:
        message = str(exc)
    if written is None:
        pytest.fail(message, pytrace=False)
    drill.evidence.attach_text("data written to the canary volumes", written.render())
    return written


@then("each canary volume reads back its pattern through its guest's disk")
def reads_back(written_data: WrittenData, cloud_access: CloudAccess, targets: Targets,
               drill: Drill) -> None:
    results: list[Readback] | None = None
    try:
        results = verify_patterns(cloud_access, targets, written_data)
    except CloudError as exc:
        message = str(exc)
    if results is None:
        pytest.fail(message, pytrace=False)
    drill.evidence.attach_text("data read back from the canary volumes",
                               "\n".join(r.render() for r in results))
    failed = [r.render() for r in results if not r.ok]
    if failed:
        pytest.fail("; ".join(failed), pytrace=False)
