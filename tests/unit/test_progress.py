"""Long waits print a progress line to the terminal: after a while, then now and then."""

from __future__ import annotations

from stackdrill.core.waiting import Attempt, PollRecord
from stackdrill.engine.progress import WaitProgress


def record(elapsed: float, attempts: int, detail: str = "False") -> PollRecord:
    found = PollRecord("back to the verified state", timeout=300.0, elapsed=elapsed)
    found.attempts = [Attempt(n, 0.0, 0.1, False, detail) for n in range(1, attempts + 1)]
    return found


def test_a_long_wait_prints_a_line_after_a_while_then_every_interval() -> None:
    lines: list[str] = []
    progress = WaitProgress(lines.append, after=10, every=15)
    wait = record(0, 1)
    for elapsed, attempts in ((2, 2), (9.9, 5), (10.2, 6), (20, 9), (25.3, 11), (41, 16)):
        wait.elapsed = elapsed
        wait.attempts = record(elapsed, attempts).attempts
        progress(wait, 300 - elapsed)
    assert lines == [
        "stackdrill: waiting 10s of 300s for back to the verified state (attempt 6): False",
        "stackdrill: waiting 25s of 300s for back to the verified state (attempt 11): False",
        "stackdrill: waiting 41s of 300s for back to the verified state (attempt 16): False",
    ]


def test_each_wait_is_counted_on_its_own_and_details_are_redacted_and_short() -> None:
    lines: list[str] = []
    progress = WaitProgress(lines.append, after=10, every=15,
                            redact=lambda text: text.replace("s3cret", "***"))
    progress(record(12, 3, "token s3cret " + "x" * 300), 288)
    progress(record(12, 3), 288)  # another wait, as long: its own line
    assert len(lines) == 2
    assert "s3cret" not in lines[0] and "***" in lines[0]
    assert lines[0].endswith("...") and len(lines[0]) < 220
    progress(record(5, 1), 295)  # a short wait prints nothing
    assert len(lines) == 2
