"""The views of the cloud the pre-upgrade cleaning check compares
(:mod:`stackdrill.cloud.cleaning`), read without changing anything:

- Nova's instances: every cell's ``instances`` rows not deleted (cell0 included), the cells
  found as Nova finds them (:mod:`stackdrill.cloud.nova_cells`); then, for the uuids the
  computes show that no live row has, the deleted rows with those uuids. Per cell, as
  information: the deleted rows not yet archived, the soft-deleted instances, and the deleted
  instances whose files Nova has not marked cleaned, by host.
- Each compute of the inventory: ``virsh -c qemu:///system list --all --uuid --name`` where
  libvirtd runs (only when it is active, so that it is not socket-activated), and ``ls -1A``
  of the instances directory where nova-compute runs; the directory and the name Nova knows
  the host by are read from that compute's ``nova.conf`` (``[DEFAULT] instances_path``, else
  ``$state_path/instances``; ``[DEFAULT] host``, else its hostname).
- The services, as the compute and block-storage APIs list them.
- Cinder's attachments not deleted and not detached (``volume_attachment`` joined with
  ``volumes``), from the database that ``cinder.conf``'s ``[database] connection`` names.
- The online data migrations (:mod:`stackdrill.cloud.online_migrations`).

Every query runs in a read-only transaction; every host command only reads. A view that
cannot be read is a finding ("not checked: ..."), and the others are still compared.
"""

from __future__ import annotations

import configparser
import io
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from stackdrill.cloud.access import CloudAccess, CloudError, Dsn
from stackdrill.cloud.cleaning import (
    UNCHECKED,
    Attachment,
    CleaningReport,
    ComputeView,
    Finding,
    NovaInstance,
    ServiceState,
    attachment_findings,
    compare_hypervisors,
    service_findings,
    uuids_seen,
    view_problems,
)
from stackdrill.cloud.nova_cells import NOVA_CONF, Cell, read_cells, read_config
from stackdrill.cloud.online_migrations import (
    MigrationCheck,
    api_pending,
    cell_pending,
    cinder_pending,
    read_only,
    release_notes,
)
from stackdrill.core.errors import StackdrillError
from stackdrill.core.evidence import Redactor
from stackdrill.hosts.target import Target, Targets

__all__ = ["CINDER_CONF", "read_cleaning"]

CINDER_CONF = "/etc/cinder/cinder.conf"
LIVE = ("SELECT uuid, display_name, host, vm_state, task_state FROM instances "
        "WHERE deleted = 0")
DELETED = ("SELECT uuid, display_name, host, deleted_at FROM instances "
           "WHERE deleted != 0 AND uuid IN ({marks})")
COUNTS = ("SELECT COALESCE(SUM(deleted != 0), 0) AS deleted_rows, "
          "COALESCE(SUM(deleted = 0 AND vm_state = 'soft-delete'), 0) AS soft_deleted "
          "FROM instances")
NOT_CLEANED = ("SELECT host, COUNT(*) AS n FROM instances WHERE deleted != 0 AND cleaned = 0 "
               "AND host IS NOT NULL GROUP BY host ORDER BY host")
ATTACHMENTS = ("SELECT a.volume_id, a.instance_uuid, a.attached_host, v.display_name "
               "FROM volume_attachment a JOIN volumes v ON v.id = a.volume_id "
               "WHERE a.deleted = 0 AND v.deleted = 0 AND a.instance_uuid IS NOT NULL "
               "AND (a.attach_status IS NULL OR a.attach_status != 'detached')")
VIRSH = "virsh -c qemu:///system list --all --uuid --name"
DEFAULT_STATE_PATH = "/var/lib/nova"
_ENTRIES = "@@stackdrill-instances-directory"
_CHUNK = 500
T = TypeVar("T")


@dataclass
class _Nova:
    """What the check reads from Nova's databases."""

    api: Dsn
    cells: list[Cell]

    def where(self, cell: Cell) -> str:
        return f"cell {cell.label}"


