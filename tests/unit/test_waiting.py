from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from stackdrill.core.waiting import (
    Attempt,
    PollRecord,
    WaitTimeout,
    poll,
    poll_until,
)


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


def scripted(clock: FakeClock, results: list[object], cost: float = 0.0) -> Callable[[], Any]:
    """A check that returns (or raises) the given results in order, each taking ``cost``."""
    items: Iterator[object] = iter(results)

    def check() -> Any:
        clock.advance(cost)
        item = next(items)
        if isinstance(item, BaseException):
            raise item
        return item

    return check


def test_success_after_n_attempts_records_each_attempt() -> None:
    clock = FakeClock()
    check = scripted(clock, [None, False, {"active": "active"}], cost=0.25)

    value, record = poll(
        check, timeout=30, description="unit active", interval=1.0, backoff=2.0, clock=clock
    )

    assert value == {"active": "active"}
    assert record.succeeded is True
    assert record.description == "unit active"
    assert record.timeout == 30
    assert record.attempts == [
        Attempt(number=1, at=0.0, duration=0.25, ok=False, detail="None"),
        Attempt(number=2, at=1.25, duration=0.25, ok=False, detail="False"),
        Attempt(number=3, at=3.5, duration=0.25, ok=True, detail="{'active': 'active'}"),
    ]
    assert clock.sleeps == [1.0, 2.0]
    assert record.elapsed == pytest.approx(3.75)


def test_first_truthy_result_returns_without_sleeping() -> None:
    clock = FakeClock()
    value, record = poll(lambda: 42, timeout=5, description="answer", clock=clock)
    assert value == 42
    assert len(record.attempts) == 1
    assert clock.sleeps == []


def test_falsy_non_none_results_are_not_success() -> None:
    clock = FakeClock()
    check = scripted(clock, [0, [], "", ["server-1"]])
    value, record = poll(check, timeout=60, description="servers", clock=clock)
    assert value == ["server-1"]
    assert [a.ok for a in record.attempts] == [False, False, False, True]
    assert [a.detail for a in record.attempts] == ["0", "[]", "''", "['server-1']"]


def test_poll_returns_true_for_boolean_checks() -> None:
    clock = FakeClock()
    value, _ = poll(scripted(clock, [False, True]), timeout=5, description="b", clock=clock)
    assert value is True


def test_backoff_is_capped_at_max_interval() -> None:
    clock = FakeClock()
    check = scripted(clock, [None] * 7 + ["done"])

    poll(
        check,
        timeout=100,
        description="capped",
        interval=0.5,
        backoff=2.0,
        max_interval=3.0,
        clock=clock,
    )

    assert clock.sleeps == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0, 3.0]


def test_interval_larger_than_max_interval_is_capped() -> None:
    clock = FakeClock()
    poll(
        scripted(clock, [None, None, "x"]),
        timeout=100,
        description="big interval",
        interval=10.0,
        max_interval=2.0,
        clock=clock,
    )
    assert clock.sleeps == [2.0, 2.0]


def test_never_sleeps_past_deadline_and_last_attempt_is_at_deadline() -> None:
    clock = FakeClock()
    start = clock.now

    with pytest.raises(WaitTimeout) as caught:
        poll(
            lambda: None,
            timeout=5.0,
            description="never",
            interval=1.0,
            backoff=2.0,
            max_interval=10.0,
            clock=clock,
        )

    assert clock.sleeps == [1.0, 2.0, 2.0]
    assert clock.now - start == pytest.approx(5.0)
    record = caught.value.record
    assert [a.at for a in record.attempts] == [0.0, 1.0, 3.0, 5.0]
    assert record.attempts[-1].at == pytest.approx(record.timeout)
    assert record.elapsed == pytest.approx(5.0)


def test_slow_check_that_overruns_deadline_is_not_retried() -> None:
    clock = FakeClock()
    check = scripted(clock, [None, "late"], cost=7.0)
    with pytest.raises(WaitTimeout) as caught:
        poll(check, timeout=5.0, description="slow", clock=clock)
    assert clock.sleeps == []
    assert len(caught.value.record.attempts) == 1
    assert caught.value.record.elapsed == pytest.approx(7.0)


def test_timeout_message_and_record() -> None:
    clock = FakeClock()
    check = scripted(clock, [None, None, None])

    with pytest.raises(WaitTimeout) as caught:
        poll(
            check,
            timeout=2,
            description="libvirtd active on compute1",
            interval=1.0,
            backoff=1.0,
            clock=clock,
        )

    error = caught.value
    assert str(error) == (
        "libvirtd active on compute1: not reached within 2s after 3 attempts; last: None"
    )
    assert "\n" not in str(error)
    record = error.record
    assert isinstance(record, PollRecord)
    assert record.succeeded is False
    assert len(record.attempts) == 3
    assert all(not a.ok for a in record.attempts)


