"""What a Tempest run found, test by test, and the verdict of the step that ran it.

Tempest's subunit stream is turned into JUnit XML by python-subunit's ``subunit2junitxml``
(from Tempest's virtualenv); :func:`parse_junit` reads that XML into one :class:`TestResult`
per test: a ``<failure>`` or ``<error>`` is a failure, a ``<skipped>`` a skip with its reason
(a class Tempest skips as a whole shows as one ``setUpClass (...)`` test), anything else a
pass. A test still running when the stream was cut (the deadline) is a failure with no text.

:meth:`TempestReport.verdict` says why the step fails, in one line, or None when it passes:
at least one test ran (passed or failed), none failed, the run finished before its deadline and
Tempest reported no error of its own.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Literal

from stackdrill.cloud.tempest import TempestError

__all__ = ["NO_MATCH", "TempestReport", "TestResult", "parse_junit"]

Status = Literal["passed", "failed", "skipped"]
STATUSES: tuple[Status, ...] = ("passed", "failed", "skipped")

NO_MATCH = "The specified regex doesn't match with anything"
"""What stestr writes (to the subunit output) when the regex selects no test."""

_MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class TestResult:
    """One test of the run: its id (``tempest.api...Class.test_x[id-...,smoke]``), what became
    of it, how long it took, and the failure's text or the skip's reason."""

    __test__ = False  # not a pytest test class

    test_id: str
    status: Status
    seconds: float = 0.0
    message: str = ""

    @property
    def title(self) -> str:
        """The sub-step's title: the id and the time."""
        return f"{self.test_id} ({self.seconds:.1f} s)"

    def reason(self) -> str:
        """The message's last non-empty line (an exception's own), shortened."""
        lines = [line.strip() for line in self.message.splitlines() if line.strip()]
        text = lines[-1] if lines else "no message"
        return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT - 3] + "..."


def _status(case: ET.Element) -> tuple[Status, str]:
    for tag in ("failure", "error"):
        found = case.find(tag)
        if found is not None:
            return "failed", found.text or found.get("message") or ""
    skipped = case.find("skipped")
    if skipped is not None:
        return "skipped", skipped.text or skipped.get("message") or ""
    return "passed", ""


def _test_id(case: ET.Element) -> str:
    classname, name = case.get("classname", ""), case.get("name", "")
    return f"{classname}.{name}" if classname else name


def _seconds(case: ET.Element) -> float:
    try:
        return float(case.get("time", "0") or 0)
    except ValueError:
        return 0.0


def parse_junit(text: str) -> tuple[TestResult, ...]:
    """Every ``<testcase>`` of ``subunit2junitxml``'s output, in its order."""
    try:
        # written on this machine by subunit2junitxml; expat expands no external entity
        root = ET.fromstring(text)  # noqa: S314
    except ET.ParseError as exc:
        raise TempestError(f"Tempest's results are not JUnit XML: {exc}") from None
    results = []
    for case in root.iter("testcase"):
        status, message = _status(case)
        results.append(TestResult(_test_id(case), status, _seconds(case), message))
    return tuple(results)


@dataclass(frozen=True)
class TempestReport:
    """A run of one selection: its per-test results, the JUnit XML they came from, how the
    run ended (``exit_code`` None: killed at the deadline) and the last lines Tempest wrote to
    stderr (redacted)."""

    regex: str
    results: tuple[TestResult, ...]
    junit_xml: str
    exit_code: int | None
    deadline: float
    seconds: float = 0.0
    no_match: bool = False
    stderr_tail: str = ""

    def of(self, status: Status) -> list[TestResult]:
        return [r for r in self.results if r.status == status]

    def count(self, status: Status) -> int:
        return len(self.of(status))

    def summary(self) -> str:
        """``3 passed, 1 failed, 2 skipped in 84.2 s`` and how the run ended."""
        counts = ", ".join(f"{self.count(s)} {s}" for s in STATUSES)
        ended = ("killed at its deadline" if self.exit_code is None
                 else f"exit {self.exit_code}")
        return f"Tempest's \"{self.regex}\" tests: {counts} in {self.seconds:.1f} s ({ended})"

    def verdict(self) -> str | None:
        """Why the step fails (one line), or None when it passes."""
        name = f"Tempest's \"{self.regex}\" tests"
        failed, ran = self.of("failed"), self.count("passed") + self.count("failed")
        if self.exit_code is None:
            return (f"{name} did not finish within {self.deadline:g} s: {self.count('passed')}"
                    f" passed, {len(failed)} failed or cut short before the deadline")
        if failed:
            first = failed[0]
            return (f"{name}: {len(failed)} of {ran} failed (first: {first.test_id}: "
                    f"{first.reason()})")
        if self.no_match or (not self.results and self.exit_code == 0):
            return f"{name}: the regex selects no Tempest test"
        if ran == 0 and self.results:
            first = self.of("skipped")[0]
            return (f"{name}: none ran, {self.count('skipped')} skipped (first: "
                    f"{first.test_id}: {first.reason()})")
        if ran == 0 or self.exit_code != 0:
            return (f"{name}: Tempest exited {self.exit_code} with {ran} tests run: "
                    f"{self.stderr_tail or 'nothing on stderr'}")
        return None
