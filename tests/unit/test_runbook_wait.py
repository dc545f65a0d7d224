"""A runbook's wait retries what may pass (a host not answering, a failed API call) and stops
at once on a resource in an error state."""

from __future__ import annotations

import time

import pytest

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
