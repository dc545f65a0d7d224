"""Whether ``nova-manage db online_data_migrations`` and ``cinder-manage db
online_data_migrations`` would do work, found without migrating anything.

Neither command has a dry run: each runs every migration of its release's ``online_migrations``
list, and a migration finds its rows and fixes them in the same call. ``--max-count 0`` is no
way out either: both commands refuse a count below 1 ("Must supply a positive value", exit
127) before looking at any row, and ``--max-count 1`` migrates a row. So each migration's own
query is mirrored here as a ``SELECT`` of the rows it would change, read in a ``START
TRANSACTION READ ONLY`` that is rolled back (the database refuses any write in it). A row the
migration finds but cannot change (``populate_instance_compute_id`` for an instance whose host
and node match no compute node, ``populate_user_id`` for a mapping without a cell) is not
counted, as the command does not count it as done.

The mirrors are of nova 34.0.0's list, which nova 33.0.2 shares (eleven migrations, the last
added in 2023.2), and of cinder 29.0.0's, which cinder 28.0.0 shares
(``remove_temporary_admin_metadata_data_migration``). A release whose list was not compared is
a note, as is a migration whose table or column the schema does not have (a release before the
migration). Nova's cell migrations are read in every cell's database, cell0 included, as the
command is run once per cell with that cell's configuration; the API database's in the API
database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from stackdrill.cloud.access import CloudError, Dsn, database
from stackdrill.cloud.cleaning import MIGRATIONS, Finding
from stackdrill.core.evidence import Redactor

__all__ = ["CINDER_CHECKED", "NOVA_CHECKED", "MigrationCheck", "Pending", "api_pending",
           "cell_pending", "cinder_pending", "release_notes", "vif_list_rebuilt"]

NOVA_CHECKED = ("33", "34")
"""Nova releases (major versions) whose ``online_migrations`` list the mirrors were compared
with."""
CINDER_CHECKED = ("28", "29")
FAKE_UUID = "00000000-0000-0000-0000-000000000000"
"""Nova's marker instance (``virtual_interface.FAKE_UUID``)."""
_MISSING_SCHEMA = (1054, 1146)  # Unknown column, table does not exist
_CHUNK = 500

NOVA_CELL_COUNTS: tuple[tuple[str, str], ...] = (
    ("migrate_quota_limits_to_api_db",
     "SELECT (SELECT COUNT(*) FROM quotas WHERE deleted = 0) + "
     "(SELECT COUNT(*) FROM project_user_quotas WHERE deleted = 0) AS n"),
    ("migrate_quota_classes_to_api_db",
     "SELECT COUNT(*) AS n FROM quota_classes WHERE deleted = 0"),
    ("migration_migrate_to_uuid",
     "SELECT COUNT(*) AS n FROM migrations WHERE uuid IS NULL AND deleted = 0"),
    ("populate_uuids", "SELECT COUNT(*) AS n FROM block_device_mapping WHERE uuid IS NULL"),
    ("populate_missing_availability_zones",
     "SELECT COUNT(*) AS n FROM instances WHERE host IS NOT NULL "
     "AND availability_zone IS NULL"),
    ("migrate_empty_ratio",
     "SELECT COUNT(*) AS n FROM compute_nodes WHERE deleted = 0 AND ("
     "ram_allocation_ratio = 0.0 OR cpu_allocation_ratio = 0.0 OR disk_allocation_ratio = 0.0 "
     "OR ram_allocation_ratio IS NULL OR cpu_allocation_ratio IS NULL "
     "OR disk_allocation_ratio IS NULL)"),
    ("populate_dev_uuids", "SELECT COUNT(*) AS n FROM pci_devices WHERE uuid IS NULL"),
    ("populate_instance_compute_id",
     "SELECT COUNT(*) AS n FROM instances i WHERE i.compute_id IS NULL AND EXISTS ("
     "SELECT 1 FROM compute_nodes c WHERE c.host = i.host "
     "AND c.hypervisor_hostname = i.node)"),
)
"""Each of Nova's cell migrations that changes every row it finds (or, for the compute id,
every row whose host and node name a compute node, deleted or not), as one count."""
QUEUED_FOR_DELETE = ("SELECT COUNT(*) AS n FROM instance_mappings m JOIN cell_mappings c "
                     "ON c.id = m.cell_id WHERE m.queued_for_delete IS NULL")
USER_ID = ("SELECT m.instance_uuid AS uuid, c.uuid AS cell FROM instance_mappings m "
           "JOIN cell_mappings c ON c.id = m.cell_id WHERE m.user_id IS NULL "
           "AND m.project_id != %s")
