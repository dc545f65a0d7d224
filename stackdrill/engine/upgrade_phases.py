"""What the upgrade phases do in a drill, as the upgrade steps ask for it: check that nothing
needs cleaning before the upgrade, store the cloud's pre-upgrade record, load it after the
upgrade, check the recorded canaries and wait for the cloud to match its recorded state, and
report what changed (:mod:`stackdrill.engine.upgrade` holds the record and its comparison).

A check returns None when it passes and otherwise the one line its step fails with; its
findings are already in the drill's evidence and the run's terminal summary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.cleaning import CleaningReport
from stackdrill.cloud.cleaning_reads import read_cleaning
from stackdrill.core.state import Snapshot, render_diff
from stackdrill.core.waiting import WaitTimeout, poll
from stackdrill.engine.drill import Drill
from stackdrill.engine.upgrade import (
    CLEANING,
    DIFF,
    UpgradeDiff,
    UpgradeRecord,
    check_canaries,
    diff,
    load,
    now_iso,
    record_path,
    save,
)
from stackdrill.hosts.target import Targets

__all__ = [
    "CHANGES",
    "CLEANING_EVIDENCE",
    "check_cleaning",
    "check_recorded_canaries",
    "load_pre_upgrade",
    "record_pre_upgrade",
    "report",
    "server_or_none",
    "wait_for_pre_upgrade_state",
]

CHANGES = "changed since the pre-upgrade record"
"""The name of the evidence listing what changed as an upgrade may; the drill history keeps its
lines."""
_RECORD = "pre-upgrade record"  # the name of the evidence showing the record
CLEANING_EVIDENCE = "pre-upgrade cleaning check"
"""The name of the evidence showing the cleaning check's findings, information and reads; its
findings are also a "state difference", which the drill history keeps."""
_CLEANING_DIFF = "state difference: to clean before the upgrade"


def check_cleaning(config: pytest.Config, drill: Drill, access: CloudAccess, targets: Targets,
                   versions: Mapping[str, Any] | None = None,
                   read: Callable[..., CleaningReport] = read_cleaning) -> str | None:
    """Nothing needs cleaning before the upgrade: no instance without its domain or domain
    without its instance, no deleted instance left on a compute or holding a volume, no service
    down, no online data migration pending. The report goes to the evidence and the terminal
    summary either way."""
    report = read(access, targets, versions)
    config.stash[CLEANING] = report
    drill.evidence.attach_text(CLEANING_EVIDENCE, report.render())
    drill.evidence.attach_text(_CLEANING_DIFF, "\n".join(report.deviations()) or "no deviations")
    if report.ok:
        return None
    return (f"the cloud needs cleaning before the upgrade: {len(report.findings)} finding(s), "
            f"first: {report.findings[0]}")


def record_pre_upgrade(drill: Drill, state_dir: Path, cloud: str, *,
                       versions: Mapping[str, str], canaries: Mapping[str, str],
                       baseline: Snapshot, stackdrill_version: str | None,
                       releases: Mapping[str, str] | None = None) -> UpgradeRecord:
    """Stores the record of ``cloud`` under ``state_dir`` (one file per cloud, replaced) and
    shows it in the drill's evidence."""
    record = UpgradeRecord(cloud=cloud, recorded_at=now_iso(), versions=versions,
                           canaries=dict(canaries), snapshot=baseline,
                           stackdrill_version=stackdrill_version, releases=dict(releases or {}))
    path = record_path(state_dir, cloud)
    save(record, path)
    listed = ", ".join(f"{k} {v}" for k, v in sorted(record.versions.items()))
    released = ", ".join(f"{k} {v}" for k, v in sorted(record.releases.items())) or "unknown"
    drill.evidence.attach_text(_RECORD, (
        f"stored at {path}\ncanaries: {dict(record.canaries)}\nversions: {listed}\n"
        f"releases: {released}\nverified state: {len(baseline.values)} values"))
    return record


def load_pre_upgrade(drill: Drill, state_dir: Path, cloud: str) -> UpgradeRecord:
    """The stored record of ``cloud``, shown in the drill's evidence; :class:`UpgradeError`
    when it is missing, unreadable or another cloud's."""
    record = load(record_path(state_dir, cloud), cloud)
    drill.evidence.attach_json(_RECORD, record.to_json())
    return record


def server_or_none(access: CloudAccess, server_id: str) -> Any:
    """The server ``server_id`` as the compute API shows it, None when it is gone."""
    from openstack.exceptions import NotFoundException

    try:
        return access.connection().compute.get_server(server_id)
    except NotFoundException:
        return None


def report(config: pytest.Config, drill: Drill, found: UpgradeDiff) -> None:
    """The findings in the terminal summary, and in the drill's evidence (so in Allure and in
    the drill's history record)."""
    config.stash[DIFF] = found
    drill.evidence.attach_text(CHANGES, "\n".join(found.changes()))
    lines = [*found.canary_problems, *found.version_problems]
    drill.evidence.attach_text("state difference: against the pre-upgrade state",
                               "\n".join([*lines, render_diff(found.deviations)])
                               if lines else render_diff(found.deviations))


def check_recorded_canaries(config: pytest.Config, drill: Drill, record: UpgradeRecord,
                            access: CloudAccess) -> str | None:
    """Each recorded canary still exists, is ACTIVE, on the host it was on."""
    problems = check_canaries(record, lambda server_id: server_or_none(access, server_id))
    if not problems:
        return None
    report(config, drill, UpgradeDiff(canary_problems=problems))
    return f"the canaries recorded before the upgrade: {'; '.join(problems)}"


def wait_for_pre_upgrade_state(config: pytest.Config, drill: Drill, record: UpgradeRecord,
                               versions: Callable[[], Mapping[str, str]], *, seconds: float,
                               budget_scale: float = 1.0,
                               releases: Mapping[str, str] | None = None) -> str | None:
    """The cloud matches its record within ``seconds`` (times ``budget_scale``): its state as
    the tolerance rules allow, each API version the same or higher (``versions`` reads them
    now), and each service's release (``releases``, read once) the same or higher. The last
    comparison is reported either way."""
    last: list[UpgradeDiff] = []

    def matches() -> bool:
        found = diff(record, drill.snapshot("after the upgrade"), versions(), drill.tolerance,
                     releases=releases)
        last[:] = [found]
        return found.ok

    try:
        poll(matches, timeout=seconds * budget_scale, interval=5.0, max_interval=15.0,
             description="the cloud matching its pre-upgrade state")
    except WaitTimeout:
        found = last[-1]
        report(config, drill, found)
        problems = found.problems()
        return (f"the cloud does not match its pre-upgrade state after {seconds:g}s: "
                f"{len(problems)} deviation(s), first: {problems[0]}")
    report(config, drill, last[-1])
    return None
