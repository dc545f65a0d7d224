"""Tempest as a verification step, end to end: the cloud asked what ``tempest.conf`` needs, the
file written into the cloud's private workspace, the selection run, and its results put into
the evidence: one sub-step per test (passed, failed with its text, skipped with its reason),
the JUnit XML, and what Tempest was told of the cloud (no credential: that part of the file is
never shown).

The step's verdict is :meth:`~stackdrill.cloud.tempest.results.TempestReport.verdict`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from stackdrill.cloud.access import CloudAccess, CloudError
from stackdrill.cloud.tempest import TempestError
from stackdrill.cloud.tempest.conf import capabilities, credentials_of, render, tempest_conf
from stackdrill.cloud.tempest.discovery import CloudFacts, discover
from stackdrill.cloud.tempest.install import TempestVenv
from stackdrill.cloud.tempest.results import TempestReport
from stackdrill.cloud.tempest.runner import RunSettings, prepare_workspace, run_tempest
from stackdrill.core.evidence import Evidence
from stackdrill.inventory.model import TempestSpec

__all__ = ["TempestJob", "record", "verify"]


@dataclass(frozen=True)
class TempestJob:
    """What one Tempest step runs: against which cloud, with which virtualenv, where."""

    spec: TempestSpec
    venv: TempestVenv
    workspaces: Path
    compute_hosts: int = 1

    def workspace(self, cloud: str) -> Path:
        """The cloud's workspace: ``WORKSPACES/<cloud name>``."""
        return self.workspaces / (re.sub(r"[^A-Za-z0-9_.-]", "_", cloud) or "cloud")


def configure(access: CloudAccess, job: TempestJob) -> tuple[str, CloudFacts]:
    """``tempest.conf``'s text (it holds the admin password) and what the cloud said."""
    try:
        creds = credentials_of(access.cloud, access.region())
        facts = discover(access.connection(), job.spec, job.compute_hosts)
    except CloudError as exc:
        raise TempestError(f"Tempest's configuration: {exc}") from exc
    return render(tempest_conf(job.spec, creds, facts)), facts


def verify(access: CloudAccess, job: TempestJob, regex: str,
           evidence: Evidence) -> TempestReport:
    """Run the Tempest tests ``regex`` selects against the cloud; what Tempest was told and
    every test's result go to ``evidence``. Raises :class:`TempestError` (one line) when
    Tempest cannot be configured or run."""
    missing = job.venv.missing()
    if missing is not None:
        raise TempestError(missing)
    text, facts = configure(access, job)
    workspace = prepare_workspace(job.workspace(access.cloud), text)
    evidence.attach_text("what Tempest was told of the cloud",
                         capabilities(job.spec, facts))
    settings = RunSettings(regex, job.spec.concurrency, job.spec.deadline)
    report = run_tempest(job.venv, workspace, settings, evidence.redact)
    record(evidence, report)
    return report


def _lines(report: TempestReport) -> str:
    lines = [report.summary()]
    lines += [f"{r.status:<8} {r.test_id} ({r.seconds:.1f} s)"
              + (f": {r.reason()}" if r.status != "passed" else "") for r in report.results]
    if report.stderr_tail:
        lines.append(f"stderr: {report.stderr_tail}")
    return "\n".join(lines)


def record(evidence: Evidence, report: TempestReport) -> None:
    """Each test as a sub-step of the current step, then the results as text and JUnit XML."""
    for result in report.results:
        evidence.outcome_step(result.title, result.status, result.message)
    evidence.attach_text("Tempest results", _lines(report))
    evidence.attach_xml("Tempest results (JUnit XML)", report.junit_xml)
