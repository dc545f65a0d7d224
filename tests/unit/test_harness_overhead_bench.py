"""benchmarks/harness_overhead.py without a lab: the phase after the verified state is split at
the marks a drill's record keeps, and a record without them is left unsplit."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import harness_overhead as bench


def _record(marks: dict[str, float] | None) -> dict[str, Any]:
    events = [{"offset": at, "kind": kind, "title": kind, "detail": ""} for at, kind in (
        (1.0, "baseline"), (1.5, "fault-injected"), (2.0, "effect-detected"),
        (3.0, "deviation"), (3.2, "recovery-start"), (10.0, "verified"))]
    record: dict[str, Any] = {
        "drill": "f.feature: d", "result": "passed", "events": events,
        "started": "2026-12-08T00:00:00Z", "ended": "2026-12-08T00:00:16Z",
        "recoveries": [{"steps": [{"offset": 3.3, "duration": 5.0}]}],
        "observing": {"confirm": 0.4, "verify": 1.0}}
    if marks is not None:
        record["marks"] = marks
    return record


def test_the_phase_after_the_verified_state_is_split_at_the_marks() -> None:
    row = bench.analyse(_record({"confirmed": 11.2, "steps-ended": 11.5, "undone": 13.0,
                                 "observers-stopped": 15.5}))
    assert row is not None
    assert row["phases"]["undo and record"] == 6.0
    assert {part: round(s, 2) for part, s in row["after"].items()} == {
        "confirming snapshot": 1.2, "last steps": 0.3, "undo": 1.5,
        "tenant observers' last reads": 2.5, "record": 0.5}
    text = bench.after_table([row])
    assert "| d | 1.2 s | 0.3 s | 1.5 s | 2.5 s | 0.5 s |" in text
    assert "Medians over 1 drills" in text


def test_a_record_without_every_mark_is_not_split() -> None:
    row = bench.analyse(_record({"confirmed": 11.2}))
    assert row is not None and row["after"] is None
    assert bench.after_table([row]).startswith("No record keeps the marks")
