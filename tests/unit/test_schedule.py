"""Scheduled runs: the drill window, the maximum duration, and what ``stackdrill run`` does with
them."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from stackdrill import cli
from stackdrill.engine.schedule import (
    EXIT_MAX_DURATION,
    RunLimit,
    ScheduleError,
    Window,
    parse_duration,
)

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str, zone: dt.tzinfo = dt.UTC) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone)


# -- durations and windows ----------------------------------------------------------------------
@pytest.mark.parametrize(("text", "seconds"), [
    ("90m", 5400), ("2h", 7200), ("1h30m", 5400), ("45s", 45), ("1.5s", 1.5), ("3600", 3600),
    ("1h0m30s", 3630), (" 2H ", 7200),
])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5", "1d", "h", "5 m", "inf", "nan", "1m1h"])
def test_bad_durations_are_refused_in_one_line(text: str) -> None:
    with pytest.raises(ScheduleError, match=r"^bad duration .*") as raised:
        parse_duration(text)
    assert "\n" not in str(raised.value)


def test_a_weekday_window_in_a_time_zone() -> None:
    window = Window.parse("Mon-Fri 09:00-15:00 Europe/Berlin")
    # Wednesday 2025-01-15: Berlin is UTC+1
    assert window.closing(at("2025-01-15T07:59:59")) is None
    assert window.closing(at("2025-01-15T08:00:00")) == at("2025-01-15T15:00", BERLIN)
    assert window.closing(at("2025-01-15T13:59:59")) is not None
    assert window.closing(at("2025-01-15T14:00:00")) is None
    # the same wall-clock hours in summer (UTC+2)
    assert window.closing(at("2025-07-16T07:30:00")) is not None
    assert window.closing(at("2025-07-16T13:30:00")) is None
    # Saturday
    assert window.closing(at("2025-01-18T10:00:00")) is None


def test_a_window_past_midnight_belongs_to_the_day_it_opens() -> None:
    window = Window.parse("Fri 22:00-02:00 UTC")
    assert window.closing(at("2025-01-17T23:00")) == at("2025-01-18T02:00")  # Friday night
    assert window.closing(at("2025-01-18T01:59")) == at("2025-01-18T02:00")  # Saturday early
    assert window.closing(at("2025-01-18T23:00")) is None  # Saturday night
    assert window.closing(at("2025-01-17T01:00")) is None  # Friday early: Thursday's window


@pytest.mark.parametrize(("days", "expected"), [
    ("Mon-Fri", {0, 1, 2, 3, 4}), ("sat,sun", {5, 6}), ("Fri-Mon", {4, 5, 6, 0}),
    ("daily", set(range(7))), ("Tue", {1}), ("Mon,Wed-Thu", {0, 2, 3}),
])
def test_days(days: str, expected: set[int]) -> None:
    assert Window.parse(f"{days} 10:00-11:00").days == expected


@pytest.mark.parametrize(("text", "message"), [
    ("Mon-Fri", "expected 'DAYS HH:MM-HH:MM"),
    ("Mon-Fry 09:00-15:00", "bad days"),
    ("Mon-Fri 9-15", "expected the hours as HH:MM-HH:MM"),
    ("Mon-Fri 09:00-25:00", "25:00 is not a time of day"),
    ("Mon-Fri 09:00-09:00", "opens and closes at the same time"),
    ("Mon-Fri 09:00-15:00 Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
])
def test_bad_windows_are_refused_in_one_line(text: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=r"^bad (window|days) ") as raised:
        Window.parse(text)
    assert message in str(raised.value)


def test_the_window_cuts_the_maximum_duration_to_its_close() -> None:
    window = Window.parse("daily 09:00-15:00 UTC")
    now = at("2025-01-15T14:00")
    assert RunLimit.of(None, window, now) == RunLimit(3600, "the drill window closes at Wed "
                                                            "15:00 UTC")
    assert RunLimit.of(7200, window, now) is not None
    assert RunLimit.of(7200, window, now).seconds == 3600  # type: ignore[union-attr]
    assert RunLimit.of(600, window, now).seconds == 600  # type: ignore[union-attr]
    assert RunLimit.of(600, window, at("2025-01-15T16:00")) is None
    assert RunLimit.of(None, None, now) == RunLimit(None, "")


# -- stackdrill run ---------------------------------------------------------------------------
def isolated(tmp_path: Path) -> list[str]:
    """``stackdrill run`` options that keep the run's reports and history under ``tmp_path``."""
    return ["--reports", str(tmp_path / "reports"), "--history", str(tmp_path / "history.jsonl")]