def test_timeout_message_uses_exception_detail_and_stays_one_line() -> None:
    clock = FakeClock()

    def check() -> None:
        raise ConnectionError("refused\nby peer")

    with pytest.raises(WaitTimeout) as caught:
        poll(
            check,
            timeout=0.5,
            description="ssh",
            interval=0.5,
            ignore=(ConnectionError,),
            clock=clock,
        )

    assert str(caught.value) == (
        "ssh: not reached within 0.5s after 2 attempts; last: ConnectionError: refused by peer"
    )


def test_zero_timeout_makes_exactly_one_attempt() -> None:
    clock = FakeClock()
    with pytest.raises(WaitTimeout) as caught:
        poll(lambda: None, timeout=0, description="once", clock=clock)
    assert len(caught.value.record.attempts) == 1
    assert clock.sleeps == []


def test_ignored_exceptions_count_as_failed_attempts() -> None:
    clock = FakeClock()
    check = scripted(clock, [ConnectionError("connection refused"), TimeoutError(), "up"])

    value, record = poll(
        check, timeout=10, description="api", ignore=(ConnectionError, TimeoutError), clock=clock
    )

    assert value == "up"
    assert [a.detail for a in record.attempts] == [
        "ConnectionError: connection refused",
        "TimeoutError",
        "'up'",
    ]
    assert [a.ok for a in record.attempts] == [False, False, True]


def test_subclasses_of_ignored_exceptions_are_ignored() -> None:
    clock = FakeClock()
    check = scripted(clock, [ConnectionRefusedError("no"), "ok"])
    value, record = poll(check, timeout=10, description="x", ignore=(OSError,), clock=clock)
    assert value == "ok"
    assert record.attempts[0].detail == "ConnectionRefusedError: no"


def test_other_exceptions_propagate_immediately() -> None:
    clock = FakeClock()
    calls: list[int] = []

    def check() -> str | None:
        calls.append(1)
        if len(calls) == 2:
            raise KeyError("boom")
        return None

    with pytest.raises(KeyError, match="boom"):
        poll(check, timeout=60, description="x", ignore=(ConnectionError,), clock=clock)

    assert len(calls) == 2
    assert clock.sleeps == [0.5]


def test_exceptions_propagate_when_nothing_is_ignored() -> None:
    clock = FakeClock()

    def check() -> None:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        poll(check, timeout=60, description="x", clock=clock)
    assert clock.sleeps == []


def test_long_details_are_shortened() -> None:
    clock = FakeClock()
    value, record = poll(lambda: "x" * 5000, timeout=1, description="long", clock=clock)
    assert value == "x" * 5000
    detail = record.attempts[0].detail
    assert detail.endswith("...")
    assert len(detail) <= 300


def test_render_lists_header_and_every_attempt() -> None:
    clock = FakeClock()
    check = scripted(clock, [None, None, "active"], cost=0.21)

    _, record = poll(check, timeout=10, description="dbus active", interval=1.0, clock=clock)
    lines = record.render().splitlines()

    assert lines[0] == "dbus active: reached after 3 attempts in 3.13s (timeout 10s)"
    assert lines[1:] == [
        "  #1 +0.00s (0.21s) not yet: None",
        "  #2 +1.21s (0.21s) not yet: None",
        "  #3 +2.92s (0.21s) ok: 'active'",
    ]


def test_render_of_failed_poll_says_not_reached() -> None:
    clock = FakeClock()
    with pytest.raises(WaitTimeout) as caught:
        poll(lambda: None, timeout=1, description="gone", interval=1.0, clock=clock)
    assert caught.value.record.render().splitlines()[0] == (
        "gone: not reached after 2 attempts in 1.00s (timeout 1s)"
    )


def test_poll_until_returns_record() -> None:
    clock = FakeClock()
    record = poll_until(
        scripted(clock, [False, False, True]), timeout=10, description="flag", clock=clock
    )
    assert isinstance(record, PollRecord)
    assert record.succeeded
    assert len(record.attempts) == 3


def test_poll_until_raises_on_timeout() -> None:
    clock = FakeClock()
    with pytest.raises(WaitTimeout):
        poll_until(lambda: False, timeout=1, description="flag", clock=clock)


@pytest.mark.parametrize(
    ("timeout", "interval", "max_interval", "backoff", "message"),
    [
        (-1.0, 0.5, 2.0, 1.5, "timeout must not be negative"),
        (1.0, 0.0, 2.0, 1.5, "interval must be positive"),
        (1.0, 0.5, 0.0, 1.5, "max_interval must be positive"),
        (1.0, 0.5, 2.0, 0.5, "backoff must be at least 1"),
    ],
)
def test_invalid_arguments_are_rejected(
    timeout: float, interval: float, max_interval: float, backoff: float, message: str
) -> None:
    calls: list[int] = []

    def check() -> bool:
        calls.append(1)
        return True

    with pytest.raises(ValueError, match=message):
        poll(
            check,
            timeout=timeout,
            description="bad",
            interval=interval,
            max_interval=max_interval,
            backoff=backoff,
            clock=FakeClock(),
        )
    assert calls == []
