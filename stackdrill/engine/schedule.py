"""Scheduled drills: a drill window, and a maximum duration after which a run stops cleanly.

A window is written ``DAYS HH:MM-HH:MM [TIMEZONE]``: ``Mon-Fri 09:00-15:00 Europe/Berlin``,
``Tue,Thu 22:00-02:00 UTC`` (a window may run past midnight: it belongs to the day it opens),
``daily 10:00-11:00``. Without a time zone the machine's local time is meant. Outside the window
``stackdrill run`` runs nothing and exits 0; inside it, the run must end by the window's close.

``--max-duration`` (``90m``, ``2h``, ``1h30m``, ``45s``, or plain seconds) arms a timer; when it
fires, the running step is interrupted as by Ctrl-C (every fault is undone, each drill's record
says it was aborted) and the run exits with :data:`EXIT_MAX_DURATION`.
"""

from __future__ import annotations

import datetime as dt
import re
import signal
import sys
from dataclasses import dataclass
from types import FrameType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from stackdrill.core.errors import BadInput

EXIT_MAX_DURATION = 124  # as timeout(1) exits when its command timed out
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DURATION = re.compile(r"(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?")
_TIMES = re.compile(r"(?P<a>\d{1,2}):(?P<b>\d{2})-(?P<c>\d{1,2}):(?P<d>\d{2})")


class ScheduleError(BadInput, ValueError):
    """A window or a duration that cannot be read; one line."""


def parse_duration(text: str) -> float:
    """Seconds from ``90m``, ``2h``, ``1h30m``, ``45s``, ``1.5s`` or ``3600``."""
    value = text.strip().lower()
    try:
        seconds = float(value)
    except ValueError:
        match = _DURATION.fullmatch(value)
        if not value or match is None:
            raise ScheduleError(f"bad duration {text!r}: expected e.g. 90m, 2h, 1h30m, 45s "
                                f"or seconds") from None
        seconds = (int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60
                   + float(match["s"] or 0))
    if not 0 < seconds < float("inf"):
        raise ScheduleError(f"bad duration {text!r}: must be more than 0 seconds")
    return seconds


def _days(text: str) -> frozenset[int]:
    if text.lower() in ("daily", "*"):
        return frozenset(range(7))
    found: set[int] = set()
    for part in text.lower().split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ScheduleError(f"bad days {text!r}: expected e.g. Mon-Fri, Sat,Sun or daily")
        start, end = DAYS.index(first), DAYS.index(last or first)
        found.update((start + n) % 7 for n in range((end - start) % 7 + 1))
    return frozenset(found)


def _time(hours: str, minutes: str, text: str) -> dt.time:
    try:
        return dt.time(int(hours), int(minutes))
    except ValueError:
        raise ScheduleError(f"bad window {text!r}: {hours}:{minutes} is not a time of day") \
            from None


@dataclass(frozen=True)
class Window:
    text: str
    days: frozenset[int]  # Monday is 0
    opens: dt.time
    closes: dt.time
    zone: dt.tzinfo | None  # None: the machine's local time

    @classmethod
    def parse(cls, text: str) -> Window:
        words = text.split()
        if len(words) not in (2, 3):
            raise ScheduleError(f"bad window {text!r}: expected 'DAYS HH:MM-HH:MM [TIMEZONE]', "
                                f"e.g. 'Mon-Fri 09:00-15:00 Europe/Berlin'")
        times = _TIMES.fullmatch(words[1])
        if times is None:
            raise ScheduleError(f"bad window {text!r}: expected the hours as HH:MM-HH:MM")
        opens = _time(times["a"], times["b"], text)
        closes = _time(times["c"], times["d"], text)
        if opens == closes:
            raise ScheduleError(f"bad window {text!r}: it opens and closes at the same time")
        zone: dt.tzinfo | None = None
        if len(words) == 3:
            try:
                zone = dt.UTC if words[2].upper() == "UTC" else ZoneInfo(words[2])
            except (ZoneInfoNotFoundError, ValueError):
                raise ScheduleError(f"bad window {text!r}: unknown time zone {words[2]!r}") \
                    from None
        return cls(text, _days(words[0]), opens, closes, zone)

    def _local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(self.zone) if self.zone is not None else moment.astimezone()

    def closing(self, moment: dt.datetime) -> dt.datetime | None:
        """When the window that ``moment`` (timezone-aware) falls in closes; None outside."""
        local = self._local(moment)
        for back in (0, 1):  # today's window, or yesterday's running past midnight
            day = local.date() - dt.timedelta(days=back)
            if day.weekday() not in self.days:
                continue
            start = dt.datetime.combine(day, self.opens, local.tzinfo)
            end_day = day + dt.timedelta(days=1 if self.closes <= self.opens else 0)
            end = dt.datetime.combine(end_day, self.closes, local.tzinfo)
            if start <= local < end:
                return end
        return None

    def describe(self, moment: dt.datetime) -> str:
        local = self._local(moment)
        return f"{local:%a %H:%M %Z}".strip()


@dataclass(frozen=True)
class RunLimit:
    """What a scheduled run may take: its own maximum, and the window's close."""

    seconds: float | None
    reason: str

    @classmethod
    def of(cls, max_duration: float | None, window: Window | None,
           now: dt.datetime) -> RunLimit | None:
        """None when the run is outside its window (nothing may run)."""
        limit = cls(max_duration, f"max duration {max_duration:g} s" if max_duration else "")
        if window is None:
            return limit
        closes = window.closing(now)
        if closes is None:
            return None
        left = (closes - now).total_seconds()
        if max_duration is None or left < max_duration:
            return cls(left, f"the drill window closes at {window.describe(closes)}")
        return limit


# -- the timer, as a pytest plugin -------------------------------------------------------------
class MaxDurationReached(KeyboardInterrupt):
    """Raised in the main thread when the maximum duration is up: handled as Ctrl-C is (every
    fault undone), then the run's exit status becomes :data:`EXIT_MAX_DURATION`.

    An interruption, not an error, so not a :class:`~stackdrill.core.errors.StackdrillError`:
    it must pass every ``except Exception`` on its way to pytest (a runbook's API call turns any
    ``Exception`` into a failed step), as Ctrl-C does."""


_REACHED = pytest.StashKey[str]()
_ARMED = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stackdrill")
    group.addoption("--max-duration", default=None, metavar="DURATION",
                    help="stop the run cleanly after this long (90m, 2h, 1h30m, seconds): "
                         "every fault is undone and the exit status is 124")


def pytest_configure(config: pytest.Config) -> None:
    text = config.getoption("max_duration", None)
    if not text or hasattr(config, "workerinput"):
        return
    try:
        seconds = parse_duration(str(text))
    except ScheduleError as exc:
        raise pytest.UsageError(f"--max-duration: {exc}") from None

    def expired(signum: int, frame: FrameType | None) -> None:
        config.stash[_REACHED] = f"stopped: the maximum duration {text} is up"
        raise MaxDurationReached(config.stash[_REACHED])

    signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    config.stash[_ARMED] = True


def stopped_reason(config: pytest.Config) -> str | None:
    """Why the run was stopped early by its maximum duration, if it was."""
    return config.stash.get(_REACHED, None)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if config.stash.get(_ARMED, False):
        signal.setitimer(signal.ITIMER_REAL, 0)
    reason = config.stash.get(_REACHED, None)
    if reason is not None:
        print(f"\nstackdrill: {reason}; every fault was undone", file=sys.stderr, flush=True)
        session.exitstatus = EXIT_MAX_DURATION


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(_ARMED, False):
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
