"""Polling with a deadline, keeping a record of every attempt.

Callers that wait for the cloud to reach some state use :func:`poll` (or
:func:`poll_until`) instead of sleeping for a fixed time: a check is called until it returns
something true or the deadline passes, with growing pauses between attempts.  The returned
:class:`PollRecord` says how many attempts were needed and what each one saw,
so a drill report can show how long recovery actually took.  A wait that runs out raises
:class:`~stackdrill.core.errors.WaitTimeout`, which carries the same record and whose message
is one line ending with what the last attempt saw.

Inside a drill every wait is observed (:func:`observing`): before each pause the drill checks
its safeguards, and ends the wait by raising when one has tripped, and the terminal shows the
wait's progress.  A runbook step waits with :func:`stackdrill.api.wait`, which turns a
timeout into a failed step; a fault's ``confirm`` does not wait at all, the drill polls it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar, cast, overload

from stackdrill.core.errors import InvalidValue, WaitTimeout

__all__ = [
    "SYSTEM_CLOCK",
    "Attempt",
    "Clock",
    "PollObserver",
    "PollRecord",
    "WaitTimeout",
    "observing",
    "poll",
    "poll_until",
]

T = TypeVar("T")

_DETAIL_LIMIT = 300


class Clock(Protocol):
    """What :func:`poll` reads the time from and sleeps with: :data:`SYSTEM_CLOCK`, or a fake
    clock in a test, so that a wait of minutes runs in no time."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class _SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK: Clock = _SystemClock()
"""The real clock: :func:`time.monotonic` and :func:`time.sleep`."""


