"""The drill history: one JSON record per drill run, appended to a JSON Lines file.

A record holds what a report needs without the Allure results: which drill ran against which
cloud, when, how it ended, the time to recover against the budget, the timeline and the runbook
steps. Every string in it passes through the drill's redactor first.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from stackdrill.cloud.access import CloudAccess
from stackdrill.engine.drill import Drill
from stackdrill.engine.upgrade_phases import CHANGES as UPGRADE_CHANGES
from stackdrill.hosts.target import Targets
from stackdrill.reporting.outcome import Outcome, one_line, outcome
from stackdrill.reporting.runs import session_run_id
from stackdrill.reporting.service_versions import ServiceVersions, VersionSettings, service_versions

SCHEMA = 1
# service types whose endpoints publish their API versions (version discovery, one GET each)
SERVICES = ("identity", "compute", "placement", "image", "block-storage", "network")
API_VERSIONS = pytest.StashKey[dict[str, str]]()
# the release of each OpenStack service on the hosts, and how it is read
SERVICE_VERSIONS = pytest.StashKey[ServiceVersions]()
VERSION_SETTINGS = pytest.StashKey[VersionSettings]()
RUN_RECORDS = pytest.StashKey[list[dict[str, Any]]]()  # this run's records, for its notification
# what a record keeps of the evidence: the recorded commands and each comparison with the
# verified state, cut to a size a history file of many runs can carry
MAX_COMMANDS = 200
MAX_OUTPUT = 4000
MAX_CHECKS = 50
MAX_DEVIATIONS = 200
MAX_OUTAGES = 500  # intervals the tenants felt, per record
MAX_DETAIL = 300


def iso(timestamp: float) -> str:
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def stackdrill_version() -> str | None:
    try:
        return importlib.metadata.version("stackdrill")
    except importlib.metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """The machine the harness runs on (and the embedded lab with it): its name, the CPUs this
    process may use (as ``nproc`` counts them) and its memory."""
    try:
        memory: int | None = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        memory = None
    return {"hostname": socket.gethostname(), "nproc": len(os.sched_getaffinity(0)),
            "memory_bytes": memory}


def api_versions(cloud: CloudAccess) -> dict[str, str]:
    """The highest API version each service's endpoint offers, as the cloud itself reports it
    (openstacksdk's version discovery); services it does not answer for are left out."""
    found: dict[str, str] = {}
    for service in SERVICES:
        try:
            data = getattr(cloud.connection(), service.replace("-", "_")).get_endpoint_data()
            version = data.max_microversion or data.api_version
        except Exception:  # noqa: S112 - unknown versions are left out, never invented
            continue
        if version:
            found[service] = ".".join(str(part) for part in version)
    return found


def session_service_versions(stash: pytest.Stash, targets: Targets) -> ServiceVersions:
    """The services' releases on the hosts, read once per session (the settings and the result
    kept in the session's stash); whatever goes wrong leaves them unknown."""
    found = stash.get(SERVICE_VERSIONS, None)
    if found is not None:
        return found
    settings = stash.get(VERSION_SETTINGS, None) or VersionSettings()
    try:
        found = service_versions(targets, settings)
    except Exception as exc:  # versions never fail a drill
        print(f"stackdrill: cannot read the OpenStack services' versions: {one_line(str(exc))}",
              file=sys.stderr)
        found = {source.service: "unknown" for source in settings.sources}
    stash[SERVICE_VERSIONS] = found
    return found


def scenario_of(item: pytest.Item) -> tuple[str, str]:
    """The feature file (from the rootdir) and the scenario's name (a plain test: its module and
    name)."""
    from pytest_bdd.scenario import scenario_wrapper_template_registry

    function = getattr(item, "obj", None)
    template = scenario_wrapper_template_registry.get(function) if callable(function) else None
    if template is None:
        return item.location[0], item.name
    callspec = getattr(item, "callspec", None)
    suffix = f" [{callspec.id}]" if callspec is not None else ""
    try:
        feature = str(Path(template.feature.filename).relative_to(item.config.rootpath))
    except ValueError:
        feature = str(template.feature.rel_filename)
    return feature, f"{template.name}{suffix}"


def redacted(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: redacted(item, redact) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(item, redact) for item in value]
    return value


def clip(text: str, limit: int = MAX_OUTPUT) -> str:
    """The start and the end of a long output, the middle replaced by a note of its size."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters left out ...]\n{text[-half:]}"


def evidence_record(attachments: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """From a drill's (already redacted) attachments: every recorded command with its output,
    in order, each comparison with the verified state with its deviations, and (after an
    upgrade) what changed since the pre-upgrade record."""
    commands: list[str] = []
    checks: list[dict[str, Any]] = []
    found: dict[str, Any] = {"commands": commands, "deviations": checks}
    for name, text in attachments:
        if name == UPGRADE_CHANGES:
            found["changes"] = [line for line in text.splitlines() if line]
        if name.startswith("$ ") and len(commands) < MAX_COMMANDS:
            commands.append(clip(text))
        elif name.startswith("state difference") and len(checks) < MAX_CHECKS:
            label = name.removeprefix("state difference").lstrip(":").strip()
            lines = [] if text == "no deviations" else text.splitlines()
            checks.append({"label": label, "deviations": lines[:MAX_DEVIATIONS],
                           "count": len(lines)})
    return found


def tenant_record(drill: Drill) -> dict[str, Any] | None:
    """What the drill's tenants felt, as its observers reported when they stopped: the figures
    (``<subject>/<figure>``) and each interval, from the drill's start; None if none ran."""
    if drill.tenants.stopped is None:
        return None
    start = drill.timeline.started
    return {"figures": {name: round(value, 3)
                        for name, value in sorted(drill.result.tenant_figures.items())},
            "outages": [{"lane": o.lane, "kind": o.kind, "offset": round(o.start - start, 3),
                         "duration": round(o.seconds, 3), "detail": o.detail[:MAX_DETAIL]}
                        for o in drill.result.outages[:MAX_OUTAGES]]}


def drill_record(drill: Drill, *, feature: str, scenario: str, cloud: str | None,
                 result: Outcome, ended: float,
                 openstack: Mapping[str, str] | None = None,
                 services: Mapping[str, str | Mapping[str, str]] | None = None,
                 run: str | None = None, host: Mapping[str, Any] | None = None
                 ) -> dict[str, Any]:
    start = drill.timeline.started
    ttr = drill.result.time_to_recover
    record = {
        "schema": SCHEMA,
        "run": run,
        "machine": dict(host) if host is not None else None,
        "drill": f"{feature}: {scenario}",
        "feature": feature,
        "scenario": scenario,
        "cloud": cloud,
        "stackdrill_version": stackdrill_version(),
        "openstack_api_versions": dict(openstack) if openstack else None,
        "openstack_versions": (
            {name: v if isinstance(v, str) else dict(v) for name, v in services.items()}
            if services else None),
        "started": iso(start),
        "ended": iso(ended),
        "time_to_recover": round(ttr, 3) if ttr is not None else None,
        "budget": drill.result.budget,
        "measured_from": drill.result.measured_from,
        "observing": {wait: round(spent, 3) for wait, spent in drill.result.observing.items()},
        "marks": {moment: round(at - start, 3) for moment, at in drill.result.marks.items()},
        "result": result.result,
        "reason": result.reason,
        "events": [{"offset": round(e.offset, 3), "kind": e.kind, "title": e.title,
                    "detail": e.detail} for e in drill.timeline.events],
        "recoveries": [{"recovery": r.recovery, "target": r.target, "ok": r.ok,
                        "steps": [{"title": s.title, "offset": round(s.started - start, 3),
                                   "duration": round(s.duration, 3), "ok": s.ok,
                                   "error": s.error} for s in r.steps]}
                       for r in drill.result.recoveries],
    }
    tenant = tenant_record(drill)
    if tenant is not None:
        record["tenant"] = tenant
    record.update(evidence_record(drill.evidence.attachments))
    return dict(redacted(record, drill.evidence.redact))


def append_record(path: Path, record: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
    with path.open("a", encoding="utf-8") as stream:
        stream.write(line)
        stream.flush()
        os.fsync(stream.fileno())


def record_drill(item: pytest.Item, drill: Drill, path: Path, cloud: CloudAccess | None,
                 undo_errors: list[str]) -> None:
    """Append the record of a scenario that just ended (from the ``drill`` fixture's teardown).

    The cloud's API versions and its services' releases on the hosts (one command per host)
    are asked once per session, after a drill that passed (the cloud is known to answer then);
    a failed write is reported and does not change the drill's result.
    """
    result = outcome(item)
    if undo_errors:
        result = Outcome("error", one_line("; ".join(undo_errors)))
    versions = item.config.stash.get(API_VERSIONS, None)
    if versions is None and cloud is not None and result.result == "passed":
        versions = item.config.stash[API_VERSIONS] = api_versions(cloud)
    services = item.config.stash.get(SERVICE_VERSIONS, None)
    if services is None and isinstance(drill.targets, Targets) and result.result == "passed":
        services = session_service_versions(item.config.stash, drill.targets)
    feature, scenario = scenario_of(item)
    inventory = getattr(drill.targets, "inventory", None)
    record = drill_record(drill, feature=feature, scenario=scenario,
                          cloud=getattr(inventory, "cloud", None), result=result,
                          ended=time.time(), openstack=versions, services=services,
                          run=session_run_id(item.config), host=machine())
    item.config.stash.setdefault(RUN_RECORDS, []).append(record)
    try:
        append_record(path, record)
    except OSError as exc:
        print(f"stackdrill: cannot append to the drill history {path}: {exc}", file=sys.stderr)


# -- reading ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    title: str
    offset: float
    duration: float
    ok: bool
    error: str | None


@dataclass(frozen=True)
class Marker:
    offset: float
    kind: str
    title: str


@dataclass(frozen=True)
class Felt:
    """An interval the tenants felt (:class:`stackdrill.cloud.tenant_view.Outage`), from the
    drill's start."""

    lane: str
    kind: str
    offset: float
    duration: float
    detail: str = ""


def _felt(data: Mapping[str, Any]) -> tuple[Mapping[str, float] | None, tuple[Felt, ...]]:
    """The record's tenant figures (None when no observer ran, or in older records) and the
    intervals behind them."""
    tenant = data.get("tenant")
    if not isinstance(tenant, Mapping):
        return None, ()
    figures = {str(name): float(value) for name, value in (tenant.get("figures") or {}).items()
               if isinstance(value, int | float)}
    return figures, tuple(Felt(str(o["lane"]), str(o["kind"]), float(o["offset"]),
                               float(o["duration"]), str(o.get("detail", "")))
                          for o in tenant.get("outages") or [])


@dataclass(frozen=True)
class Check:
    """One comparison of the state with the verified state, and what deviated."""

    label: str
    deviations: tuple[str, ...]
    count: int


def _checks(data: Mapping[str, Any]) -> tuple[Check, ...]:
    """The record's comparisons; a record without them (written before they were kept) has the
    deviations the drill expected in its timeline."""
    if "deviations" in data:
        return tuple(Check(str(c.get("label", "")), tuple(map(str, c.get("deviations", []))),
                           int(c.get("count", len(c.get("deviations", [])))))
                     for c in data["deviations"])
    found = []
    for event in data.get("events", []):
        if event.get("kind") == "deviation":
            lines = [line for line in str(event.get("detail", "")).splitlines() if line]
            found.append(Check("during the fault", tuple(lines), len(lines)))
    return tuple(found)


def _service_versions(value: Any) -> dict[str, str | Mapping[str, str]]:
    if not isinstance(value, Mapping):
        return {}
    return {str(name): ({str(h): str(v) for h, v in version.items()}
                        if isinstance(version, Mapping) else str(version))
            for name, version in value.items()}


@dataclass(frozen=True)
class Run:
    """One drill run as read back from the history."""

    drill: str
    feature: str
    scenario: str
    cloud: str | None
    started: dt.datetime
    ended: dt.datetime
    result: str
    reason: str | None
    time_to_recover: float | None
    budget: float | None
    events: tuple[Marker, ...]
    steps: tuple[Step, ...]
    stackdrill_version: str | None
    openstack_api_versions: Mapping[str, str]
    # each service's release: one version, or its version on each host where they differ
    openstack_versions: Mapping[str, str | Mapping[str, str]] = field(default_factory=dict)
    checks: tuple[Check, ...] = ()
    commands: tuple[str, ...] = ()
    changes: tuple[str, ...] | None = None  # since the pre-upgrade record, in a post-upgrade run
    measured_from: str | None = None  # what the time to recover runs from; None in older records
    run: str | None = None  # the run (session) it was part of; None in older records
    machine: Mapping[str, Any] | None = None  # where the harness ran; None in older records
    faults: tuple[str, ...] = ()  # each fault injected, as "<fault> on <host>", in order
    recovery_names: tuple[str, ...] = ()  # each recovery or procedure run, in order
    # what the tenants felt: figures by "<subject>/<figure>" (None: no observer ran, or an
    # older record) and the intervals behind them
    tenant_figures: Mapping[str, float] | None = None
    felt: tuple[Felt, ...] = ()

    @property
    def duration(self) -> float:
        return (self.ended - self.started).total_seconds()

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> Run:
        def number(value: Any) -> float | None:
            return float(value) if isinstance(value, int | float) else None

        tenant_figures, felt = _felt(data)
        return cls(
            drill=str(data["drill"]), feature=str(data.get("feature", "")),
            scenario=str(data.get("scenario") or data["drill"]), cloud=data.get("cloud"),
            started=parse_iso(data["started"]), ended=parse_iso(data["ended"]),
            result=str(data.get("result", "error")), reason=data.get("reason"),
            time_to_recover=number(data.get("time_to_recover")),
            budget=number(data.get("budget")),
            measured_from=data.get("measured_from"),
            events=tuple(Marker(float(e["offset"]), str(e["kind"]), str(e.get("title", "")))
                         for e in data.get("events", [])),
            steps=tuple(Step(str(s["title"]), float(s["offset"]), float(s["duration"]),
                             bool(s.get("ok")), s.get("error"))
                        for r in data.get("recoveries", []) for s in r.get("steps", [])),
            stackdrill_version=data.get("stackdrill_version"),
            openstack_api_versions=dict(data.get("openstack_api_versions") or {}),
            openstack_versions=_service_versions(data.get("openstack_versions")),
            checks=_checks(data), commands=tuple(map(str, data.get("commands", []))),
            changes=tuple(map(str, data["changes"])) if "changes" in data else None,
            run=str(data["run"]) if data.get("run") else None,
            machine=dict(data["machine"]) if isinstance(data.get("machine"), Mapping) else None,
            faults=tuple(str(e.get("title", "")) for e in data.get("events", [])
                         if e.get("kind") == "fault-injected"),
            recovery_names=tuple(str(r.get("recovery", "")) for r in data.get("recoveries", [])),
            tenant_figures=tenant_figures, felt=felt)


def load_runs(path: Path) -> tuple[list[Run], int]:
    """Every readable run, oldest first, and how many lines could not be read (a line cut short
    by a killed process, say)."""
    runs: list[Run] = []
    unreadable = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            runs.append(Run.from_record(json.loads(line)))
        except (ValueError, KeyError, TypeError):
            unreadable += 1
    runs.sort(key=lambda run: run.started)
    return runs, unreadable