def test_outside_the_window_nothing_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(pytest, "main", lambda argv, **kw: seen.append(argv) or 0)
    now = dt.datetime.now(dt.UTC)
    closed = (now + dt.timedelta(hours=2)).strftime("%H:%M")
    opens = (now + dt.timedelta(hours=1)).strftime("%H:%M")
    assert cli.main(["run", *isolated(tmp_path), "--window",
                     f"daily {opens}-{closed} UTC"]) == cli.EXIT_OK
    assert seen == []
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert out[0].startswith(f"stackdrill: outside the drill window 'daily {opens}-{closed} UTC'")
    assert out[0].endswith("): nothing run")


def test_inside_the_window_the_run_ends_by_its_close(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(pytest, "main", lambda argv, **kw: seen.append(argv) or 0)
    now = dt.datetime.now(dt.UTC)
    opens = (now - dt.timedelta(minutes=5)).strftime("%H:%M")
    closes = (now + dt.timedelta(minutes=30)).replace(second=0, microsecond=0)
    window = f"daily {opens}-{closes:%H:%M} UTC"
    assert cli.main(["run", *isolated(tmp_path), "--window", window,
                     "--notify", "logger -t drill"]) == cli.EXIT_OK
    duration = next(a for a in seen[-1] if a.startswith("--max-duration="))
    seconds = float(duration.removeprefix("--max-duration=").removesuffix("s"))
    left = (closes - dt.datetime.now(dt.UTC)).total_seconds()
    assert abs(seconds - left) < 5
    assert "--notify=logger -t drill" in seen[-1]
    cli.main(["run", *isolated(tmp_path), "--window", window, "--max-duration", "2m"])
    assert "--max-duration=120s" in seen[-1]
    run = (tmp_path / "reports" / "latest").resolve()
    assert f"--alluredir={run / 'allure-results'}" in seen[-1]


@pytest.mark.parametrize(("args", "message"), [
    (["--window", "Mon-Fri 09-15"], "--window: bad window"),
    (["--max-duration", "soon"], "--max-duration: bad duration 'soon'"),
])
def test_bad_schedule_options_are_bad_input(args: list[str], message: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", *isolated(tmp_path), *args]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith(f"stackdrill: error: {message}") and err.count("\n") == 1


# -- the maximum duration, in a real run ----------------------------------------------------------
CONFTEST = '''
import os
from pathlib import Path

import pytest


@pytest.fixture
def broken():
    """Stands for an injected fault: its undo leaves a mark."""
    yield
    Path(os.environ["UNDONE_MARK"]).write_text("undone")
'''

SLOW = '''
from stackdrill.core.waiting import poll


def test_waits_for_what_never_comes(broken):
    poll(lambda: False, timeout=120, interval=0.2, max_interval=0.2,
         description="something that never happens")


def test_never_started():
    pass
'''


def test_at_the_maximum_duration_the_run_stops_and_undoes(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_slow.py").write_text(SLOW)
    mark = tmp_path / "undone"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "stackdrill.cli", "run", str(tmp_path), "--max-duration", "2s",
         "--reports", str(tmp_path / "reports"), "--history", str(tmp_path / "h.jsonl"), "--",
         "-c", "/dev/null", "--rootdir", str(tmp_path), "-p", "no:cacheprovider"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "UNDONE_MARK": str(mark)})
    took = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_MAX_DURATION == cli.EXIT_MAX_DURATION, output
    assert 2 <= took < 30, output
    assert mark.read_text() == "undone"
    assert "stackdrill: stopped: the maximum duration 2s is up; every fault was undone" in output
    assert "test_never_started" not in result.stdout.replace("deselected", "")
    junit = (tmp_path / "reports" / "latest" / "junit.xml")
    assert not junit.exists() or "test_never_started" not in junit.read_text()


def test_plain_pytest_exits_124_too(tmp_path: Path) -> None:
    (tmp_path / "test_slow.py").write_text(SLOW.replace("(broken)", "()"))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path), "-c", "/dev/null", "--rootdir",
         str(tmp_path), "-p", "no:cacheprovider", "--max-duration", "1s"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == EXIT_MAX_DURATION, result.stdout + result.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path), "-c", "/dev/null", "--rootdir",
         str(tmp_path), "-p", "no:cacheprovider", "--max-duration", "later"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 4
    assert "--max-duration: bad duration 'later'" in bad.stderr
