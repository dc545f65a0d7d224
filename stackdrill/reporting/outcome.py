"""How a drill scenario ended, from pytest's own reports of its phases.

A ``pytest_runtest_makereport`` wrapper keeps each phase's outcome on the item, so the ``drill``
fixture can read it in its teardown. A drill a safeguard stopped is ``aborted``, with the
safeguard's reason, whatever its steps reported.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import pytest

from stackdrill.api._runbook import RecoveryFailed
from stackdrill.engine.drill import DrillError

RESULTS = ("passed", "failed", "aborted", "error")


@dataclass(frozen=True)
class Phase:
    outcome: str  # pytest's: passed, failed, skipped
    drill_failure: bool  # the drill's own check failed, as opposed to the harness breaking
    reason: str | None


@dataclass(frozen=True)
class Outcome:
    result: str  # one of RESULTS
    reason: str | None = None


_PHASES = pytest.StashKey[dict[str, Phase]]()
SAFEGUARD_ABORT = pytest.StashKey[str]()
"""Set on the item by the ``drill`` fixture when a safeguard aborted the drill: the reason."""
_DRILL_FAILURES = (AssertionError, pytest.fail.Exception, DrillError, RecoveryFailed)


def one_line(text: str, limit: int = 300) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else ""
    return first if len(first) <= limit else first[:limit - 1] + "…"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    reason = None
    drill_failure = False
    if call.excinfo is not None:
        error = call.excinfo.value
        drill_failure = isinstance(error, _DRILL_FAILURES)
        message = getattr(error, "msg", None)
        reason = one_line(message if isinstance(message, str) else call.excinfo.exconly())
    item.stash.setdefault(_PHASES, {})[report.when] = Phase(report.outcome, drill_failure,
                                                            reason)
    return report


def outcome(item: pytest.Item) -> Outcome:
    """The scenario's result so far (called from teardown, so setup and call are known)."""
    aborted = item.stash.get(SAFEGUARD_ABORT, None)
    if aborted is not None:
        return Outcome("aborted", one_line(aborted))
    phases = item.stash.get(_PHASES, {})
    setup, call = phases.get("setup"), phases.get("call")
    if setup is not None and setup.outcome == "failed":
        return Outcome("error", setup.reason)
    if setup is not None and setup.outcome == "skipped":
        return Outcome("aborted", f"skipped: {setup.reason}")
    if call is None:
        return Outcome("aborted", "interrupted before the scenario finished")
    if call.outcome == "passed":
        return Outcome("passed")
    if call.outcome == "skipped":
        return Outcome("aborted", f"skipped: {call.reason}")
    return Outcome("failed" if call.drill_failure else "error", call.reason)
