"""The Tempest step's checks that need Tempest itself, made before anything runs, on the
scenarios a run or a plan selected (the plugin calls :func:`check_tempest` when collection ends;
a regex Python cannot compile was refused before, with the other bad input of every feature
collected):

- The virtualenv is the one the step runs from (:func:`run_venv`): ``--tempest-venv``, else
  ``$STACKDRILL_TEMPEST_VENV``, else ``STATE_DIR/tempest/venv``.
- With Tempest installed there, its tests are listed once per process
  (:func:`~stackdrill.cloud.tempest.listing.list_tests`), and each step's regex is matched
  against their ids as stestr matches it: one that selects none is refused. A listing that
  fails refuses the run or the plan, with one line.
- Without Tempest there, nothing can be listed. The dry run plans all the same; a real run is
  refused, with one line naming ``stackdrill tempest install``: a drill that injects its fault
  and then cannot verify the cloud wastes the fault.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stackdrill.cloud.tempest import TempestError
from stackdrill.cloud.tempest.install import TempestVenv, venv_path
from stackdrill.cloud.tempest.listing import list_tests
from stackdrill.cloud.tempest.selection import compile_problem, regex_of, selection_problem
from stackdrill.engine.state_dir import default_state_dir

__all__ = ["check_tempest", "run_venv", "tempest_steps"]


def run_venv(option: str | None) -> TempestVenv:
    """The virtualenv the Tempest step runs from, ``option`` being ``--tempest-venv``'s value."""
    return TempestVenv(venv_path(option, default_state_dir()))


def tempest_steps(scenarios: Iterable[tuple[str, Iterable[Any]]]) -> list[tuple[str, str]]:
    """``(<feature>:<line>, regex)`` of each Tempest step whose regex compiles, once each, from
    ``(feature, steps)`` pairs."""
    found: dict[str, str] = {}
    for location, steps in scenarios:
        for step in steps:
            regex = regex_of(step.name)
            if regex is not None and compile_problem(regex) is None:
                found.setdefault(f"{location}:{step.line_number}", regex)
    return list(found.items())


def check_tempest(scenarios: Iterable[tuple[str, Iterable[Any]]], venv: TempestVenv,
                  running: bool) -> list[str]:
    """What keeps the Tempest steps of ``scenarios`` from running, one line each: a regex that
    selects no test of ``venv``'s Tempest, a listing that failed, or, when ``running`` (not a
    dry run), no Tempest in ``venv``."""
    steps = tempest_steps(scenarios)
    if not steps:
        return []
    first = steps[0][0]
    missing = venv.missing()
    if missing is not None:
        return [f"{first}: the Tempest step cannot run: {missing}"] if running else []
    try:
        tests = list_tests(venv)
    except TempestError as exc:
        return [f"{first}: {exc}"]
    return [f"{where}: {problem}" for where, regex in steps
            if (problem := selection_problem(regex, tests)) is not None]
