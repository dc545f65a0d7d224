"""pytest's own reports of a failure, with every secret of the session's redactor removed.

A failure's message, traceback and captured output reach the terminal and junit.xml through
pytest's test report, and the Allure results through allure-pytest, which reads the message from
the exception itself (for the test, for each Gherkin step and for each fixture). So the report is
redacted as it is made, before any plugin reads it, and when the session ends every file written
into the Allure results during it, and junit.xml, is redacted on disk.

The redactor is the one kept under :data:`REDACTOR`, where the plugin's ``redactor`` fixture
puts it: the inventory's power passwords, the clouds.yaml credentials and the database
passwords, as the fixtures register them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from stackdrill.core.evidence import Redactor

__all__ = ["REDACTOR", "redact_file", "redact_report", "redacted"]

REDACTOR = pytest.StashKey[Redactor]()
"""The session's redactor, kept on the config so that pytest's own reports of a failure
(terminal, junit.xml, Allure results) are redacted with every secret the fixtures registered."""

Redact = Callable[[str], str]
_ALLURE_BEFORE = pytest.StashKey[tuple[Path, frozenset[str]]]()


def redacted(value: Any, redact: Redact) -> Any:
    """``value`` with every string in it redacted, the mappings' keys and the containers' types
    kept."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redacted(item, redact) for key, item in value.items()}
    if isinstance(value, list):
        return [redacted(item, redact) for item in value]
    if isinstance(value, tuple):
        return tuple(redacted(item, redact) for item in value)
    return value


def redact_report(config: pytest.Config, report: pytest.TestReport, redact: Redact) -> None:
    """Redacts, in place, what pytest and its plugins print or write of a test's phase: the
    failure (message, traceback, assertion details), the captured output, the xfail reason and
    the recorded properties."""
    report.sections = redacted(report.sections, redact)
    report.user_properties = redacted(report.user_properties, redact)
    reason = getattr(report, "wasxfail", None)
    if isinstance(reason, str):
        report.wasxfail = redact(reason)
    longrepr = report.longrepr
    if longrepr is None or isinstance(longrepr, str | tuple):
        report.longrepr = redacted(longrepr, redact)
        return
    # a traceback: redacted in pytest's own serialized form, then rebuilt from it
    data = config.hook.pytest_report_to_serializable(config=config, report=report)
    if data is None:
        return
    clean = redacted(data["longrepr"], redact)
    if clean == data["longrepr"]:
        return
    rebuilt = config.hook.pytest_report_from_serializable(config=config,
                                                          data={**data, "longrepr": clean})
    report.longrepr = rebuilt.longrepr


def redact_file(path: Path, redact: Redact) -> bool:
    """Rewrites a UTF-8 text file with its secrets redacted; whether it held any. A JSON file
    is redacted value by value, so it stays valid JSON whatever a secret's characters."""
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):  # gone, or not text (a screenshot)
        return False
    clean = redact(text)
    if clean == text:
        return False
    if path.suffix == ".json":
        try:
            clean = json.dumps(redacted(json.loads(text), redact), ensure_ascii=False)
        except ValueError:
            pass
        else:
            clean = redact(clean)  # a secret in a key, if any: no secret over valid JSON
    temporary = path.with_name(f"{path.name}.redacting")
    temporary.write_text(clean, encoding="utf-8")
    os.replace(temporary, path)
    return True


def _allure_dir(config: pytest.Config) -> Path | None:
    directory = getattr(config.option, "allure_report_dir", None)
    return Path(directory).absolute() if directory else None


def _names(directory: Path) -> frozenset[str]:
    try:
        return frozenset(path.name for path in directory.iterdir())
    except OSError:
        return frozenset()


def pytest_configure(config: pytest.Config) -> None:
    """Which files the Allure results held before this session: they are not redacted again."""
    directory = _allure_dir(config)
    if directory is not None:
        config.stash[_ALLURE_BEFORE] = (directory, _names(directory))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    redact = item.config.stash.get(REDACTOR, None)
    if redact is not None:
        redact_report(item.config, report, redact)
    return report


def written_files(config: pytest.Config) -> list[Path]:
    """The files this session wrote into the Allure results, and junit.xml."""
    found: list[Path] = []
    directory, before = config.stash.get(_ALLURE_BEFORE, (None, frozenset()))
    if directory is not None and directory.is_dir() and _allure_dir(config) is not None:
        found += sorted(path for path in directory.iterdir()
                        if path.name not in before and path.is_file())
    junit = getattr(config.option, "xmlpath", None)
    if junit and Path(junit).is_file():
        found.append(Path(junit))
    return found


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After allure-pytest's last result and junit.xml are written (both before this hook)."""
    redact = session.config.stash.get(REDACTOR, None)
    if redact is None:
        return
    for path in written_files(session.config):
        redact_file(path, redact)
