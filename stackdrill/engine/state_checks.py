"""What a scenario checks against the verified state while a drill runs: paths that must deviate
(the fault's effect) and paths that must stay unchanged. A path pattern is an ``fnmatch``
pattern over the snapshot's paths, and must name at least one of them.

:mod:`stackdrill.engine.drill` re-exports :func:`check_deviates` and :func:`check_unchanged`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from stackdrill.core.state import Deviation, Snapshot, render_diff
from stackdrill.core.waiting import WaitTimeout, poll
from stackdrill.engine.verdicts import DrillError

if TYPE_CHECKING:
    from stackdrill.engine.drill import Drill

__all__ = ["check_deviates", "check_unchanged", "matches", "sources_of", "unknown_patterns"]


def matches(pattern: str, path: str) -> bool:
    """Whether the snapshot path ``path`` is one ``pattern`` names."""
    return fnmatch.fnmatchcase(path, pattern)


def sources_of(baseline: Snapshot, patterns: Sequence[str]) -> frozenset[str] | None:
    """The probes (sources) that observe the paths ``patterns`` name; None when a named path's
    source is not known (then only a full snapshot observes it)."""
    named = [path for path in baseline.values if any(matches(p, path) for p in patterns)]
    found = {baseline.sources.get(path) for path in named}
    return None if None in found else frozenset(s for s in found if s is not None)


def unknown_patterns(baseline: Snapshot, patterns: Sequence[str]) -> list[str]:
    """The patterns that name no path of ``baseline``."""
    return [pattern for pattern in patterns
            if not any(matches(pattern, path) for path in baseline.values)]


def check_deviates(drill: Drill, patterns: list[str], within: float = 0.0) -> list[Deviation]:
    """The state must deviate from the verified state at every pattern, at once or within
    ``within`` seconds (effects such as a service marked down take a report interval). A path
    whose probe failed is unknown, not deviating: only the probe's own error key (a pattern such
    as ``cloud/probe:nova_db``) stands for a probe that cannot observe."""
    found: list[Deviation] = []
    missing: list[str] = list(patterns)

    def all_seen() -> bool:
        nonlocal found, missing
        found = drill.deviations("during the fault")
        seen = [d for d in found if d.kind != "unknown"]  # a failed probe shows no damage
        missing = [p for p in patterns if not any(matches(p, d.path) for d in seen)]
        return not missing

    _watched_poll(drill, all_seen, within, (0.5, 2.0),
                  "the fault's effect observed by the probes",
                  lambda: f"expected a deviation at {', '.join(missing)} within {within:g}s; "
                          f"observed: {render_diff(found)}")
    drill.timeline.add("deviation", f"{len(found)} deviation(s) from the verified state",
                       render_diff(found))
    return found


UNOBSERVED_WAIT = 60.0
"""Seconds an unchanged-check waits for paths its probes could not observe (a listing that
timed out under packet loss, say) to be observed; a change seen on the way fails at once."""


def check_unchanged(drill: Drill, patterns: list[str],
                    observe_within: float = UNOBSERVED_WAIT) -> None:
    """The current state must still match the verified state at every pattern (which must
    name at least one observed path, so the check cannot pass vacuously). A path whose probe
    failed is observed again for up to ``observe_within`` seconds; it never passes unseen.
    Only the probes of the named paths observe again, where their sources are known."""
    if drill.baseline is None:
        raise DrillError("no verified state recorded yet")
    drill.check_safeguards()
    unknown = unknown_patterns(drill.baseline, patterns)
    if unknown:
        raise DrillError(f"{unknown[0]}: no such path in the verified state")
    unseen: list[tuple[str, Deviation]] = []
    focus = sources_of(drill.baseline, patterns)

    def judged() -> bool:
        found = drill.deviations("unchanged paths", focus)
        unseen.clear()
        for pattern in patterns:
            matched = [d for d in found if matches(pattern, d.path)]
            changed = [d for d in matched if d.kind != "unknown"]
            if changed:
                raise DrillError(f"{pattern}: changed: {changed[0]}")
            unseen.extend((pattern, d) for d in matched[:1])
        return not unseen

    _watched_poll(drill, judged, observe_within, (1.0, 5.0),
                  "the paths that must stay unchanged observed",
                  lambda: f"{unseen[0][0]}: not observed within {observe_within:g}s: "
                          f"{unseen[0][1]}")


def _watched_poll(drill: Drill, check: Callable[[], bool], timeout: float,
                  intervals: tuple[float, float], description: str,
                  failure: Callable[[], str]) -> None:
    """Poll ``check`` under the drill's safeguards; at the deadline, fail with ``failure()``."""
    try:
        with drill.watched():
            poll(check, timeout=timeout, interval=intervals[0], max_interval=intervals[1],
                 description=description)
    except WaitTimeout:
        raise DrillError(failure()) from None
