"""What the session leaves behind: the Allure environment files, and the drills a safeguard
aborted in the terminal summary and for ``stackdrill run``'s exit code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stackdrill.pytest_plugin.options import SEED, planning
from stackdrill.pytest_plugin.session import ABORTED, INVENTORY, undo_live_drills
from stackdrill.reporting.allure_files import write_allure_files
from stackdrill.reporting.history import (
    API_VERSIONS,
    SERVICE_VERSIONS,
    stackdrill_version,
)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    undo_live_drills()
    config = session.config
    directory = getattr(config.option, "allure_report_dir", None)
    if directory and not planning(config):
        inventory = config.stash.get(INVENTORY, None)
        write_allure_files(Path(directory), cloud=inventory.cloud if inventory else None,
                           stackdrill=stackdrill_version(),
                           openstack=config.stash.get(API_VERSIONS, None),
                           services=config.stash.get(SERVICE_VERSIONS, None),
                           seed=config.stash.get(SEED, None))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int,
                            config: pytest.Config) -> None:
    if ABORTED:
        terminalreporter.section("aborted by safeguard", red=True)
        for line in ABORTED:
            terminalreporter.write_line(line)


def aborted_drills() -> list[str]:
    """The drills a safeguard aborted in the last session (``stackdrill run`` exits 3 if any)."""
    return list(ABORTED)
