"""The one exception root, and its few branches. Every error stackdrill raises derives from
:class:`StackdrillError`, and its message is one line an operator can act on.

A catch site names the branch it handles: the CLI maps :class:`BadInput` to exit 2, the drill
maps :class:`ActionFailed` in a recovery to a failed recovery, and so on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stackdrill.core.waiting import PollRecord


class StackdrillError(Exception):
    """Every error stackdrill raises."""


class BadInput(StackdrillError):
    """Input refused before anything is injected: an inventory, a feature's table, a parameter,
    an option, a profile, a schedule. The command line exits 2."""


class InvalidValue(BadInput, ValueError):
    """A value written down cannot be read: a parameter's value, a tolerance rule, a
    safeguard, a tag, a name. It is a ValueError too, so that a parser's caller, which turns
    ``int()``'s and ``float()``'s ValueError into its own message, turns this one alike."""


class ActionFailed(StackdrillError):
    """An action on a host or on the cloud failed: a command, an API call, a power action, a
    fault's injection or undo, a recovery's step."""


class WaitTimeout(StackdrillError):
    """A condition polled for did not come true by its deadline; ``record`` holds what every
    attempt saw (:func:`stackdrill.core.waiting.poll` raises it)."""

    def __init__(self, record: PollRecord) -> None:
        self.record = record
        super().__init__(record.timeout_message())


class DrillError(StackdrillError):
    """A drill's verdict is a failure: a fault not confirmed, a budget exceeded, the cloud not
    repaired, a guard or safeguard that stopped it."""


class HarnessError(StackdrillError):
    """The harness's own machinery failed: the journal, the lock, the reports, a notification,
    the lab."""
