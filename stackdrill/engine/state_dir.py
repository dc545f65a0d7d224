"""Where stackdrill keeps what outlives a run on this machine: the undo journal, the drill
history, the drill locks and the pre-upgrade records."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_state_dir"]


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/stackdrill``, by default ``~/.local/state/stackdrill``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local/state")
    return Path(base) / "stackdrill"
