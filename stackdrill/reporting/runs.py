"""Each run's evidence in a directory of its own: ``<reports>/<run>/`` holds the run's Allure
results, ``junit.xml`` and drill report, and ``<reports>/latest`` points at the newest run.

A run never cleans or writes into another run's directory. ``stackdrill run`` makes the
directory itself; a plain pytest session makes one with ``--reports DIR``. Every session has a
run name, recorded with each drill in the history, so a report can tell the drills of one run.
``stackdrill run`` points ``latest`` at its directory once its session has run tests, and a run
refused before any leaves no directory.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from stackdrill.reporting import ReportError

LATEST = "latest"
ALLURE = "allure-results"
JUNIT = "junit.xml"
REPORT = "drills.html"
RUN_ID = pytest.StashKey[str]()
_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]*")


class RunError(ReportError):
    """A run directory cannot be made or found; one line."""


def new_run_id(now: dt.datetime | None = None) -> str:
    """A run's name: the UTC time it started, ``20261201T101500Z``."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def create_run_dir(base: Path, run_id: str | None = None, *, latest: bool = True) -> Path:
    """A new, empty directory for one run under ``base`` (``-2``, ``-3``... when a run of the
    same second has one), and ``base/latest`` pointing at it (unless not ``latest``: see
    :func:`settle_run_dir`)."""
    name = run_id or new_run_id()
    if not _NAME.fullmatch(name) or name == LATEST:
        raise RunError(f"run name {name!r}: expected letters, digits, '.', '_' or '-'")
    base.mkdir(parents=True, exist_ok=True)
    for suffix in ("", *(f"-{n}" for n in range(2, 100))):
        directory = base / f"{name}{suffix}"
        try:
            directory.mkdir()
        except FileExistsError:
            continue
        if latest:
            point_latest(base, directory)
        return directory
    raise RunError(f"{base}: no free directory for run {name}")


def point_latest(base: Path, directory: Path) -> None:
    """``base/latest`` -> ``directory`` (relative), replaced atomically."""
    link = base / LATEST
    temporary = base / f".{LATEST}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(directory.name)
    os.replace(temporary, link)


def settle_run_dir(directory: Path, refused: bool) -> bool:
    """After a run's pytest session: ``latest`` points at its directory, unless the run was
    refused (bad input, the drill lock held) before any test ran. Then the directory, which
    holds only an empty ``junit.xml`` and Allure's settings, goes, and ``latest`` stays at the
    last run that ran tests. Whether the directory is kept."""
    if refused and not evidence(directory).ran:
        shutil.rmtree(directory, ignore_errors=True)
        return False
    point_latest(directory.parent, directory)
    return True


def find_run(base: Path, run: str | None) -> Path:
    """A run's directory: ``latest`` (or None), a run's name under ``base``, or a directory."""
    candidates = [base / (run or LATEST)]
    if run and run not in (LATEST, "."):
        candidates.append(Path(run))
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    where = f"{base}/{run}" if run else f"{base}/{LATEST}"
    raise RunError(f"no run directory at {where}")


@dataclass(frozen=True)
class Evidence:
    """What a run directory holds: Allure test results and the tests junit.xml lists."""

    directory: Path
    allure: int | None  # None: no Allure results
    junit: int | None  # None: no junit.xml

    @property
    def ran(self) -> bool:
        """Whether any test left a result."""
        return bool(self.allure) or bool(self.junit)

    def lines(self) -> list[str]:
        allure = "no Allure results" if self.allure is None else f"{self.allure} Allure results"
        junit = "no junit.xml" if self.junit is None else f"{self.junit} tests in junit.xml"
        found = [f"evidence: {self.directory}: {allure}, {junit}"]
        if self.allure is not None and self.junit is not None and self.allure != self.junit:
            found.append(f"WARNING: {self.directory}: {self.allure} Allure results but "
                         f"{self.junit} tests in junit.xml: evidence is missing")
        return found


def evidence(directory: Path) -> Evidence:
    allure = directory / ALLURE
    results = len(list(allure.glob("*-result.json"))) if allure.is_dir() else None
    return Evidence(directory, results, junit_tests(directory / JUNIT))


def junit_tests(path: Path) -> int | None:
    """How many test cases junit.xml lists (pytest writes one ``<testcase`` element each)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return len(re.findall(r"<testcase\b", text))


# -- the pytest side --------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stackdrill")
    group.addoption("--reports", metavar="DIR", default=None,
                    help="keep this session's Allure results and junit.xml in a new directory "
                         "DIR/<run>/ and point DIR/latest at it (--alluredir and --junitxml, "
                         "if given, win)")
    group.addoption("--run-id", metavar="NAME", default=None,
                    help="the run's name in the drill history (default: the run directory's "
                         "name, or the UTC time the session started)")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Before any plugin is configured: allure-pytest and junitxml read their paths then."""
    option = config.option
    run_id = getattr(option, "run_id", None)
    base = getattr(option, "reports", None)
    quiet = (option.collectonly or getattr(option, "stackdrill_plan", False)
             or hasattr(config, "workerinput"))
    if base and not quiet:
        try:
            directory = create_run_dir(Path(base), run_id)
        except (RunError, OSError) as exc:
            raise pytest.UsageError(f"--reports: {exc}") from None
        run_id = directory.name
        if not getattr(option, "allure_report_dir", None):
            option.allure_report_dir = str(directory / ALLURE)
        if not getattr(option, "xmlpath", None):
            option.xmlpath = str(directory / JUNIT)
    config.stash[RUN_ID] = run_id or new_run_id()


def session_run_id(config: pytest.Config) -> str | None:
    return config.stash.get(RUN_ID, None)