def _seconds(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


@dataclass(frozen=True)
class Attempt:
    """One call of a wait's check: its number (from 1), when it began (seconds after the wait
    began), how long it took, whether it succeeded, and what it saw (the check's return value,
    or the exception it raised from ``ignore``, on one line of at most 300 characters)."""

    number: int
    at: float
    duration: float
    ok: bool
    detail: str

    def render(self) -> str:
        """One line: ``#3 +1.25s (0.10s) not yet: 'inactive'``."""
        status = "ok" if self.ok else "not yet"
        return f"#{self.number} +{self.at:.2f}s ({self.duration:.2f}s) {status}: {self.detail}"


@dataclass
class PollRecord:
    """The record of one wait: what was waited for (``description``), its ``timeout``, every
    attempt in order, the seconds it took (``elapsed``, up to the end of the last attempt) and
    whether it ``succeeded``. :func:`poll` returns it with the value; a
    :class:`~stackdrill.core.errors.WaitTimeout` carries it as ``record``. Drills attach its
    :meth:`render` to their evidence, so a report shows how long each wait took and what it saw
    on the way."""

    description: str
    timeout: float
    attempts: list[Attempt] = field(default_factory=list)
    elapsed: float = 0.0
    succeeded: bool = False

    def render(self) -> str:
        """A header line (reached or not, after how many attempts, in how long, the timeout)
        and one line per attempt, a long run of alike attempts shortened."""
        outcome = "reached" if self.succeeded else "not reached"
        count = len(self.attempts)
        noun = "attempt" if count == 1 else "attempts"
        header = (
            f"{self.description}: {outcome} after {count} {noun} in {self.elapsed:.2f}s "
            f"(timeout {_seconds(self.timeout)}s)"
        )
        return "\n".join([header, *(f"  {line}" for line in self._lines())])

    def _lines(self) -> list[str]:
        """One line per attempt; a run of four or more alike (same outcome, same detail) shows
        its first and last attempts around a count, so a long wait stays readable."""
        lines: list[str] = []
        run: list[Attempt] = []

        def flush() -> None:
            if len(run) >= 4:
                lines.extend([run[0].render(), f"... {len(run) - 2} more alike",
                              run[-1].render()])
            else:
                lines.extend(attempt.render() for attempt in run)
            run.clear()

        for attempt in self.attempts:
            if run and (attempt.ok, attempt.detail) != (run[0].ok, run[0].detail):
                flush()
            run.append(attempt)
        flush()
        return lines

    def timeout_message(self) -> str:
        """One line for a wait that ran out: what, how long, how often, and what was last seen."""
        last = self.attempts[-1].detail if self.attempts else "no attempts"
        return (f"{self.description}: not reached within {_seconds(self.timeout)}s "
                f"after {len(self.attempts)} attempts; last: {last}")


PollObserver = Callable[[PollRecord, float], None]
"""Called before each pause of a wait with the record so far and the seconds left; it may
report progress, or raise to end the wait (the exception reaches the waiting caller)."""

_OBSERVERS: ContextVar[tuple[PollObserver, ...]] = ContextVar("stackdrill_poll_observers",
                                                              default=())


@contextlib.contextmanager
def observing(observer: PollObserver) -> Iterator[None]:
    """Every :func:`poll` in this thread (and context) calls ``observer`` while inside."""
    token = _OBSERVERS.set((*_OBSERVERS.get(), observer))
    try:
        yield
    finally:
        _OBSERVERS.reset(token)


def _clip(text: str) -> str:
    text = " ".join(text.splitlines())
    if len(text) > _DETAIL_LIMIT:
        return text[: _DETAIL_LIMIT - 3] + "..."
    return text


def _describe_exception(exc: BaseException) -> str:
    message = str(exc)
    name = type(exc).__name__
    return _clip(f"{name}: {message}" if message else name)


@overload
def poll(
    check: Callable[[], bool],
    *,
    timeout: float,
    description: str,
    interval: float = 0.5,
    max_interval: float = 2.0,
    backoff: float = 1.5,
    ignore: tuple[type[BaseException], ...] = (),
    clock: Clock = SYSTEM_CLOCK,
    pacing: Callable[[Attempt], float] | None = None,
) -> tuple[Literal[True], PollRecord]: ...


@overload
def poll(
    check: Callable[[], T | bool | None],
    *,
    timeout: float,
    description: str,
    interval: float = 0.5,
    max_interval: float = 2.0,
    backoff: float = 1.5,
    ignore: tuple[type[BaseException], ...] = (),
    clock: Clock = SYSTEM_CLOCK,
    pacing: Callable[[Attempt], float] | None = None,
) -> tuple[T, PollRecord]: ...


def poll(
    check: Callable[[], T | bool | None],
    *,
    timeout: float,
    description: str,
    interval: float = 0.5,
    max_interval: float = 2.0,
    backoff: float = 1.5,
    ignore: tuple[type[BaseException], ...] = (),
    clock: Clock = SYSTEM_CLOCK,
    pacing: Callable[[Attempt], float] | None = None,
) -> tuple[T, PollRecord]:
    """Call ``check`` until it returns a truthy value or ``timeout`` seconds pass.

    The truthy value is returned together with the record of all attempts.  The first call is
    at once (``timeout=0`` makes exactly one); a falsy return (False, None, 0, an empty string
    or list) means not yet.  Exceptions listed in ``ignore`` (a host that does not answer, say)
    count as failed attempts; any other exception propagates immediately.  The pause between
    attempts starts at ``interval`` and is multiplied by ``backoff`` after each attempt,
    capped at ``max_interval``; a pause is shortened so that the final attempt happens at
    the deadline.  With ``pacing``, the pause after a failed attempt is instead
    whatever it returns for that attempt (e.g. from its duration), still cut at
    the deadline.  Raises :class:`WaitTimeout` when the deadline passes.  Before
    each pause the observers installed with :func:`observing` see the record.  ``description``
    names the wait in the record and in the timeout's message ("nova-compute running on
    compute1"); timing arguments out of range are :class:`~stackdrill.core.errors.InvalidValue`.
    """
    _check_arguments(description, timeout, interval, max_interval, backoff)
    record = PollRecord(description=description, timeout=timeout)
    start = clock.monotonic()
    deadline = start + timeout
    pause = min(interval, max_interval)
    number = 0
    while True:
        number += 1
        result, attempt, now = _attempt(check, number, start, clock, ignore)
        record.attempts.append(attempt)
        record.elapsed = now - start
        if attempt.ok:
            record.succeeded = True
            return cast(T, result), record
        remaining = deadline - now
        if remaining <= 0:
            raise WaitTimeout(record)
        for observer in _OBSERVERS.get():
            observer(record, remaining)
        if pacing is not None:
            clock.sleep(max(0.0, min(pacing(attempt), remaining)))
            continue
        clock.sleep(min(pause, remaining))
        pause = min(pause * backoff, max_interval)


def _check_arguments(description: str, timeout: float, interval: float, max_interval: float,
                     backoff: float) -> None:
    """A wait's timing as :func:`poll` takes it, or InvalidValue."""
    if timeout < 0:
        raise InvalidValue(f"{description}: timeout must not be negative, got {timeout}")
    if interval <= 0:
        raise InvalidValue(f"{description}: interval must be positive, got {interval}")
    if max_interval <= 0:
        raise InvalidValue(f"{description}: max_interval must be positive, got {max_interval}")
    if backoff < 1:
        raise InvalidValue(f"{description}: backoff must be at least 1, got {backoff}")


def _attempt(check: Callable[[], T | bool | None], number: int, start: float, clock: Clock,
             ignore: tuple[type[BaseException], ...]
             ) -> tuple[T | bool | None, Attempt, float]:
    """One call of ``check``: what it returned (None when it raised one of ``ignore``), the
    attempt as the record keeps it, and the clock when the call ended."""
    began = clock.monotonic()
    result: T | bool | None = None
    try:
        result = check()
    except ignore as exc:
        ok = False
        detail = _describe_exception(exc)
    else:
        ok = bool(result)
        detail = _clip(repr(result))
    now = clock.monotonic()
    return result, Attempt(number=number, at=began - start, duration=now - began, ok=ok,
                           detail=detail), now


def poll_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    description: str,
    interval: float = 0.5,
    max_interval: float = 2.0,
    backoff: float = 1.5,
    ignore: tuple[type[BaseException], ...] = (),
    clock: Clock = SYSTEM_CLOCK,
) -> PollRecord:
    """Like :func:`poll` for a boolean check; returns only the record."""
    _, record = poll(
        check,
        timeout=timeout,
        description=description,
        interval=interval,
        max_interval=max_interval,
        backoff=backoff,
        ignore=ignore,
        clock=clock,
    )
    return record