INSTANCES_IN = "SELECT COUNT(*) AS n FROM instances WHERE uuid IN ({marks})"
VIF_MARKER = "SELECT tag FROM virtual_interfaces WHERE instance_uuid = %s LIMIT 1"
MARKER_ROW = "SELECT created_at, id FROM instances WHERE uuid = %s"
VIF_INSTANCES = ("SELECT i.uuid, c.network_info FROM instances i LEFT JOIN "
                 "instance_info_caches c ON c.instance_uuid = i.uuid AND c.deleted = 0 "
                 "WHERE i.deleted = 0 AND (i.vm_state IS NULL OR i.vm_state != 'soft-delete') "
                 "AND i.uuid != %s")
AFTER_MARKER = " AND (i.created_at > %s OR (i.created_at = %s AND i.id > %s))"
VIFS = ("SELECT instance_uuid, uuid FROM virtual_interfaces WHERE deleted = 0 "
        "AND instance_uuid IN ({marks}) ORDER BY created_at, id")
CINDER_TEMPORARY = ("SELECT COUNT(*) AS n FROM volume_admin_metadata "
                    "WHERE `key` = 'temporary' AND deleted = 0")


@dataclass(frozen=True)
class Pending:
    """Rows one migration would change in one database."""

    project: str  # nova, cinder
    database: str  # what messages call the database: "cell cell1", "API database"
    migration: str
    rows: int

    def finding(self) -> Finding:
        command = f"{self.project}-manage db online_data_migrations"
        where = f" with {self.database}'s configuration" if self.database.startswith("cell") \
            else ""
        return Finding(MIGRATIONS, (
            f"{self.project} {self.database}: {self.migration} would change {self.rows} "
            f"row(s): run '{command}'{where} until it exits 0"))


@dataclass
class MigrationCheck:
    """What the mirrors found in some databases: the migrations pending, and notes (a migration
    the schema has no table or column for)."""

    pending: list[Pending]
    notes: list[str]


Cursor = Any


@contextmanager
def read_only(dsn: Dsn, redactor: Redactor | None, label: str) -> Iterator[Cursor]:
    """A cursor in a read-only transaction, rolled back when done; a database error is a
    :class:`CloudError` naming ``label``."""
    import pymysql

    try:
        with database(dsn, redactor) as conn, conn.cursor() as cursor:
            cursor.execute("START TRANSACTION READ ONLY")
            try:
                yield cursor
            finally:
                conn.rollback()
    except pymysql.MySQLError as exc:
        raise CloudError(f"{label}: {exc.args[-1] if exc.args else exc}") from None
    except CloudError as exc:
        raise CloudError(f"{label}: {exc}") from None


def _count(cursor: Cursor, sql: str, args: Sequence[Any] = ()) -> int:
    cursor.execute(sql, tuple(args))
    row = cursor.fetchone()
    return int((row or {}).get("n") or 0)


def _guarded(check: MigrationCheck, project: str, where: str, name: str,
             read: Callable[[], int]) -> None:
    """One migration's rows in one database; a table or column the schema lacks is a note."""
    import pymysql

    try:
        rows = read()
    except pymysql.MySQLError as exc:
        if not exc.args or exc.args[0] not in _MISSING_SCHEMA:
            raise
        check.notes.append(f"{project} {where}: {name} not checked: {exc.args[-1]} (a release "
                           f"without this migration)")
        return
    if rows:
        check.pending.append(Pending(project, where, name, rows))


def cell_pending(dsn: Dsn, where: str, redactor: Redactor | None = None) -> MigrationCheck:
    """Nova's cell migrations in one cell's database."""
    check = MigrationCheck([], [])
    with read_only(dsn, redactor, f"nova {where}") as cursor:
        for name, sql in NOVA_CELL_COUNTS:
            _guarded(check, "nova", where, name, partial(_count, cursor, sql))
        _guarded(check, "nova", where, "fill_virtual_interface_list",
                 partial(_vif_rebuilds, cursor))
    return check


