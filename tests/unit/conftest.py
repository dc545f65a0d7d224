"""Every unit test keeps its state out of the user's: the drill history, the undo journal and the
drill locks default to ``$XDG_STATE_HOME/stackdrill``, which points into a temporary directory
for the whole session (child processes inherit it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def private_state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    state = tmp_path_factory.mktemp("xdg-state")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(state))
        yield state
