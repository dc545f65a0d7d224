"""The soak's pytest plugin (``-p soak_plugin``, with ``benchmarks/`` on ``PYTHONPATH``): after
each drill has ended (its faults undone, its record in the history), it reads the lab again and
appends one JSON line to the pass's leak file: the drill, pytest's outcome of it, every
difference from the soak's baseline, and what could not be read.

Its input comes from the environment the soak gives each ``stackdrill run``:
``STACKDRILL_SOAK_BASELINE`` (the baseline's JSON file), ``STACKDRILL_SOAK_LEAKS`` (the file to
append to), ``STACKDRILL_SOAK_INVENTORY`` (the lab's inventory) and ``STACKDRILL_SOAK_JOURNAL``
(the pass's journal, read with the mirror the inventory names).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from soak_state import ENVIRONMENT, fault_files, leaks, one_line, read_local, read_state

from stackdrill.core.errors import StackdrillError
from stackdrill.engine.recover import journal_for
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.lab.topology import BRIDGE, SUBNET_PREFIX
from stackdrill.reporting.history import scenario_of

_WORSE = ("passed", "skipped", "failed", "error")


def worse(was: str, now: str) -> str:
    """The worse of two outcomes: error (setup or teardown failed) over failed over skipped."""
    return max(was, now, key=_WORSE.index)


def phase_outcome(when: str, outcome: str) -> str:
    """pytest's outcome of one phase as the drill's: a failed setup or teardown is an error."""
    if outcome == "failed" and when != "call":
        return "error"
    return outcome


class SoakChecks:
    """Reads the lab after each drill and appends what changed since the baseline."""

    def __init__(self, paths: dict[str, Path]) -> None:
        self.paths = paths
        self.baseline: dict[str, Any] = json.loads(paths["baseline"].read_text(encoding="utf-8"))
        self.names: dict[str, str] = {}
        self.outcomes: dict[str, str] = {}
        self._targets: Targets | None = None

    def targets(self) -> Targets:
        if self._targets is None:
            self._targets = Targets(load_inventory(self.paths["inventory"]))
        return self._targets

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        feature, scenario = scenario_of(item)
        self.names[item.nodeid] = f"{feature}: {scenario}"

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        now = phase_outcome(report.when or "call", report.outcome)
        self.outcomes[report.nodeid] = worse(self.outcomes.get(report.nodeid, "passed"), now)

    def read(self) -> dict[str, Any]:
        """The lab's state now; what could not be read is in its ``errors``."""
        try:
            targets = self.targets()
            journal = journal_for(targets.inventory, self.paths["journal"], targets, None)
            files = fault_files(self.paths["journal"])
        except (StackdrillError, OSError) as exc:
            return {"hosts": {}, "local": None, "journal": None,
                    "errors": [f"check: {one_line(exc)}"]}
        return read_state(targets, journal, files=files,
                          local=lambda: read_local(BRIDGE, f"{SUBNET_PREFIX}."))

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        started = time.monotonic()
        state = self.read()
        line = {"node": nodeid, "drill": self.names.get(nodeid, nodeid),
                "outcome": self.outcomes.get(nodeid, "passed"), "at": time.time(),
                "check_seconds": round(time.monotonic() - started, 2),
                "leaks": [leak.as_json() for leak in leaks(self.baseline, state)],
                "errors": state["errors"]}
        try:
            with self.paths["leaks"].open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(line) + "\n")
        except OSError as exc:
            print(f"soak: cannot write {self.paths['leaks']}: {one_line(exc)}", file=sys.stderr)

    def close(self) -> None:
        if self._targets is not None:
            self._targets.close()


def pytest_configure(config: pytest.Config) -> None:
    missing = [name for name in ENVIRONMENT.values() if not os.environ.get(name)]
    if missing:
        raise pytest.UsageError(f"soak_plugin: {', '.join(missing)} not set (benchmarks/soak "
                                f"sets them)")
    paths = {key: Path(os.environ[name]) for key, name in ENVIRONMENT.items()}
    config.pluginmanager.register(SoakChecks(paths), "stackdrill-soak-checks")


def pytest_unconfigure(config: pytest.Config) -> None:
    checks = config.pluginmanager.get_plugin("stackdrill-soak-checks")
    if isinstance(checks, SoakChecks):
        checks.close()
