"""Ctrl-C and SIGTERM during a run.

The first one stops the drill: it raises KeyboardInterrupt, and the run's teardown undoes every
fault still in place. Every later one is only noted: a second Ctrl-C pressed while the undo runs
must not cut it short and leave the cloud broken. Whoever cannot wait has SIGKILL, which leaves
the faults in the journal for ``stackdrill recover --pending``.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

INTERRUPTED = "stackdrill: interrupted by signal {signum}; undoing every fault before exiting"
STILL_UNDOING = ("stackdrill: interrupted again; undoing the faults first (SIGKILL would leave "
                 "them to `stackdrill recover --pending`)")
SIGNALS = (signal.SIGINT, signal.SIGTERM)

Handler = Callable[[int, FrameType | None], Any] | int | None


class InterruptGuard:
    """Installs the handlers on the main thread; :meth:`restore` puts the previous ones back.
    ``say`` shows a line to the operator (under pytest, past its output capture)."""

    def __init__(self, say: Callable[[str], None] | None = None) -> None:
        self._say = say or _to_stderr
        self._previous: dict[int, Handler] = {}
        self.noted = 0

    def install(self) -> bool:
        if threading.current_thread() is not threading.main_thread():
            return False
        for signum in SIGNALS:
            self._previous[signum] = signal.signal(signum, self._first)
        return True

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()

    def _first(self, signum: int, frame: FrameType | None) -> None:
        for other in SIGNALS:
            signal.signal(other, self._again)
        self._say(INTERRUPTED.format(signum=signum))
        raise KeyboardInterrupt(f"signal {signum}")

    def _again(self, signum: int, frame: FrameType | None) -> None:
        self.noted += 1
        self._say(STILL_UNDOING)


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
