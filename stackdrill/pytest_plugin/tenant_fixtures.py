"""The tenant observers of a drill, built for each scenario when the ``baseline`` fixture records
its verified state, which starts them (:class:`stackdrill.engine.tenant_watch.TenantWatch`):

- ``api_sampler``: the API availability sampler (:mod:`stackdrill.cloud.api_sampler`) over the
  scenario's canary workload: a token, the first canary server, its volume, the canary image and
  a canary object, each API the cloud has; identity alone when the scenario set up no canaries;
  None without a cloud, or with ``--api-sample-interval 0``;
- ``workload_observer``: the canary guests' heartbeats (:mod:`stackdrill.cloud.workload`), when
  the scenario's canaries run the heartbeat guest, else None;
- ``tenant_observers``: those that are not None.

``scenario_canaries`` is the canary workload when an earlier step of the scenario set it up
(``Given the canary workload is running``), else None: building the observers never creates
canaries. Without a cloud (an inventory with no clouds.yaml entry, the unit tests' fake cloud),
no observer runs, and every tenant expectation fails, saying that nothing observed the tenants.
"""

from __future__ import annotations

from typing import Any

import pytest

from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.api_requests import TenantResources
from stackdrill.cloud.api_sampler import (
    DEFAULT_INTERVAL,
    DEFAULT_TIMEOUT,
    ApiSampler,
    build_api_sampler,
)
from stackdrill.cloud.canary import CanaryWorkload
from stackdrill.cloud.swift_canary import has_object_store
from stackdrill.cloud.tenant_view import TenantObserver
from stackdrill.cloud.workload import WorkloadMonitor, ring_reader
from stackdrill.engine.drill import Drill
from stackdrill.hosts.target import Targets
from stackdrill.reporting.tenant_figures import summary_of


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stackdrill")
    group.addoption("--api-sample-interval", type=float, default=DEFAULT_INTERVAL,
                    help=f"seconds between two samples of each OpenStack API by a drill's "
                         f"tenant API sampler (default {DEFAULT_INTERVAL:g}; 0 turns the "
                         f"sampler off)")
    group.addoption("--api-sample-timeout", type=float, default=DEFAULT_TIMEOUT,
                    help=f"seconds a sampled API request may take before it counts as failed "
                         f"(default {DEFAULT_TIMEOUT:g})")


def pytest_configure(config: pytest.Config) -> None:
    interval = config.getoption("api_sample_interval", DEFAULT_INTERVAL)
    timeout = config.getoption("api_sample_timeout", DEFAULT_TIMEOUT)
    if interval < 0:
        raise pytest.UsageError(f"--api-sample-interval {interval:g}: expected seconds >= 0 "
                                f"(0 turns the API sampler off)")
    if timeout <= 0:
        raise pytest.UsageError(f"--api-sample-timeout {timeout:g}: expected seconds > 0")


@pytest.fixture
def scenario_canaries(request: pytest.FixtureRequest) -> CanaryWorkload | None:
    """The canary workload, if an earlier step of this scenario set it up; else None."""
    if "canaries" not in request.fixturenames:
        return None
    found: Any = request.getfixturevalue("canaries")
    return found if isinstance(found, CanaryWorkload) else None


def _object_store(access: CloudAccess) -> bool:
    try:
        return has_object_store(access.connection())
    except Exception:  # the catalog could not be read: the object store is left unsampled
        return False


@pytest.fixture
def api_sampler(pytestconfig: pytest.Config, cloud_access: CloudAccess | None,
                scenario_canaries: CanaryWorkload | None) -> ApiSampler | None:
    """The scenario's API availability sampler (not started), or None."""
    interval = float(pytestconfig.getoption("api_sample_interval"))
    if cloud_access is None or interval <= 0:
        return None
    object_store = scenario_canaries is not None and _object_store(cloud_access)
    resources = TenantResources.of_canaries(scenario_canaries, object_store)
    return build_api_sampler(cloud_access, resources, interval,
                             float(pytestconfig.getoption("api_sample_timeout")))


@pytest.fixture
def workload_observer(cloud_access: CloudAccess | None, targets: Targets,
                      scenario_canaries: CanaryWorkload | None) -> TenantObserver | None:
    """The canary workload's observer of its guests' heartbeats (subjects
    ``canary:<compute host>``, :mod:`stackdrill.cloud.workload`), or None when the scenario
    set up no canaries or they boot no guest; not started."""
    if cloud_access is None or scenario_canaries is None or not scenario_canaries.guest:
        return None
    return WorkloadMonitor(cloud_access, scenario_canaries, ring_reader(cloud_access, targets))


@pytest.fixture
def tenant_observers(api_sampler: ApiSampler | None,
                     workload_observer: TenantObserver | None) -> list[TenantObserver]:
    """Every observer of what the scenario's tenants feel; the ``baseline`` fixture hands them
    to the drill, which starts them with its verified state and stops them when it closes."""
    return [observer for observer in (api_sampler, workload_observer) if observer is not None]


def report_tenant_figures(drill: Drill) -> None:
    """Once the drill has closed: what its tenants felt, as an Allure parameter beside the
    time to recover (its figures and intervals are attached to the evidence already)."""
    if drill.tenants.stopped is None:
        return
    import allure

    try:
        allure.dynamic.parameter("what the tenants felt",
                                 drill.evidence.redact(summary_of(drill.result.tenant_figures)),
                                 excluded=True)
    except AttributeError:  # Allure holds no open result: the run was interrupted (Ctrl-C)
        return


__all__ = ["api_sampler", "report_tenant_figures", "scenario_canaries", "tenant_observers",
           "workload_observer"]
