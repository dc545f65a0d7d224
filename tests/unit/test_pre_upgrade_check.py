"""The pre-upgrade cleaning check: Nova's instances against each compute's libvirt domains and
instances directory, deleted instances left behind, services down, and the online data
migrations found pending by read-only mirrors of their queries. The comparisons run on plain
values; the readers on a fake MySQL (which records every statement, so that nothing but a
read-only transaction of SELECTs is seen), fake hosts and a fake API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import pymysql
import pytest

from stackdrill.cloud.access import Dsn
from stackdrill.cloud.cleaning import (
    Attachment,
    CleaningReport,
    ComputeView,
    Finding,
    NovaInstance,
    ServiceState,
    attachment_findings,
    compare_hypervisors,
    instance_entry,
    service_findings,
)
from stackdrill.cloud.cleaning_reads import (
    ATTACHMENTS,
    COUNTS,
    DELETED,
    LIVE,
    NOT_CLEANED,
    _nova_compute_settings,
    read_cleaning,
)
from stackdrill.cloud.nova_cells import CELL0_UUID
from stackdrill.cloud.online_migrations import (
    CINDER_TEMPORARY,
    FAKE_UUID,
    INSTANCES_IN,
    NOVA_CELL_COUNTS,
    QUEUED_FOR_DELETE,
    USER_ID,
    VIF_INSTANCES,
    VIF_MARKER,
    VIFS,
    api_pending,
    cell_pending,
    release_notes,
    vif_list_rebuilt,
)
from stackdrill.core.evidence import Evidence, Redactor
from stackdrill.engine.upgrade import CLEANING, pytest_terminal_summary
from stackdrill.engine.upgrade_phases import CLEANING_EVIDENCE, check_cleaning
from stackdrill.hosts.service import Service
from stackdrill.hosts.ssh import CommandResult
from stackdrill.hosts.target import Target
from stackdrill.inventory.profiles import Placement

CANARY1 = "11111111-1111-4111-8111-111111111111"
CANARY2 = "22222222-2222-4222-8222-222222222222"
ORPHAN = "33333333-3333-4333-8333-333333333333"
GHOST = "44444444-4444-4444-8444-444444444444"
BROKEN = "55555555-5555-4555-8555-555555555555"
STRAY_DIR = "66666666-6666-4666-8666-666666666666"
PASSWORD = "cell-Pw-77"


def live(uuid: str, name: str, host: str | None, vm_state: str = "active",
         task_state: str | None = None) -> NovaInstance:
    return NovaInstance(uuid, name, host, vm_state, task_state, cell="cell cell1")


def view(target: str, domains: dict[str, str] | None, entries: tuple[str, ...] = (),
         problems: tuple[str, ...] = ()) -> ComputeView:
    return ComputeView(target, target, domains, entries, problems=problems)


LIVE_INSTANCES = {CANARY1: live(CANARY1, "canary1", "compute1"),
                  CANARY2: live(CANARY2, "canary2", "compute2")}
SHARED = ("_base", "locks", "compute_nodes", CANARY1, CANARY2)


def lines(findings: list[Finding]) -> list[str]:
    return [str(f) for f in findings]


# -- the comparisons ----------------------------------------------------------------------------

def test_a_clean_cloud_has_no_finding() -> None:
    views = [view("compute1", {CANARY1: "instance-00000001"}, SHARED),
             view("compute2", {CANARY2: "instance-00000002"}, SHARED)]
    assert compare_hypervisors(LIVE_INSTANCES, {}, views) == ([], [])


def test_a_domain_nova_does_not_know_is_named_with_its_host() -> None:
    views = [view("compute1", {CANARY1: "instance-00000001", ORPHAN: "stray"}, SHARED),
             view("compute2", {CANARY2: "instance-00000002"}, SHARED)]
    findings, _ = compare_hypervisors(LIVE_INSTANCES, {}, views)
    assert lines(findings) == [
        f"instances: compute1 defines libvirt domain stray ({ORPHAN}), which is no instance "
        f"Nova knows: undefine it (virsh undefine {ORPHAN}) once nothing needs it"]


def test_a_deleted_instance_left_as_a_domain_and_a_directory_is_not_fully_removed() -> None:
    deleted = {GHOST: NovaInstance(GHOST, "ghost", "compute1", deleted_at="2026-12-01 10:00:00")}
    shared = (*SHARED, f"{GHOST}_del", STRAY_DIR)
    views = [view("compute1", {CANARY1: "instance-00000001", GHOST: "instance-00000009"},
                  shared),
             view("compute2", {CANARY2: "instance-00000002"}, shared)]
    findings, _ = compare_hypervisors(LIVE_INSTANCES, deleted, views)
    assert lines(findings) == [
        f"deleted instances: instance ghost ({GHOST}) was deleted at 2026-12-01 10:00:00, but "
        f"compute1 still defines its libvirt domain instance-00000009 ({GHOST}): virsh destroy "
        f"and virsh undefine it there",
        f"deleted instances: instance ghost ({GHOST}) was deleted at 2026-12-01 10:00:00, but "
        f"its directory /var/lib/nova/instances/{GHOST}_del on compute1, compute2 is still "
        f"there: remove it",
        f"deleted instances: directory /var/lib/nova/instances/{STRAY_DIR} on compute1, "
        f"compute2 belongs to no instance Nova knows: remove it once nothing needs its disks"]


def test_an_instance_nova_runs_without_its_domain_is_found_and_one_building_is_not() -> None:
    instances = {**LIVE_INSTANCES, BROKEN: live(BROKEN, "broken", "compute2", "stopped"),
                 ORPHAN: live(ORPHAN, "booting", "compute2", "building", "spawning"),
                 GHOST: live(GHOST, "failed", "compute2", "error")}
    views = [view("compute1", {CANARY1: "instance-00000001"}),
             view("compute2", {CANARY2: "instance-00000002"})]
    findings, notes = compare_hypervisors(instances, {}, views)
    assert lines(findings) == [
        f"instances: instance broken ({BROKEN}) is stopped on compute2 in Nova (cell cell1), "
        f"but no libvirt domain there has its uuid: hard-reboot it (openstack server reboot "
        f"--hard) or correct its state and host"]
    assert notes == [f"instance booting ({ORPHAN}) on compute2 is in the middle of spawning: "
                     f"let it end before the upgrade"]


def test_a_stale_copy_after_an_evacuation_is_found_but_not_one_during_a_migration() -> None:
    evacuated = live(CANARY1, "canary1", "compute2")
    views = [view("compute1", {CANARY1: "instance-00000001"}),
             view("compute2", {CANARY1: "instance-00000001", CANARY2: "instance-00000002"})]
    findings, _ = compare_hypervisors({**LIVE_INSTANCES, CANARY1: evacuated}, {}, views)
    assert lines(findings) == [
        f"instances: compute1 defines libvirt domain instance-00000001 ({CANARY1}) of instance "
        f"canary1 ({CANARY1}), which Nova places on compute2: once that host runs it, undefine "
        f"this stale copy on compute1 (virsh undefine {CANARY1})"]
    migrating = live(CANARY1, "canary1", "compute2", task_state="migrating")
    assert compare_hypervisors({**LIVE_INSTANCES, CANARY1: migrating}, {}, views)[0] == []


def test_a_compute_whose_libvirt_cannot_be_asked_is_not_compared_and_says_so() -> None:
    views = [view("compute1", None, SHARED), view("compute2", {CANARY2: "instance-00000002"})]
    findings, notes = compare_hypervisors(LIVE_INSTANCES, {}, views)
    assert findings == []
    assert notes == ["1 instance(s) on compute1, which is not a compute of the inventory (or "
                     "whose libvirt could not be asked): not compared with a hypervisor"]


def test_instance_directory_entries() -> None:
    assert instance_entry(CANARY1) == CANARY1
    assert instance_entry(f"{CANARY1}_del") == CANARY1
    assert instance_entry(f"{CANARY1}_resize") == CANARY1
    assert [instance_entry(e) for e in ("_base", "locks", "compute_nodes", "instance-0001",
                                        f"{CANARY1}.xml")] == [None] * 5


def test_a_service_down_is_a_finding_and_a_disabled_one_information() -> None:
    findings, notes = service_findings([
        ServiceState("nova", "nova-compute", "compute1", "down", "enabled"),
        ServiceState("nova", "nova-compute", "compute2", "up", "disabled",
                     "Connection to libvirt lost: 1"),
        ServiceState("cinder", "cinder-volume", "storage1@lab-file", "up", "disabled"),
        ServiceState("nova", "nova-scheduler", "controller", "up", "enabled")])
    assert lines(findings) == [
        "services: nova-compute on compute1 is down: start it, or, if compute1 is gone for "
        "good, delete its nova service record"]
    assert notes == ["cinder-volume on storage1@lab-file is disabled (no reason given)",
                     "nova-compute on compute2 is disabled (Connection to libvirt lost: 1)"]


def test_a_volume_still_attached_to_a_deleted_instance_is_found() -> None:
    deleted = {GHOST: NovaInstance(GHOST, "ghost", None, deleted_at="2026-12-01")}
    findings = attachment_findings([
        Attachment("v1", "canary1-vol", CANARY1), Attachment("v2", "data", GHOST),
        Attachment("v3", "", ORPHAN)], LIVE_INSTANCES, deleted)
    assert [f.line.split(":")[0] for f in findings] == [
        f"volume data (v2) is still attached to deleted instance ghost ({GHOST})",
        f"volume v3 is still attached to instance {ORPHAN}, which Nova does not know"]


@pytest.mark.parametrize(("cached", "stored", "rebuilt"), [
    ([], [], False), (["a"], ["a"], False), (["a", "b"], ["a"], True),
    (["a", "b"], ["b", "a"], True), (["a"], ["a", "b"], False), (["a"], [], True)])
def test_the_virtual_interface_migration_rebuilds_as_nova_does(
        cached: list[str], stored: list[str], rebuilt: bool) -> None:
    assert vif_list_rebuilt(cached, stored) is rebuilt


def test_a_release_whose_migrations_were_not_compared_is_information() -> None:
    assert release_notes({"nova": "34.0.0", "cinder": {"controller": "29.0.0",
                                                      "storage1": "28.1.0"}}) == []
    assert release_notes({"nova": "35.0.0", "cinder": "unknown"}) == [
        "nova 35.0.0: the online data migrations checked are those of nova 33 and 34; "
        "another release's own are not",
        "cinder unknown: the online data migrations checked are those of cinder 28 and 29; "
        "another release's own are not"]


# -- the readers, on a fake MySQL ----------------------------------------------------------------

Answer = Callable[[str, tuple[Any, ...]], list[dict[str, Any]] | None]


def nothing(sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
    return []


@dataclass
class FakeMySQL:
    """Each database answers a statement with ``answers[database](sql, args)`` (None: the
    table does not exist); every statement and every rollback is recorded."""

    answers: dict[str, Answer]
    statements: list[tuple[str, str]] = field(default_factory=list)
    rollbacks: list[str] = field(default_factory=list)

    def connect(self, **kwargs: Any) -> Any:
        return _Connection(self, kwargs["database"])


class _Connection:
    def __init__(self, mysql: FakeMySQL, database: str) -> None:
        self.mysql, self.database = mysql, database

    def cursor(self) -> _Cursor:
        return _Cursor(self)

    def rollback(self) -> None:
        self.mysql.rollbacks.append(self.database)

    def close(self) -> None:
        pass


class _Cursor:
    def __init__(self, conn: _Connection) -> None:
        self.conn = conn
        self.rows: list[dict[str, Any]] = []

    def __enter__(self) -> _Cursor:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> None:
        self.conn.mysql.statements.append((self.conn.database, sql))
        if sql == "START TRANSACTION READ ONLY":
            return
        rows = self.conn.mysql.answers.get(self.conn.database, nothing)(sql, args)
        if rows is None:
            raise pymysql.err.ProgrammingError(1146, f"Table '{self.conn.database}.x' doesn't "
                                                     f"exist")
        self.rows = rows

    def fetchall(self) -> list[dict[str, Any]]:
        return list(self.rows)

    def fetchone(self) -> dict[str, Any] | None:
        return self.rows[0] if self.rows else None


@pytest.fixture
def mysql(monkeypatch: pytest.MonkeyPatch) -> FakeMySQL:
    fake = FakeMySQL({})
    monkeypatch.setattr(pymysql, "connect", fake.connect)
    return fake


def only_reads(mysql: FakeMySQL) -> None:
    """Every connection began a read-only transaction and ran only SELECTs, and every one was
    rolled back."""
    assert all(sql == "START TRANSACTION READ ONLY" or sql.startswith("SELECT ")
               for _, sql in mysql.statements)
    starts = sum(sql == "START TRANSACTION READ ONLY" for _, sql in mysql.statements)
    assert starts == len(mysql.rollbacks) > 0


def counts(values: dict[str, int]) -> Answer:
    """A cell whose migration counts are ``values`` (by migration name), 0 otherwise."""
    by_sql = {sql: values.get(name, 0) for name, sql in NOVA_CELL_COUNTS}

    def answer(sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]] | None:
        if sql in by_sql:
            return [{"n": by_sql[sql]}]
        return [{"n": 0}] if "COUNT(*)" in sql else []

    return answer


DSN = Dsn("10.0.0.1", 3306, "nova", PASSWORD, "nova")


def test_pending_cell_migrations_are_counted_in_a_read_only_transaction(
        mysql: FakeMySQL) -> None:
    mysql.answers = {"nova": counts({"populate_uuids": 3, "populate_instance_compute_id": 1})}
    check = cell_pending(DSN, "cell cell1")
    assert [p.finding().line for p in check.pending] == [
        "nova cell cell1: populate_uuids would change 3 row(s): run 'nova-manage db "
        "online_data_migrations' with cell cell1's configuration until it exits 0",
        "nova cell cell1: populate_instance_compute_id would change 1 row(s): run "
        "'nova-manage db online_data_migrations' with cell cell1's configuration until it "
        "exits 0"]
    assert check.notes == []
    only_reads(mysql)


def test_a_migration_the_schema_has_no_table_for_is_information(mysql: FakeMySQL) -> None:
    quotas = dict(NOVA_CELL_COUNTS)["migrate_quota_classes_to_api_db"]
    base = counts({})
    mysql.answers = {"nova": lambda sql, args: None if sql == quotas else base(sql, args)}
    check = cell_pending(DSN, "cell cell1")
    assert check.pending == []
    assert check.notes == ["nova cell cell1: migrate_quota_classes_to_api_db not checked: "
                           "Table 'nova.x' doesn't exist (a release without this migration)"]


def test_the_instance_mappings_are_counted_as_nova_migrates_them(mysql: FakeMySQL) -> None:
    """``populate_user_id`` counts only the mappings whose instance its cell has (deleted or
    not); ``populate_queued_for_delete`` every mapping with a cell."""
    def api(sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]] | None:
        if sql == QUEUED_FOR_DELETE:
            return [{"n": 2}]
        assert sql == USER_ID and args == (FAKE_UUID,)
        return [{"uuid": CANARY1, "cell": "c1"}, {"uuid": ORPHAN, "cell": "c1"}]

    def cell(sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]] | None:
        assert sql == INSTANCES_IN.format(marks="%s, %s") and set(args) == {CANARY1, ORPHAN}
        return [{"n": 1}]

    mysql.answers = {"nova_api": api, "nova": cell}
    check = api_pending(Dsn("10.0.0.1", 3306, "nova", PASSWORD, "nova_api"), {"c1": DSN})
    assert [p.finding().line for p in check.pending] == [
        "nova API database: populate_queued_for_delete would change 2 row(s): run "
        "'nova-manage db online_data_migrations' until it exits 0",
        "nova API database: populate_user_id would change 1 row(s): run 'nova-manage db "
        "online_data_migrations' until it exits 0"]
    only_reads(mysql)


def test_the_virtual_interfaces_after_nova_marker_are_compared(mysql: FakeMySQL) -> None:
    network_info = '[{"id": "port-a"}, {"id": "port-b"}]'

    def cell(sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]] | None:
        if sql == VIF_MARKER:
            assert args == (FAKE_UUID,)
            return [{"tag": CANARY1}]
        if sql.startswith("SELECT created_at, id FROM instances"):
            return [{"created_at": "2026-12-01 10:00:00", "id": 7}]
        if sql.startswith(VIF_INSTANCES):
            assert "i.created_at > %s" in sql and args[1:] == ("2026-12-01 10:00:00",) * 2 + (7,)
            return [{"uuid": CANARY2, "network_info": network_info},
                    {"uuid": ORPHAN, "network_info": "[]"}]
        if sql == VIFS.format(marks="%s"):
            return [{"instance_uuid": CANARY2, "uuid": "port-b"},
                    {"instance_uuid": CANARY2, "uuid": "port-a"}]
        return counts({})(sql, args)

    mysql.answers = {"nova": cell}
    check = cell_pending(DSN, "cell cell1")
    assert [(p.migration, p.rows) for p in check.pending] == [("fill_virtual_interface_list", 1)]


# -- the whole check, on fake hosts and a fake API ----------------------------------------------

NOVA_CONF = (f"[DEFAULT]\nhost = {{host}}\nstate_path = /var/lib/nova\n"
             f"instances_path = $state_path/instances\n"
             f"[api_database]\nconnection = mysql+pymysql://nova:{PASSWORD}@10.0.0.1/nova_api\n"
             f"[database]\nconnection = mysql+pymysql://nova:{PASSWORD}@10.0.0.1/nova\n")
CINDER_CONF = f"[database]\nconnection = mysql+pymysql://cinder:{PASSWORD}@10.0.0.1/cinder\n"


class Host:
    """A lab host: ``cat`` answers with its files, ``ls`` with its instances directory, virsh
    with its domains (``None``: libvirtd down)."""

    def __init__(self, name: str, files: dict[str, str], entries: tuple[str, ...] = (),
                 domains: dict[str, str] | None = None) -> None:
        self.name, self.files, self.entries, self.domains = name, files, entries, domains
        self.commands: list[str] = []

    def service(self, name: str) -> Service:
        handle = Service(cast(Target, self), name)
        handle.__dict__["placement"] = Placement(name, "systemd", unit=name)
        return handle

    def run(self, command: str, *, record: bool = True, **_: Any) -> CommandResult:
        self.commands.append(command)
        if command.startswith("cat "):
            path = command.split(maxsplit=1)[1]
            return CommandResult(self.name, command, 0, self.files[path], "", 0.0, 0.1)
        if "ls -1A" in command:
            listed = "".join(f"{e}\n" for e in self.entries)
            return CommandResult(self.name, command, 0,
                                 f"{self.name}\n@@stackdrill-instances-directory\n{listed}", "",
                                 0.0, 0.1)
        assert "virsh -c qemu:///system list --all --uuid --name" in command
        if self.domains is None:
            return CommandResult(self.name, command, 0, "libvirtd-down\n", "", 0.0, 0.1)
        out = "".join(f"{uuid} {name}\n" for uuid, name in self.domains.items())
        return CommandResult(self.name, command, 0, out + "\n", "", 0.0, 0.1)


def targets(hosts: list[Host]) -> Any:
    controller = Host("controller", {"/etc/nova/nova.conf": NOVA_CONF.format(host="controller"),
                                     "/etc/cinder/cinder.conf": CINDER_CONF})
    return SimpleNamespace(
        with_role=lambda role: [controller] if role == "controller" else hosts,
        inventory=SimpleNamespace(services={"cinder-api": None}))


def compute(name: str, entries: tuple[str, ...], domains: dict[str, str] | None) -> Host:
    return Host(name, {"/etc/nova/nova.conf": NOVA_CONF.format(host=name)}, entries, domains)


def service(binary: str, host: str, state: str = "up", status: str = "enabled") -> Any:
    return SimpleNamespace(binary=binary, host=host, state=state, status=status,
                           disabled_reason=None)


def access(services: list[Any], volume_services: list[Any]) -> Any:
    conn = SimpleNamespace(compute=SimpleNamespace(services=lambda: services),
                           block_storage=SimpleNamespace(services=lambda: volume_services),
                           has_service=lambda name: True)
    return SimpleNamespace(redactor=Redactor(), connection=lambda: conn)


def lab_databases(live_rows: list[dict[str, Any]], deleted_rows: list[dict[str, Any]],
                  attachments: list[dict[str, Any]]) -> dict[str, Answer]:
    mappings = [{"uuid": CELL0_UUID, "name": "cell0", "database_connection":
                 f"mysql+pymysql://nova:{PASSWORD}@10.0.0.1/nova_cell0"},
                {"uuid": "c1", "name": "cell1", "database_connection":
                 f"mysql+pymysql://nova:{PASSWORD}@10.0.0.1/nova"}]

    def api(sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]] | None:
        if "FROM cell_mappings" in sql and "instance_mappings" not in sql:
            return mappings
        return [] if sql == USER_ID else [{"n": 0}] if sql == QUEUED_FOR_DELETE else None

    def cell(rows: list[dict[str, Any]]) -> Answer:
        def answer(sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]] | None:
            if sql == LIVE:
                return rows
            if sql.startswith(DELETED.split("{")[0]):
                return [r for r in deleted_rows if r["uuid"] in args]
            if sql == COUNTS:
                return [{"deleted_rows": len(deleted_rows) if rows else 0, "soft_deleted": 0}]
            if sql == NOT_CLEANED:
                return []
            return counts({})(sql, args)
        return answer

    def cinder(sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]] | None:
        if sql == ATTACHMENTS:
            return attachments
        assert sql == CINDER_TEMPORARY
        return [{"n": 0}]

    return {"nova_api": api, "nova_cell0": cell([]), "nova": cell(live_rows), "cinder": cinder}


def row(uuid: str, name: str, host: str | None, vm_state: str = "active") -> dict[str, Any]:
    return {"uuid": uuid, "display_name": name, "host": host, "vm_state": vm_state,
            "task_state": None}


CANARY_ROWS = [row(CANARY1, "canary1", "compute1"), row(CANARY2, "canary2", "compute2")]


def lab(mysql: FakeMySQL, orphan: bool = False, nova_compute: str = "up") -> CleaningReport:
    mysql.answers = lab_databases(CANARY_ROWS, [], [
        {"volume_id": "v1", "display_name": "canary1-vol", "instance_uuid": CANARY1,
         "attached_host": "compute1"}])
    domains1 = {CANARY1: "instance-00000001", **({ORPHAN: "stackdrill-orphan"} if orphan
                                                 else {})}
    hosts = [compute("compute1", SHARED, domains1),
             compute("compute2", SHARED, {CANARY2: "instance-00000002"})]
    services = [service("nova-compute", "compute1", nova_compute),
                service("nova-compute", "compute2"), service("nova-conductor", "controller")]
    return read_cleaning(access(services, [service("cinder-volume", "storage1@lab-file")]),
                         targets(hosts), {"nova": "34.0.0", "cinder": "29.0.0"})


def test_the_whole_check_on_a_clean_lab_finds_nothing_and_only_reads(mysql: FakeMySQL) -> None:
    report = lab(mysql)
    assert report.findings == [] and report.notes == []
    assert report.ok and "nothing" in report.render()
    only_reads(mysql)
    assert {database for database, _ in mysql.statements} == {
        "nova_api", "nova_cell0", "nova", "cinder"}


def test_the_whole_check_names_an_orphan_domain_and_a_compute_service_down(
        mysql: FakeMySQL) -> None:
    report = lab(mysql, orphan=True, nova_compute="down")
    assert report.deviations() == [
        f"instances: compute1 defines libvirt domain stackdrill-orphan ({ORPHAN}), which is "
        f"no instance Nova knows: undefine it (virsh undefine {ORPHAN}) once nothing needs it",
        "services: nova-compute on compute1 is down: start it, or, if compute1 is gone for "
        "good, delete its nova service record"]
    only_reads(mysql)


def test_the_whole_check_finds_a_deleted_instance_left_on_a_compute_and_on_a_volume(
        mysql: FakeMySQL) -> None:
    ghost = {"uuid": GHOST, "display_name": "ghost", "host": "compute1",
             "deleted_at": "2026-12-01 10:00:00"}
    mysql.answers = lab_databases(CANARY_ROWS, [ghost], [
        {"volume_id": "v9", "display_name": "data", "instance_uuid": GHOST,
         "attached_host": "compute1"}])
    hosts = [compute("compute1", SHARED, {CANARY1: "instance-00000001",
                                          GHOST: "instance-00000009"}),
             compute("compute2", SHARED, {CANARY2: "instance-00000002"})]
    report = read_cleaning(access([], []), targets(hosts))
    assert [f.line.split(":")[0] for f in report.findings] == [
        f"instance ghost ({GHOST}) was deleted at 2026-12-01 10",
        f"volume data (v9) is still attached to deleted instance ghost ({GHOST})"]
    assert report.notes == ["nova cell cell1: 1 deleted instance row(s) not archived yet "
                            "(nova-manage db archive_deleted_rows shrinks what the upgrade's "
                            "schema migrations go over)"]
    only_reads(mysql)


def test_what_cannot_be_read_is_a_finding_and_the_rest_is_still_compared(
        mysql: FakeMySQL) -> None:
    mysql.answers = lab_databases(CANARY_ROWS, [], [])
    hosts = [compute("compute1", SHARED, None),
             compute("compute2", SHARED, {CANARY2: "instance-00000002", ORPHAN: ""})]
    report = read_cleaning(access([], []), targets(hosts))
    assert report.deviations() == [
        "not checked: compute1: libvirtd is not running: start it, its domains cannot be "
        "compared with Nova's instances",
        f"instances: compute2 defines libvirt domain {ORPHAN}, which is no instance Nova "
        f"knows: undefine it (virsh undefine {ORPHAN}) once nothing needs it"]
    assert PASSWORD not in report.render()


def test_the_instances_directory_and_the_host_name_come_from_the_computes_nova_conf() -> None:
    assert _nova_compute_settings("[DEFAULT]\nhost = cn-01.example\n"
                                  "state_path = /srv/nova\n") == (
        "cn-01.example", "/srv/nova/instances")
    assert _nova_compute_settings("[DEFAULT]\ninstances_path = ${state_path}/vms/\n") == (
        None, "/var/lib/nova/vms")
    assert _nova_compute_settings("not an ini file") == (None, "/var/lib/nova/instances")


def test_the_phase_reports_every_finding_and_fails_with_the_first() -> None:
    report = CleaningReport([Finding("services", "nova-compute on compute1 is down: start it")],
                            ["nova-compute on compute2 is disabled (maintenance)"], ["virsh"])
    drill = SimpleNamespace(evidence=Evidence())
    config = SimpleNamespace(stash=pytest.Stash())
    problem = check_cleaning(cast(Any, config), cast(Any, drill), cast(Any, None),
                             cast(Any, None), read=lambda *_: report)
    assert problem == ("the cloud needs cleaning before the upgrade: 1 finding(s), first: "
                       "services: nova-compute on compute1 is down: start it")
    attached = dict(drill.evidence.attachments)
    assert attached["state difference: to clean before the upgrade"] == (
        "services: nova-compute on compute1 is down: start it")
    assert "information (1):\n  nova-compute on compute2 is disabled" in attached[
        CLEANING_EVIDENCE]
    assert config.stash[CLEANING] is report
    clean = SimpleNamespace(evidence=Evidence())
    assert check_cleaning(cast(Any, config), cast(Any, clean), cast(Any, None), cast(Any, None),
                          read=lambda *_: CleaningReport()) is None
    assert dict(clean.evidence.attachments)[
        "state difference: to clean before the upgrade"] == "no deviations"


class Terminal:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def section(self, title: str) -> None:
        self.lines.append(f"== {title}")

    def line(self, text: str, **_: Any) -> None:
        self.lines.append(text)


def test_the_terminal_summary_lists_each_deviation_then_the_information() -> None:
    config = SimpleNamespace(stash=pytest.Stash())
    config.stash[CLEANING] = CleaningReport(
        [Finding("services", "nova-compute on compute1 is down: start it")],
        ["nova cell cell1: 3 deleted instance row(s) not archived yet"])
    terminal = Terminal()
    pytest_terminal_summary(terminal, 1, cast(Any, config))
    assert terminal.lines == [
        "== to clean before the upgrade",
        "DEVIATION: services: nova-compute on compute1 is down: start it",
        "information: nova cell cell1: 3 deleted instance row(s) not archived yet"]
    config.stash[CLEANING] = CleaningReport()
    terminal = Terminal()
    pytest_terminal_summary(terminal, 0, cast(Any, config))
    assert terminal.lines == ["== to clean before the upgrade", "nothing to clean"]
