"""A command whose connection broke under it, run again on a fresh connection.

A host's SSH connection can drop in the middle of a drill: the host reboots, a partition cuts
the harness off, sshd is restarted or killed. A command that failed that way (it raised
:class:`~stackdrill.hosts.ssh.HostUnreachable`: the connection could not be opened, or closed
before the command's exit status came back) is run again on a fresh connection, with growing
pauses between attempts (:func:`~stackdrill.core.waiting.poll`), until the command's own
timeout has passed: every attempt and every pause fit inside it. A command that ran and
exited non-zero is a result, not a lost connection, and is never run again here; nor is one
that timed out (:class:`~stackdrill.hosts.ssh.HostTimeout`: it may still be running); nor a
wrong key or host key.

Running a command again is safe only for a command that may run twice. One whose connection
broke after it was sent may have run, in full or in part, and the harness cannot tell. So the
retry is chosen per call (``Target.run(..., retry_on_disconnect=...)``), and by default per
part of the drill:

- on for a fault's ``undo`` and a recovery's steps and rollback (the drill runs them inside
  :func:`retrying_on_disconnect`, and so does ``stackdrill recover --pending``). Undo methods
  are written to be idempotent (they may run after a recovery already put things back, or
  again after a killed run), and recovery steps start, restart, set to a value or put back
  what is missing; a step that must not run twice (a reboot) passes
  ``retry_on_disconnect=False``;
- off for a fault's ``inject`` (a second injection is a different drill), its ``confirm``
  (the drill polls it, and each poll connects afresh anyway), the probes of a snapshot, and
  the harness's own bookkeeping on the cloud's side (an append to the journal's mirror is not
  idempotent).

A command that ran again reports it: its :class:`~stackdrill.hosts.ssh.CommandResult` says
``reconnected after N attempts, X s`` with every attempt (the drill's evidence shows it), and a
warning is logged. One that ran out of time raises ``HostUnreachable``, one line naming the
host, how long and how often it tried, and what the last attempt saw.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Protocol

from stackdrill.core.waiting import SYSTEM_CLOCK, Clock, PollRecord, WaitTimeout, poll
from stackdrill.hosts.ssh import CommandResult, HostUnreachable

__all__ = ["RunsCommands", "retries_by_default", "retrying_on_disconnect", "run_reconnecting"]

log = logging.getLogger(__name__)

#: The shortest timeout an attempt is given, however little of the command's time is left.
MIN_ATTEMPT = 1.0
#: The first pause between attempts, and the longest (seconds): sshd restarted by systemd is
#: back within a second, a rebooting host within a minute or two.
FIRST_PAUSE = 0.5
LONGEST_PAUSE = 5.0

_COMMAND_SHOWN = 80

_RETRYING: ContextVar[bool] = ContextVar("stackdrill_retry_on_disconnect", default=False)


class RunsCommands(Protocol):
    """A host's connection as :class:`~stackdrill.hosts.ssh.SshConnection` offers it."""

    def run(self, command: str, *, timeout: float | None = None) -> CommandResult: ...


@contextlib.contextmanager
def retrying_on_disconnect(enabled: bool = True) -> Iterator[None]:
    """Inside, ``Target.run`` retries on a lost connection by default (``enabled``), or not:
    the drill's undo and recovery run inside ``retrying_on_disconnect()``, the harness's
    bookkeeping inside ``retrying_on_disconnect(False)``. A call's own ``retry_on_disconnect``
    wins. Threads started inside do not inherit it."""
    token = _RETRYING.set(enabled)
    try:
        yield
    finally:
        _RETRYING.reset(token)


def retries_by_default() -> bool:
    """Whether a command run here, without a ``retry_on_disconnect`` of its own, is retried on
    a lost connection."""
    return _RETRYING.get()


def run_reconnecting(connection: RunsCommands, host: str, command: str, timeout: float, *,
                     clock: Clock = SYSTEM_CLOCK) -> CommandResult:
    """Run ``command`` over ``connection``, again on a fresh connection each time the
    connection is lost, until ``timeout`` seconds have passed since the first attempt.

    Returns the result of the attempt that got an exit status; when it took more than one,
    the result's ``reconnected`` holds the record of every attempt. Raises
    :class:`~stackdrill.hosts.ssh.HostUnreachable` (one line naming ``host``) when no attempt
    did; any other error of an attempt (a timeout, a refused key) is raised at once."""
    deadline = clock.monotonic() + timeout

    def attempt() -> CommandResult:
        return connection.run(command, timeout=max(deadline - clock.monotonic(), MIN_ATTEMPT))

    shown = _shown(command)
    try:
        result, record = poll(attempt, timeout=timeout, interval=FIRST_PAUSE,
                              max_interval=LONGEST_PAUSE, backoff=2.0,
                              description=f"{host}: a connection for {shown}",
                              ignore=(HostUnreachable,), clock=clock)
    except WaitTimeout as exc:
        lost = exc.record
        raise HostUnreachable(
            f"{host}: connection lost and not back within {timeout:g}s "
            f"({len(lost.attempts)} attempts) for {shown}; last: {_last(lost)}") from exc
    if len(record.attempts) == 1:
        return result
    summary = reconnected_line(record)
    log.warning("%s: %s for %s", host, summary, shown)
    return dataclasses.replace(result, reconnected=f"{summary}\n{record.render()}")


def reconnected_line(record: PollRecord) -> str:
    """``reconnected after 3 attempts, 4.2 s``: what the evidence says of a command that needed
    fresh connections."""
    return f"reconnected after {len(record.attempts)} attempts, {record.elapsed:.1f} s"


def _shown(command: str) -> str:
    """The command as a one-line message quotes it: its first line, cut at 80 characters."""
    lines = command.strip().splitlines() or [""]
    text = lines[0] if len(lines) == 1 else lines[0] + " ..."
    if len(text) > _COMMAND_SHOWN:
        text = text[: _COMMAND_SHOWN - 3] + "..."
    return repr(text)


def _last(record: PollRecord) -> str:
    """What the last attempt saw, without the exception's class name."""
    if not record.attempts:
        return "no attempt"
    detail = record.attempts[-1].detail
    prefix = f"{HostUnreachable.__name__}: "
    return detail[len(prefix):] if detail.startswith(prefix) else detail
