"""Tempest, OpenStack's own functional tests, as a verification step:
``Then Tempest's "<regex>" tests pass`` runs the tests the regex selects against the drill's
cloud (:mod:`stackdrill.cloud.tempest.verification`) and fails unless at least one ran and none
failed. Each test is a sub-step of the step in the evidence. A regex that does not compile, or
that selects none of the tests the Tempest virtualenv lists, is refused at collection, and so is
a run (not a plan) without Tempest installed (:mod:`stackdrill.cloud.tempest.selection`,
:mod:`stackdrill.engine.tempest_check`)."""

from __future__ import annotations

import pytest
from pytest_bdd import parsers, then

from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.tempest import TempestError
from stackdrill.cloud.tempest.results import TempestReport
from stackdrill.cloud.tempest.selection import TEMPEST_STEP
from stackdrill.cloud.tempest.verification import TempestJob, verify
from stackdrill.engine.drill import Drill
from stackdrill.engine.guards import changes_the_cloud
from stackdrill.engine.state_dir import default_state_dir
from stackdrill.engine.tempest_check import run_venv
from stackdrill.inventory.model import Inventory


def tempest_job(config: pytest.Config, inventory: Inventory) -> TempestJob:
    """The run's Tempest: the inventory's ``tempest`` key, the virtualenv ``--tempest-venv``
    names, the workspaces under the state directory."""
    state = default_state_dir()
    venv = run_venv(config.getoption("tempest_venv", None))
    return TempestJob(inventory.tempest, venv, state / "tempest" / "workspaces",
                      len(inventory.with_role("compute")))


@changes_the_cloud
@then(parsers.re(TEMPEST_STEP))
def tempest_tests_pass(regex: str, drill: Drill, cloud_access: CloudAccess | None,
                       inventory: Inventory, pytestconfig: pytest.Config) -> None:
    """Tempest's tests the regex selects pass: one ran at least, none failed; the skipped
    ones are reported with their reasons. Tempest makes and removes its own users, projects
    and resources on the cloud."""
    if cloud_access is None:
        pytest.fail("the Tempest step needs a cloud: no clouds.yaml entry for this inventory",
                    pytrace=False)
    report: TempestReport | None = None
    try:
        report = verify(cloud_access, tempest_job(pytestconfig, inventory), regex,
                        drill.evidence)
    except TempestError as exc:
        message = str(exc)
    if report is None:
        pytest.fail(drill.evidence.redact(message), pytrace=False)
    drill.timeline.add("tempest", report.summary())
    verdict = report.verdict()
    if verdict is not None:
        pytest.fail(drill.evidence.redact(verdict), pytrace=False)