def read_cleaning(access: CloudAccess, targets: Targets,
                  versions: Mapping[str, Any] | None = None) -> CleaningReport:
    """Every view the cleaning check compares, compared; ``versions`` (the services' releases,
    as the run read them) say whether the online data migrations checked are the release's."""
    report = CleaningReport(read=_what_is_read(targets))
    redactor = access.redactor
    nova = _attempt(report, "Nova's cells", lambda: _nova(targets, redactor))
    views = _parallel({t.name: partial(_compute_view, t) for t in
                       targets.with_role("compute")})
    cinder = _cinder_dsn(report, targets)
    attachments = _attempt(report, "Cinder's attachments",
                           lambda: _attachments(cinder, redactor)) if cinder else []
    report.add(view_problems(views.values()))
    if nova is not None:
        _compare_instances(report, nova, list(views.values()), attachments or [], redactor)
        _migrations(report, nova, redactor)
    if cinder is not None:
        _merge(report, _attempt(report, "cinder's online data migrations",
                                lambda: cinder_pending(cinder, redactor)))
    report.notes += release_notes(versions or {})
    _services(report, access)
    return report


def _what_is_read(targets: Targets) -> list[str]:
    computes = ", ".join(t.name for t in targets.with_role("compute")) or "none"
    return [
        f"every Nova cell (cell_mappings of the API database): {LIVE}; the deleted rows of "
        f"uuids the computes show; counts of deleted, soft-deleted and not cleaned rows",
        f"each compute ({computes}): {VIRSH} (where libvirtd is active); ls -1A of the "
        f"instances directory; nova.conf [DEFAULT] host, instances_path, state_path",
        "compute and block-storage APIs: the services (state, status, disabled reason)",
        f"Cinder's database: {ATTACHMENTS}",
        "online data migrations: one read-only query per migration of nova-manage's list in "
        "every cell and the API database, and of cinder-manage's in Cinder's database "
        "(stackdrill.cloud.online_migrations)",
    ]


def _attempt(report: CleaningReport, what: str, read: Callable[[], T]) -> T | None:
    """``read()``; what it cannot read is a finding, and None."""
    try:
        return read()
    except StackdrillError as exc:
        report.findings.append(Finding(UNCHECKED, f"{what}: {exc}"))
        return None


def _parallel(calls: Mapping[str, Callable[[], T]]) -> dict[str, T]:
    if not calls:
        return {}
    with ThreadPoolExecutor(min(8, len(calls)), thread_name_prefix="cleaning") as pool:
        jobs = {name: pool.submit(call) for name, call in calls.items()}
        return {name: job.result() for name, job in jobs.items()}


def _controller(targets: Targets) -> Target:
    controllers = targets.with_role("controller")
    if not controllers:
        raise CloudError("the inventory has no controller to read the configuration from")
    return controllers[0]


def _nova(targets: Targets, redactor: Redactor) -> _Nova:
    config = read_config(_controller(targets), "nova-api", NOVA_CONF)
    return _Nova(config.dsn("api_database"), read_cells(config, redactor, cell0=True))


def _cinder_dsn(report: CleaningReport, targets: Targets) -> Dsn | None:
    if "cinder-api" not in targets.inventory.services:
        report.notes.append("no cinder-api in the inventory: Cinder's attachments and online "
                            "data migrations not checked")
        return None
    return _attempt(report, "Cinder's database", lambda: read_config(
        _controller(targets), "cinder-api", CINDER_CONF).dsn("database"))


# -- the computes --------------------------------------------------------------------------------

def _compute_view(target: Target) -> ComputeView:
    """What one compute shows; what cannot be read is among its problems."""
    problems: list[str] = []
    host, path = target.name, f"{DEFAULT_STATE_PATH}/instances"
    entries: tuple[str, ...] | None = None
    try:
        configured, path = _nova_compute_settings(read_config(target, "nova-compute",
                                                              NOVA_CONF).text)
        host = configured or host
        hostname, entries = _list_instances_directory(target, path)
        host = configured or hostname or target.name
    except StackdrillError as exc:
        problems.append(str(exc))
    domains = None
    try:
        domains = _domains(target)
    except StackdrillError as exc:
        problems.append(str(exc))
    return ComputeView(target.name, host, domains, entries, path, tuple(problems))


