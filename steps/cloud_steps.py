"""Cloud-level drill vocabulary: the canary workload."""

from __future__ import annotations

from pytest_bdd import given

from stackdrill.cloud.canary import CanaryWorkload


@given("the canary workload is running")
def canary_workload(canaries: CanaryWorkload) -> None:
    """The ``canaries`` fixture creates or reuses one canary server per compute host."""
