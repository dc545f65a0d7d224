"""Pre-upgrade and post-upgrade checks of a cloud.

``stackdrill run --phase pre-upgrade`` creates (or reuses) the canary workload, records the
verified state and the service versions, and stores them under the state directory, one file per
cloud (``upgrade/<cloud>.json``). After the upgrade, ``--phase post-upgrade`` creates nothing: it
checks that the same canaries (by id) still run where they ran, and compares the cloud's state
with the stored one. Service versions may change (that is the upgrade) and are listed as changes;
a service that no longer answers, or a version that went down, is a deviation, as is every
difference in the state that the tolerance rules do not allow.

Before it records anything, the pre-upgrade phase checks that nothing needs cleaning
(:mod:`stackdrill.cloud.cleaning`): each finding is a deviation to fix before upgrading, listed
in the terminal summary and the drill's evidence, and the phase fails without a record.

``--phase upgrade`` runs the upgrade itself (``back_up_control_plane``,
``upgrade_control_plane``, ``rolling_upgrade_computes``) as a drill, with the canaries running;
``--phase failed-upgrade`` the drill of an upgrade whose db sync fails half way, rolled back
from the backup (``interrupt_db_sync``, ``roll_back_upgrade``).

The phases are the scenarios of ``features/upgrade`` tagged ``@pre_upgrade``,
``@upgrade_procedure``, ``@failed_upgrade`` and ``@post_upgrade``; a run without ``--phase``
leaves them out.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from stackdrill.cloud.cleaning import CleaningReport
from stackdrill.core.errors import HarnessError
from stackdrill.core.state import Deviation, Snapshot, Tolerance, compare

SCHEMA = 1
PHASES = {"pre-upgrade": "pre_upgrade", "upgrade": "upgrade_procedure",
          "failed-upgrade": "failed_upgrade", "post-upgrade": "post_upgrade"}
MARKERS = ("upgrade", *PHASES.values())
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class UpgradeError(HarnessError):
    """The pre-upgrade record is missing or unreadable; one line."""


@dataclass(frozen=True)
class UpgradeRecord:
    """What the pre-upgrade phase stores."""

    cloud: str
    recorded_at: str
    versions: Mapping[str, str]  # service type -> highest API version the cloud offers
    canaries: Mapping[str, str]  # compute host -> canary server id
    snapshot: Snapshot
    stackdrill_version: str | None = None
    # service -> the release its hosts run ("34.0.0"; hosts that differ: "33.0.2 on compute1,
    # 34.0.0 on compute2"); empty in a record made before releases were recorded
    releases: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "cloud": self.cloud, "recorded_at": self.recorded_at,
                "stackdrill_version": self.stackdrill_version, "versions": dict(self.versions),
                "releases": dict(self.releases), "canaries": dict(self.canaries),
                "snapshot": self.snapshot.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UpgradeRecord:
        return cls(cloud=str(data["cloud"]), recorded_at=str(data["recorded_at"]),
                   versions={str(k): str(v) for k, v in data["versions"].items()},
                   canaries={str(k): str(v) for k, v in data["canaries"].items()},
                   snapshot=Snapshot.from_json(data["snapshot"]),
                   stackdrill_version=data.get("stackdrill_version"),
                   releases={str(k): str(v) for k, v in (data.get("releases") or {}).items()})


def record_path(state_dir: Path, cloud: str) -> Path:
    return state_dir / "upgrade" / f"{_SAFE.sub('_', cloud) or 'cloud'}.json"


def save(record: UpgradeRecord, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    with temporary.open("w", encoding="utf-8") as stream:
        json.dump(record.to_json(), stream, indent=1, sort_keys=True, default=str)
        stream.flush()
        os.fsync(stream.fileno())
    temporary.replace(path)


def load(path: Path, cloud: str) -> UpgradeRecord:
    if not path.is_file():
        raise UpgradeError(f"no pre-upgrade record of cloud {cloud!r} at {path}: run "
                           f"'stackdrill run --phase pre-upgrade' before the upgrade")
    try:
        record = UpgradeRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UpgradeError(f"{path}: not a pre-upgrade record: {exc}") from None
    if record.cloud != cloud:
        raise UpgradeError(f"{path}: recorded for cloud {record.cloud!r}, not {cloud!r}")
    return record


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


@dataclass
class UpgradeDiff:
    """What changed since the pre-upgrade record: expected changes (versions), and deviations."""

    changed_versions: list[tuple[str, str, str]] = field(default_factory=list)
    changed_releases: list[tuple[str, str, str]] = field(default_factory=list)
    version_problems: list[str] = field(default_factory=list)
    canary_problems: list[str] = field(default_factory=list)
    deviations: list[Deviation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.version_problems or self.canary_problems or self.deviations)

    def changes(self) -> list[str]:
        return [*(f"{service} {before} -> {after}"
                  for service, before, after in self.changed_releases),
                *(f"{service} API {before} -> {after}"
                  for service, before, after in self.changed_versions)]

    def problems(self) -> list[str]:
        return [*self.canary_problems, *self.version_problems,
                *(str(d) for d in self.deviations)]

    def render(self) -> str:
        lines = ["changed as an upgrade may (allowed):"]
        lines += [f"  {line}" for line in self.changes()] or ["  no service version changed"]
        problems = self.problems()
        lines.append(f"deviations from the pre-upgrade state ({len(problems)}):")
        lines += [f"  {line}" for line in problems] or ["  none"]
        return "\n".join(lines)


def diff_versions(before: Mapping[str, str], after: Mapping[str, str], into: UpgradeDiff) -> None:
    for service, old in sorted(before.items()):
        new = after.get(service)
        if new is None:
            into.version_problems.append(f"{service} API: answered {old} before the upgrade, "
                                         f"does not answer now")
        elif _version_key(new) < _version_key(old):
            into.version_problems.append(f"{service} API went down: {old} -> {new}")
        elif new != old:
            into.changed_versions.append((service, old, new))


def releases_of(versions: Mapping[str, Any]) -> dict[str, str]:
    """Each service's release as one line (:data:`~stackdrill.reporting.service_versions.
    ServiceVersions`: a version, or per host when the hosts differ); unknown ones left out."""
    found: dict[str, str] = {}
    for service, value in versions.items():
        if isinstance(value, Mapping):
            found[service] = ", ".join(f"{v} on {h}" for h, v in sorted(value.items()))
        elif value and value != "unknown":
            found[service] = str(value)
    return found


def diff_releases(before: Mapping[str, str], after: Mapping[str, str],
                  into: UpgradeDiff) -> None:
    """A release that changed is listed; one that went down (a plain version lower than
    before) is a deviation; a service whose release is not known now is not compared."""
    for service, old in sorted(before.items()):
        new = after.get(service)
        if new is None or new == old:
            continue
        plain = " " not in old and " " not in new
        if plain and _version_key(new) < _version_key(old):
            into.version_problems.append(f"{service} release went down: {old} -> {new}")
        else:
            into.changed_releases.append((service, old, new))


def diff(record: UpgradeRecord, snapshot: Snapshot, versions: Mapping[str, str],
         tolerance: Tolerance, canary_problems: list[str] | None = None,
         releases: Mapping[str, str] | None = None) -> UpgradeDiff:
    """The cloud now against its pre-upgrade record: the API versions (``versions``), the
    services' releases (``releases``, when read) and the state."""
    found = UpgradeDiff(canary_problems=list(canary_problems or []))
    diff_releases(record.releases, releases or {}, found)
    diff_versions(record.versions, versions, found)
    found.deviations = compare(record.snapshot, snapshot, tolerance)
    return found


def check_canaries(record: UpgradeRecord, lookup: Any) -> list[str]:
    """Each recorded canary, by id: it must exist, be ACTIVE, on the host it was on.
    ``lookup(server_id)`` returns the server (``name``, ``status``, ``compute_host``) or None."""
    problems = []
    for host, server_id in sorted(record.canaries.items()):
        server = lookup(server_id)
        if server is None:
            problems.append(f"canary on {host} (server {server_id}) is gone")
        elif server.status != "ACTIVE":
            problems.append(f"canary {server.name} ({server_id}) is {server.status}, "
                            f"was ACTIVE")
        elif server.compute_host != host:
            problems.append(f"canary {server.name} ({server_id}) moved from {host} to "
                            f"{server.compute_host}")
    return problems


DIFF = pytest.StashKey[UpgradeDiff]()
CLEANING = pytest.StashKey[CleaningReport]()


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# -- as a pytest plugin -------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stackdrill")
    group.addoption("--phase", choices=tuple(PHASES), default=None,
                    help="pre-upgrade: check that nothing needs cleaning, then record the "
                         "canaries, the verified state and the service versions; upgrade: "
                         "back up, upgrade the control plane, then each compute with its "
                         "instances live-migrated away; failed-upgrade: the drill of an upgrade "
                         "whose db sync fails half way, rolled back from the backup; "
                         "post-upgrade: check the cloud against the pre-upgrade record")


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", f"{marker}: the {marker.replace('_', '-')} "
                                           f"scenarios (stackdrill run --phase)")


def phase(config: pytest.Config) -> str | None:
    value = config.getoption("phase", None)
    return str(value) if value else None


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """With --phase, only that phase's scenarios run; without it, none of them."""
    wanted = PHASES.get(phase(config) or "")
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        marked = [m for m in PHASES.values() if item.get_closest_marker(m)]
        selected = wanted in marked if wanted else not marked
        (keep if selected else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int,
                            config: pytest.Config) -> None:
    """The phases' findings, highlighted: what to clean before the upgrade and the deviations
    after it in red, the changes an upgrade may make in green."""
    cleaning = config.stash.get(CLEANING, None)
    if cleaning is not None:
        _cleaning_summary(terminalreporter, cleaning)
    found = config.stash.get(DIFF, None)
    if found is None:
        return
    terminalreporter.section("changed since the pre-upgrade record")
    for line in found.changes() or ["no service version changed"]:
        terminalreporter.line(f"changed: {line}", green=True)
    for line in found.problems():
        terminalreporter.line(f"DEVIATION: {line}", red=True, bold=True)


def _cleaning_summary(terminalreporter: Any, report: CleaningReport) -> None:
    terminalreporter.section("to clean before the upgrade")
    for line in report.deviations():
        terminalreporter.line(f"DEVIATION: {line}", red=True, bold=True)
    if report.ok:
        terminalreporter.line("nothing to clean", green=True)
    for line in report.notes:
        terminalreporter.line(f"information: {line}")