def api_pending(dsn: Dsn, cells: Mapping[str, Dsn],
                redactor: Redactor | None = None) -> MigrationCheck:
    """Nova's API database migrations; ``cells`` (cell uuid -> database) are read for the
    instances the user id migration would find."""
    check = MigrationCheck([], [])
    where = "API database"
    with read_only(dsn, redactor, f"nova {where}") as cursor:
        _guarded(check, "nova", where, "populate_queued_for_delete",
                 lambda: _count(cursor, QUEUED_FOR_DELETE))
        missing: dict[str, list[str]] = {}

        def user_ids() -> int:
            cursor.execute(USER_ID, (FAKE_UUID,))
            for row in cursor.fetchall():
                missing.setdefault(str(row["cell"]), []).append(str(row["uuid"]))
            return 0

        _guarded(check, "nova", where, "populate_user_id", user_ids)
    rows = sum(_instances_in(cells[cell], uuids, redactor, cell)
               for cell, uuids in sorted(missing.items()) if cell in cells)
    if rows:
        check.pending.append(Pending("nova", where, "populate_user_id", rows))
    return check


def cinder_pending(dsn: Dsn, redactor: Redactor | None = None) -> MigrationCheck:
    check = MigrationCheck([], [])
    where = "database"
    with read_only(dsn, redactor, "cinder database") as cursor:
        _guarded(check, "cinder", where, "remove_temporary_admin_metadata_data_migration",
                 lambda: _count(cursor, CINDER_TEMPORARY))
    return check


def _instances_in(dsn: Dsn, uuids: Sequence[str], redactor: Redactor | None,
                  cell: str) -> int:
    """How many of ``uuids`` have an ``instances`` row in the cell, deleted or not."""
    total = 0
    with read_only(dsn, redactor, f"nova cell {cell}") as cursor:
        for chunk in _chunks(uuids):
            total += _count(cursor, INSTANCES_IN.format(marks=", ".join(["%s"] * len(chunk))),
                            chunk)
    return total


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def _vif_rebuilds(cursor: Cursor) -> int:
    """The instances ``fill_virtual_interface_list`` would rebuild: those after its marker
    (the instance it checked last) whose cached network info lists more ports than their
    virtual interfaces, or the same number in another order."""
    sql, args = VIF_INSTANCES, [FAKE_UUID]
    cursor.execute(VIF_MARKER, (FAKE_UUID,))
    marker = cursor.fetchone()
    if marker and marker.get("tag"):
        cursor.execute(MARKER_ROW, (marker["tag"],))
        row = cursor.fetchone()
        if row is not None:
            sql += AFTER_MARKER
            args += [row["created_at"], row["created_at"], row["id"]]
    cursor.execute(sql, tuple(args))
    cached = {str(r["uuid"]): _port_ids(r["network_info"]) for r in cursor.fetchall()}
    cached = {uuid: ports for uuid, ports in cached.items() if ports}
    stored: dict[str, list[str]] = {uuid: [] for uuid in cached}
    for chunk in _chunks(sorted(cached)):
        cursor.execute(VIFS.format(marks=", ".join(["%s"] * len(chunk))), tuple(chunk))
        for vif in cursor.fetchall():
            stored[str(vif["instance_uuid"])].append(str(vif["uuid"]))
    return sum(vif_list_rebuilt(ports, stored[uuid]) for uuid, ports in cached.items())


def _port_ids(network_info: Any) -> list[str]:
    """The port ids of an ``instance_info_caches.network_info`` (a JSON list of VIFs)."""
    try:
        vifs = json.loads(network_info) if network_info else []
    except ValueError:
        return []
    return [str(vif.get("id")) for vif in vifs if isinstance(vif, dict)] \
        if isinstance(vifs, list) else []


def vif_list_rebuilt(cached: Sequence[str], stored: Sequence[str]) -> bool:
    """Whether Nova rebuilds an instance's virtual interfaces from its cached network info:
    when it has fewer than the cache lists, or as many in another order (more is left
    alone, as during an interface attach)."""
    if not cached or list(cached) == list(stored):
        return False
    return len(stored) <= len(cached)


_MAJOR = re.compile(r"^(\d+)\.")


def release_notes(versions: Mapping[str, Any]) -> list[str]:
    """A note for each of nova and cinder whose release is not one the mirrors were compared
    with (``versions`` as the run's service versions: a version, or one per host)."""
    notes = []
    for project, checked in (("nova", NOVA_CHECKED), ("cinder", CINDER_CHECKED)):
        value = versions.get(project)
        if value is None:
            continue
        found = sorted(set(value.values()) if isinstance(value, Mapping) else {str(value)})
        majors = {m.group(1) if (m := _MAJOR.match(v)) else None for v in found}
        if not majors <= set(checked):
            notes.append(f"{project} {', '.join(found)}: the online data migrations checked "
                         f"are those of {project} {' and '.join(checked)}; another release's "
                         f"own are not")
    return notes
