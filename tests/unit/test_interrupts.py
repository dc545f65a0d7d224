"""The first Ctrl-C or SIGTERM stops a run; the ones after it cannot cut its undo short."""

from __future__ import annotations

import os
import signal

import pytest

from stackdrill.engine.interrupts import INTERRUPTED, STILL_UNDOING, InterruptGuard


@pytest.mark.parametrize("first", [signal.SIGINT, signal.SIGTERM])
def test_only_the_first_signal_interrupts(first: signal.Signals) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    said: list[str] = []
    guard = InterruptGuard(said.append)
    assert guard.install()
    try:
        with pytest.raises(KeyboardInterrupt, match=f"signal {int(first)}"):
            os.kill(os.getpid(), first)
        undone = []
        for again in (signal.SIGINT, signal.SIGTERM, signal.SIGINT):
            os.kill(os.getpid(), again)  # as if pressed while the undo runs
            undone.append(again)
        assert undone == [signal.SIGINT, signal.SIGTERM, signal.SIGINT]
        assert guard.noted == 3
        assert said == [INTERRUPTED.format(signum=int(first)), *[STILL_UNDOING] * 3]
    finally:
        guard.restore()
    assert {s: signal.getsignal(s) for s in before} == before