def _nova_compute_settings(text: str) -> tuple[str | None, str]:
    """``[DEFAULT] host`` (None when unset) and the instances directory of a nova.conf."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_file(io.StringIO(text))
    except configparser.Error:
        return None, f"{DEFAULT_STATE_PATH}/instances"
    state = parser.get("DEFAULT", "state_path", fallback="").strip() or DEFAULT_STATE_PATH
    path = parser.get("DEFAULT", "instances_path", fallback="").strip() or \
        "$state_path/instances"
    path = path.replace("${state_path}", state).replace("$state_path", state)
    return parser.get("DEFAULT", "host", fallback="").strip() or None, path.rstrip("/")


def _list_instances_directory(target: Target, path: str) -> tuple[str, tuple[str, ...]]:
    """The hostname where nova-compute runs, and the entries of its instances directory."""
    nova = target.service("nova-compute")
    script = f"hostname && echo {_ENTRIES} && ls -1A -- {shlex.quote(path)}"
    result = target.run(nova.inside(script), record=False, timeout=60)
    head, _, listed = result.stdout.partition(f"{_ENTRIES}\n")
    if not result.ok:
        reason = result.stderr.strip().splitlines()[-1:] or [f"exit {result.exit_status}"]
        raise CloudError(f"cannot list {path}: {reason[0]}")
    return head.strip(), tuple(line for line in listed.splitlines() if line)


def _domains(target: Target) -> dict[str, str]:
    """uuid -> name of every domain libvirt defines, running or not."""
    libvirtd = target.service("libvirtd")
    result = target.run(f"if {libvirtd.running_test()}; then {libvirtd.inside(VIRSH)}; "
                        f"else echo libvirtd-down; fi", record=False, timeout=60)
    if result.stdout.strip() == "libvirtd-down":
        raise CloudError("libvirtd is not running: start it, its domains cannot be compared "
                         "with Nova's instances")
    if not result.ok:
        reason = result.stderr.strip().splitlines()[-1:] or [f"exit {result.exit_status}"]
        raise CloudError(f"virsh list: {reason[0]}")
    domains = {}
    for line in result.stdout.splitlines():
        uuid, _, name = line.strip().partition(" ")
        if uuid:
            domains[uuid] = name.strip()
    return domains


# -- Nova's databases ----------------------------------------------------------------------------

def _compare_instances(report: CleaningReport, nova: _Nova, views: list[ComputeView],
                       attachments: list[Attachment], redactor: Redactor) -> None:
    live: dict[str, NovaInstance] = {}
    for cell in nova.cells:
        rows = _attempt(report, f"nova {nova.where(cell)}", partial(_live, cell, redactor))
        if rows is None:  # a cell not read: its instances would read as unknown
            return
        live.update(rows)
    wanted = sorted((uuids_seen(views) | {a.instance for a in attachments}) - set(live))
    deleted: dict[str, NovaInstance] = {}
    for cell in nova.cells:
        found = _attempt(report, f"nova {nova.where(cell)}",
                         partial(_deleted, cell, wanted, redactor))
        if found is None:
            return
        deleted.update(found)
    report.add(*compare_hypervisors(live, deleted, views))
    report.add(attachment_findings(attachments, live, deleted))
    for cell in nova.cells:
        report.notes += _attempt(report, f"nova {nova.where(cell)}",
                                 partial(_cell_notes, cell, redactor)) or []


def _live(cell: Cell, redactor: Redactor) -> dict[str, NovaInstance]:
    with read_only(cell.dsn, redactor, f"nova cell {cell.label}") as cursor:
        cursor.execute(LIVE)
        return {str(r["uuid"]): NovaInstance(
            str(r["uuid"]), str(r["display_name"] or ""), r["host"], r["vm_state"],
            r["task_state"], cell=f"cell {cell.label}") for r in cursor.fetchall()}


def _deleted(cell: Cell, uuids: Sequence[str], redactor: Redactor) -> dict[str, NovaInstance]:
    found: dict[str, NovaInstance] = {}
    if not uuids:
        return found
    with read_only(cell.dsn, redactor, f"nova cell {cell.label}") as cursor:
        for start in range(0, len(uuids), _CHUNK):
            chunk = uuids[start:start + _CHUNK]
            cursor.execute(DELETED.format(marks=", ".join(["%s"] * len(chunk))), tuple(chunk))
            for r in cursor.fetchall():
                found[str(r["uuid"])] = NovaInstance(
                    str(r["uuid"]), str(r["display_name"] or ""), r["host"],
                    deleted_at=str(r["deleted_at"]) if r["deleted_at"] else "",
                    cell=f"cell {cell.label}")
    return found


def _cell_notes(cell: Cell, redactor: Redactor) -> list[str]:
    where = f"nova cell {cell.label}"
    with read_only(cell.dsn, redactor, where) as cursor:
        cursor.execute(COUNTS)
        counts = cursor.fetchone() or {}
        cursor.execute(NOT_CLEANED)
        not_cleaned = list(cursor.fetchall())
    notes = []
    if int(counts.get("deleted_rows") or 0):
        notes.append(f"{where}: {int(counts['deleted_rows'])} deleted instance row(s) not "
                     f"archived yet (nova-manage db archive_deleted_rows shrinks what the "
                     f"upgrade's schema migrations go over)")
    if int(counts.get("soft_deleted") or 0):
        notes.append(f"{where}: {int(counts['soft_deleted'])} soft-deleted instance(s), "
                     f"restorable until reclaimed")
    notes += [f"{where}: {int(r['n'])} deleted instance(s) on {r['host']} whose files Nova has "
              f"not marked cleaned (its nova-compute retries every instance_delete_interval)"
              for r in not_cleaned]
    return notes


def _attachments(dsn: Dsn, redactor: Redactor) -> list[Attachment]:
    with read_only(dsn, redactor, "cinder database") as cursor:
        cursor.execute(ATTACHMENTS)
        return [Attachment(str(r["volume_id"]), str(r["display_name"] or ""),
                           str(r["instance_uuid"]), r["attached_host"])
                for r in cursor.fetchall()]


def _migrations(report: CleaningReport, nova: _Nova, redactor: Redactor) -> None:
    for cell in nova.cells:
        _merge(report, _attempt(report, f"nova {nova.where(cell)}'s online data migrations",
                                partial(cell_pending, cell.dsn, nova.where(cell), redactor)))
    cells = {cell.uuid: cell.dsn for cell in nova.cells}
    _merge(report, _attempt(report, "nova API database's online data migrations",
                            lambda: api_pending(nova.api, cells, redactor)))


def _merge(report: CleaningReport, check: MigrationCheck | None) -> None:
    if check is not None:
        report.add((p.finding() for p in check.pending), check.notes)


# -- the APIs ------------------------------------------------------------------------------------

def _services(report: CleaningReport, access: CloudAccess) -> None:
    def listed() -> list[ServiceState]:
        conn = access.connection()
        found = _states("nova", conn.compute.services())
        if conn.has_service("block-storage"):
            found += _states("cinder", conn.block_storage.services())
        return found

    try:
        services = listed()
    except Exception as exc:  # an API that does not answer (any SDK error) is a finding
        report.findings.append(Finding(UNCHECKED, f"the services' API: {exc}"))
        return
    report.add(*service_findings(services))


def _states(project: str, services: Iterable[Any]) -> list[ServiceState]:
    return [ServiceState(project, str(s.binary), str(s.host), getattr(s, "state", None),
                         getattr(s, "status", None), getattr(s, "disabled_reason", None))
            for s in services]
