"""Before anything is injected: the run's undo journal and its drill history can be written on
the drill host. A full disk (or a read-only file system, or a directory the run may not write)
refuses the run with one line, exit 2, instead of failing its first injection or losing the
record of a drill that ran."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackdrill.core.disk_probe import NotWritable, probe_directory
from stackdrill.engine.journal import JournalError
from stackdrill.engine.state_dir import default_state_dir
from stackdrill.inventory.model import Inventory
from stackdrill.pytest_plugin.session import session_journal

__all__ = ["history_path", "refuse_unwritable"]


def history_path(config: pytest.Config) -> Path:
    """The drill history the run appends to: ``--history``, or the state directory's."""
    given = config.getoption("history", None)
    return Path(given) if given else default_state_dir() / "history.jsonl"


def refuse_unwritable(config: pytest.Config, inventory: Inventory) -> None:
    """Probe the journal's and the history's directories (a synced write of 1 MiB each, then
    removed); the first that cannot take it is a usage error naming it."""
    try:
        session_journal(config, inventory).check_writable()
        probe_directory(history_path(config), "drill history")
    except (JournalError, NotWritable) as exc:
        raise pytest.UsageError(f"{exc}; nothing injected") from None
