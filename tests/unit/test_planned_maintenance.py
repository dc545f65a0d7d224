"""planned_compute_maintenance asks Nova again while a refusal is one that passes by itself,
and fails at once on any other."""

from __future__ import annotations

from typing import Any

import pytest
from stackdrill.builtin.recovery.planned_compute_maintenance import PlannedComputeMaintenance

from stackdrill.api._runbook import ResourceFailed


class Refusing(PlannedComputeMaintenance):
    """Nova refuses every migration with ``reason``."""

    reason = ""

    def _migrate(self, server_id: str, host: str | None) -> list[str]:
        raise RuntimeError(self.reason)


class Target:
    name = "compute1"


def refused_with(reason: str) -> Refusing:
    recovery = Refusing(Target(), {})  # type: ignore[arg-type]
    recovery.reason = reason
    return recovery


@pytest.mark.parametrize("reason", [
    "BadRequestException: 400: Client Error for url: http://ctl:8774/v2.1/servers/x/action, "
    "Compute service of compute1 is unavailable at this time.",
    "NoValidHost: No valid host was found.",
])
def test_a_refusal_that_passes_by_itself_is_asked_again(reason: str) -> None:
    assert refused_with(reason)._request("x", None) is False


def test_any_other_refusal_fails_the_step_at_once() -> None:
    with pytest.raises(ResourceFailed, match="Instance x is locked"):
        refused_with("Conflict: Instance x is locked")._request("x", None)


def test_every_migration_kind_is_labelled_as_the_operator_types_it() -> None:
    recovery: Any = refused_with("Conflict")
    with pytest.raises(ResourceFailed, match=r"^nova live-migration x compute2"):
        recovery._request("x", "compute2")
