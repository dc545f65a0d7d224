"""The ``keystone_tokens`` probe on the lab: Keystone issues a new token and validates the
probe's first one; stopped through its service handle, it issues none within seconds, and once
started again it issues tokens and the first token, a Fernet token issued before the outage,
still validates. The lab's Keystone caches in memcached (oslo_cache.memcache_pool, as production
deployments do); memcached stopped leaves it issuing and validating tokens, uncached."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from stackdrill.builtin.probes.keystone_tokens import KeystoneTokens

from stackdrill.api import CloudContext
from stackdrill.cloud.access import CloudAccess
from stackdrill.core.waiting import poll
from stackdrill.hosts.service import Service
from stackdrill.hosts.target import Targets
from stackdrill.lab.lab import Lab

HEALTHY = {"keystone:new_token/issued": True, "keystone:earlier_token/validates": True}
ISSUED = "keystone:new_token/issued"
DOWN_WITHIN = 30.0
BACK_WITHIN = 180.0


@pytest.fixture
def context(lab: Lab, targets: Targets, cloud_access: CloudAccess) -> CloudContext:
    return CloudContext(cloud_access, targets)


def controller_service(targets: Targets, name: str) -> Service:
    return targets.with_role("controller")[0].service(name)


@pytest.fixture
def keystone(targets: Targets) -> Iterator[Service]:
    """The controller's Keystone, running again after the test whatever it did."""
    service = controller_service(targets, "keystone")
    yield service
    service.start(timeout=120)


def observed(probe: KeystoneTokens, context: CloudContext, wanted: Any,
             timeout: float, description: str) -> dict[str, Any]:
    """The probe's values once ``wanted(values)`` holds, observed every 1 s to 3 s."""
    def check() -> dict[str, Any] | None:
        values = probe.observe_cloud(context)
        return values if wanted(values) else None

    found, _ = poll(check, timeout=timeout, interval=1.0, max_interval=3.0,
                    description=description)
    return found


def test_the_lab_s_keystone_issues_and_validates(context: CloudContext) -> None:
    probe = KeystoneTokens()
    assert probe.observe_cloud(context) == HEALTHY
    assert probe.observe_cloud(context) == HEALTHY


def test_keystone_stopped_issues_no_token_and_started_again_validates_the_first(
        context: CloudContext, keystone: Service) -> None:
    probe = KeystoneTokens()
    assert probe.observe_cloud(context) == HEALTHY
    keystone.stop(timeout=60)
    down = observed(probe, context, lambda values: values[ISSUED] is False, DOWN_WITHIN,
                    "no new Keystone token while keystone is stopped")
    assert down["keystone:earlier_token/validates"] is False
    assert down["keystone:new_token/error"]
    keystone.start(timeout=120)
    # the token issued before the outage, not a new one, validates again
    observed(probe, context, lambda values: values == HEALTHY, BACK_WITHIN,
             "a new token issued and the first one valid after keystone started again")


def test_the_first_token_still_validates_after_a_keystone_restart(
        context: CloudContext, keystone: Service) -> None:
    probe = KeystoneTokens()
    assert probe.observe_cloud(context) == HEALTHY
    before = keystone.main_pid()
    keystone.restart(timeout=120)
    assert keystone.main_pid() not in (0, before)
    observed(probe, context, lambda values: values == HEALTHY, BACK_WITHIN,
             "the first token valid after keystone restarted")


def test_memcached_stopped_leaves_the_lab_s_keystone_issuing(
        context: CloudContext, targets: Targets) -> None:
    memcached = controller_service(targets, "memcached")
    probe = KeystoneTokens()
    assert probe.observe_cloud(context) == HEALTHY
    try:
        memcached.stop(timeout=60)
        assert not memcached.is_running()
        assert probe.observe_cloud(context) == HEALTHY
    finally:
        memcached.start(timeout=60)
