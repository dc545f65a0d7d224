"""Every exit code the command line can return is listed by ``stackdrill --help`` and
``stackdrill run --help``, and the README and the docs list the same ones; each branch of
:mod:`stackdrill.core.errors` that reaches the command line has its exit code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from stackdrill import cli
from stackdrill.cli import run_options
from stackdrill.core.errors import ActionFailed, BadInput
from stackdrill.engine import schedule
from stackdrill.engine.journal import JournalError
from stackdrill.engine.lock import LockError
from stackdrill.inventory import importer as inventory_import
from stackdrill.lab.system import LabError

ROOT = Path(__file__).resolve().parents[2]
# modules whose functions make up the command line's exit status
CLI_MODULES = (cli, inventory_import, run_options)


def literal_exit_codes() -> set[int]:
    """Integers returned, or passed to ``sys.exit``/``SystemExit``, as literals in those
    modules (the command line's own functions return its ``EXIT_*`` constants)."""
    found: set[int] = set()
    for module in CLI_MODULES:
        tree = ast.parse(Path(str(module.__file__)).read_text())
        for node in ast.walk(tree):
            value: ast.expr | None = None
            if isinstance(node, ast.Return):
                value = node.value
            elif isinstance(node, ast.Call) and node.args and (
                    ast.unparse(node.func) in ("sys.exit", "exit", "SystemExit")):
                value = node.args[0]
            if isinstance(value, ast.Constant) and type(value.value) is int:
                found.add(value.value)
    return found


def used_exit_codes() -> set[int]:
    constants = {value for name, value in vars(cli).items()
                 if name.startswith("EXIT_") and type(value) is int}
    from_pytest = {cli._exit_code(code) for code in range(256)}
    return constants | from_pytest | literal_exit_codes() | {schedule.EXIT_MAX_DURATION}


def help_text(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as ended:
        cli.main(argv)
    assert ended.value.code == 0
    return capsys.readouterr().out


def listed_in_help(text: str) -> dict[int, str]:
    """The ``exit codes:`` block: each code and its meaning (continuation lines joined)."""
    block = text[text.index("\nexit codes:\n") + len("\nexit codes:\n"):]
    listed: dict[int, str] = {}
    last: int | None = None
    for line in block.splitlines():
        match = re.match(r"^  (\d+)\s+(\S.*)$", line)
        if match:
            last = int(match[1])
            listed[last] = match[2]
        elif line.startswith("       ") and last is not None:
            listed[last] += " " + line.strip()
        else:
            break
    return listed


def table_codes(path: Path, heading: str) -> set[int]:
    """The codes in the first column of the table under ``heading``."""
    section = path.read_text().split(heading + "\n", 1)[1].split("\n## ", 1)[0]
    return {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.MULTILINE)}


def test_the_exit_codes_the_code_uses_are_the_ones_it_names() -> None:
    assert used_exit_codes() == set(cli.EXIT_MEANINGS) == {0, 1, 2, 3, 124, 130}
    assert cli.EXIT_MAX_DURATION == schedule.EXIT_MAX_DURATION


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"]])
def test_help_lists_every_exit_code(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    listed = listed_in_help(help_text(argv, capsys))
    assert set(listed) == used_exit_codes()
    assert listed == {code: " ".join(meaning.split())
                      for code, meaning in cli.EXIT_MEANINGS.items()}
    assert "--max-duration" in listed[124] and "safeguard" in listed[3]


def test_the_docs_list_the_same_exit_codes() -> None:
    used = used_exit_codes()
    assert table_codes(ROOT / "docs/safety.md", "## Exit codes") == used
    assert table_codes(ROOT / "docs/scheduling.md", "## Exit codes") == used
    readme = (ROOT / "README.md").read_text()
    sentence = readme[readme.index("Exit codes ("):readme.index("Bad input (arguments")]
    assert {int(code) for code in re.findall(r"[:;]\s+(\d+)\s", sentence)} == used
    reports = (ROOT / "reports/README.md").read_text()
    sentence = reports[reports.index("its exit code:"):]
    assert {int(code) for code in re.findall(r"[:,]\s+(\d+)\s", sentence)} == used


@pytest.mark.parametrize(("error", "code", "line"), [
    (BadInput("an option"), cli.EXIT_BAD_INPUT, "stackdrill: error: an option"),
    (cli.CliError("--last: expected a positive number of runs"), cli.EXIT_BAD_INPUT,
     "stackdrill: error: --last: expected a positive number of runs"),
    (ActionFailed("c1: unreachable"), cli.EXIT_BAD_INPUT, "stackdrill: error: c1: unreachable"),
    (JournalError("journal j: line 3: not valid JSON"), cli.EXIT_BAD_INPUT,
     "stackdrill: error: journal j: line 3: not valid JSON"),
    (LockError("lock l: cannot open"), cli.EXIT_BAD_INPUT,
     "stackdrill: error: lock l: cannot open"),
    (LabError("no libvirt"), cli.EXIT_HARNESS, "stackdrill: lab: no libvirt"),
    (OSError("disk full"), cli.EXIT_HARNESS, "stackdrill: error: disk full"),
    (KeyboardInterrupt(), cli.EXIT_INTERRUPTED, "stackdrill: interrupted"),
])
def test_the_command_line_maps_each_branch_to_its_exit_code(
        error: BaseException, code: int, line: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Bad input, and a host, the journal or the lock that refused a command of the command line
    itself: 2; the lab's own failure and the file system's: 1 (the harness); Ctrl-C: 130."""
    def fail(args: object) -> int:
        raise error

    monkeypatch.setattr(cli, "_report", fail)
    assert cli.main(["report"]) == code
    assert capsys.readouterr().err == line + "\n"
