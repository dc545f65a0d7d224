"""A runbook's wait retries what may pass (a host not answering, a failed API call, an API not
there yet) and stops at once on a resource in an error state or an API's refusal."""

from __future__ import annotations

import time

import pytest
from keystoneauth1.exceptions import ConnectFailure
from openstack.exceptions import HttpException

from stackdrill.api._runbook import RecoveryFailed, ResourceFailed, wait
from stackdrill.hosts.ssh import HostError


def test_a_resource_in_error_fails_the_wait_at_once() -> None:
    calls = []

    def check() -> bool:
        calls.append(1)
        raise ResourceFailed("instance canary went to ERROR")

    started = time.monotonic()
    with pytest.raises(RecoveryFailed, match="canary ACTIVE: instance canary went to ERROR"):
        wait(check, 30.0, "canary ACTIVE")
    assert time.monotonic() - started < 5.0
    assert len(calls) == 1


def test_transient_failures_are_retried_until_the_check_passes() -> None:
    outcomes: list[BaseException | bool] = [HostError("no route"), RecoveryFailed("api 503"),
                                            False, True]

    def check() -> bool:
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    assert wait(check, 30.0, "canary ACTIVE") is True
    assert outcomes == []


def test_an_api_not_there_yet_is_retried_and_a_refusal_fails_at_once() -> None:
    not_yet: list[BaseException | bool] = [
        HttpException("No server is available to handle this request.", http_status=503),
        ConnectFailure("connection refused"), True]

    def check() -> bool:
        outcome = not_yet.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    assert wait(check, 30.0, "every nova-compute up") is True
    assert not_yet == []

    def refused() -> bool:
        raise HttpException("Policy does not allow os_compute_api:os-services", http_status=403)

    started = time.monotonic()
    with pytest.raises(RecoveryFailed, match=r"every nova-compute up: HttpException: .*Policy"):
        wait(refused, 30.0, "every nova-compute up")
    assert time.monotonic() - started < 5.0
