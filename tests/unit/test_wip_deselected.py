"""Drills tagged ``@wip`` (written, not yet run on the lab) are left out of every run unless the
marker expression names ``wip``: the main command (``stackdrill run --lab``) and ``stackdrill
plan`` select with ``not wip``, the plugin deselects them when an expression given to pytest
itself does not name ``wip``, and the lab command of ``scripts/test`` says ``not long and not
wip``.

The runs go through ``stackdrill.cli.main`` in-process: with ``pytest.main`` replaced, to read
the arguments the main command hands pytest (no lab is touched), and on the fake cloud of
``tests.unit.fake_cloud``, whose fault records every injection."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from _pytest.mark.expression import Expression

from stackdrill import cli
from tests.unit.fake_cloud import (
    CANARY_SCENARIO,
    events,
    fake_project,
    run_args,
    service_scenario,
    stackdrill,
)

ROOT = Path(__file__).resolve().parents[2]

DONE = "Feature: a drill on the fake cloud, and one written and not yet run\n" + CANARY_SCENARIO
WIP = "\n" + service_scenario("the other service stops", "other", "canary", tags="  @wip\n")
RAN_DONE = ["inject compute1/canary", "recover compute1/canary", "undo compute1/canary"]
RAN_WIP = ["inject compute1/other", "recover compute1/other", "undo compute1/other"]


def markexpr(argv: list[str]) -> str:
    """The marker expression pytest selects with: the last ``-m``."""
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == "-m"][-1]


@pytest.mark.parametrize(("tags", "expression"), [
    ((), "not wip"),
    (("-m", "long"), "(long) and not wip"),
    (("--tags", "compute or disaster"), "(compute or disaster) and not wip"),
    (("-m", "wip"), "wip"),
])
@pytest.mark.parametrize("command", ["run", "plan"])
def test_the_main_command_hands_pytest_an_expression_without_wip(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: str, tags: tuple[str, ...],
        expression: str) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(pytest, "main", lambda argv, **kw: seen.append(argv) or 0)
    isolated = ["--reports", str(tmp_path / "reports"), "--history",
                str(tmp_path / "history.jsonl")] if command == "run" else []
    assert cli.main([command, "--lab", *isolated, *tags]) == cli.EXIT_OK
    [argv] = seen
    assert argv[0] == "features"
    assert "--lab" in argv
    assert markexpr(argv) == expression


def test_the_main_command_runs_no_wip_drill(tmp_path: Path,
                                            capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = fake_project(tmp_path, DONE + WIP)
    ran = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_OK, ran
    assert events(features) == RAN_DONE
    assert "1 passed, 1 deselected" in ran.stdout, ran


def test_an_expression_after_the_double_dash_that_does_not_name_wip_still_leaves_it_out(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """pytest takes the last ``-m``: ``stackdrill run -- -m 'not long'`` replaces the command's
    ``not wip``, and the plugin deselects the drill itself."""
    features, inventory = fake_project(tmp_path, DONE + WIP)
    ran = stackdrill(run_args(tmp_path, features, inventory, pytest_args=("-m", "not long")),
                     tmp_path, capfd)
    assert ran.code == cli.EXIT_OK, ran
    assert events(features) == RAN_DONE


def test_an_expression_naming_wip_runs_the_wip_drill(tmp_path: Path,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = fake_project(tmp_path, DONE + WIP)
    ran = stackdrill(run_args(tmp_path, features, inventory, "-m", "wip"), tmp_path, capfd)
    assert ran.code == cli.EXIT_OK, ran
    assert events(features) == RAN_WIP


def test_the_lab_command_of_scripts_test_leaves_out_long_and_wip() -> None:
    lines = [line for line in (ROOT / "scripts/test").read_text().splitlines()
             if re.match(r"\.venv/bin/pytest --lab tests/lab features\b", line)]
    assert len(lines) == 1, lines
    words = shlex.split(lines[0])
    expression = Expression.compile(words[words.index("-m") + 1])
    for marks in ({"long"}, {"wip"}, {"long", "wip"}):
        assert not expression.evaluate(lambda name, marks=marks: name in marks), marks
    assert expression.evaluate(lambda name: name == "compute")
