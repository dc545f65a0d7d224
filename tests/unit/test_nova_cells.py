"""The ``nova_db`` probe finds Nova's cells as Nova does: ``[api_database] connection`` of the
controller's ``nova.conf`` (read where nova-api runs), the API database's ``cell_mappings``,
and every cell's database but cell0's, with templated URLs filled from the same file's
``[database] connection``. PyMySQL's ``connect`` is replaced by a fake that serves each
database's rows and records what was connected to; no password reaches a value or a message."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import pymysql
import pytest
from stackdrill.builtin.probes.nova_db import NovaDatabase

from stackdrill.api import CloudContext
from stackdrill.cloud.access import CloudError
from stackdrill.cloud.nova_cells import (
    CELL0_UUID,
    ServiceConfig,
    expand_template,
    read_cells,
    read_config,
)
from stackdrill.core.evidence import Redactor
from stackdrill.hosts.service import Service
from stackdrill.hosts.service_commands import LxcContainer
from stackdrill.hosts.ssh import CommandResult
from stackdrill.hosts.target import Target
from stackdrill.inventory.profiles import Placement

API_PW, CELL0_PW, CELL1_PW, CELL2_PW, BASE_PW = (
    "api-Pw-1", "cell0-Pw-2", "cell1-Pw-3", "cell2-Pw-4", "base-P@ss-5")
CELL1_UUID = "6c4f5f0e-7a57-4b5e-9d0e-1f6f7f0c1a11"
CELL2_UUID = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"


def nova_conf(database: str = "nova_cell0", api: bool = True) -> str:
    """A nova.conf as DevStack writes it (its ``[database]`` on cell0), or the lab's."""
    api_section = (f"[api_database]\nconnection = "
                   f"mysql+pymysql://root:{API_PW}@10.0.0.1/nova_api?charset=utf8\n"
                   if api else "")
    return (f"[DEFAULT]\ntransport_url = rabbit://stackrabbit:rabbit-Pw-6@10.0.0.1:5672/\n"
            f"{api_section}[database]\nconnection = "
            f"mysql+pymysql://root:{BASE_PW.replace('@', '%40')}@10.0.0.1:3306/{database}"
            f"?charset=utf8\n")


def mapping(uuid: str, name: str, url: str) -> dict[str, Any]:
    return {"uuid": uuid, "name": name, "database_connection": url}


CELL0 = mapping(CELL0_UUID, "cell0", f"mysql+pymysql://root:{CELL0_PW}@10.0.0.1/nova_cell0")
CELL1 = mapping(CELL1_UUID, "cell1", f"mysql+pymysql://root:{CELL1_PW}@10.0.0.1/nova_cell1")


def instance(name: str, host: str = "compute1", vm_state: str = "active") -> dict[str, Any]:
    return {"uuid": f"uuid-{name}", "display_name": name, "host": host, "vm_state": vm_state,
            "power_state": 1 if vm_state == "active" else 0, "task_state": None}


@dataclass
class FakeMySQL:
    """The databases PyMySQL reaches: each database's rows, by the table its query reads;
    every connection is recorded (its keyword arguments) and every query."""

    tables: dict[str, dict[str, list[dict[str, Any]]]]
    down: set[str] = field(default_factory=set)
    connected: list[dict[str, Any]] = field(default_factory=list)
    queries: list[tuple[str, str]] = field(default_factory=list)

    def connect(self, **kwargs: Any) -> Any:
        self.connected.append(kwargs)
        name = kwargs["database"]
        if name in self.down:
            raise pymysql.err.OperationalError(
                2003, f"Can't connect to MySQL server on '{kwargs['host']}' (111)")
        return _Connection(self, name)


class _Connection:
    def __init__(self, mysql: FakeMySQL, database: str) -> None:
        self.mysql, self.database = mysql, database

    def cursor(self) -> _Cursor:
        return _Cursor(self)

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

    def execute(self, query: str) -> None:
        self.conn.mysql.queries.append((self.conn.database, query))
        table = query.split(" FROM ", 1)[1].split(maxsplit=1)[0]
        tables = self.conn.mysql.tables.get(self.conn.database, {})
        if table not in tables:
            raise pymysql.err.ProgrammingError(
                1146, f"Table '{self.conn.database}.{table}' doesn't exist")
        self.rows = tables[table]

    def fetchall(self) -> list[dict[str, Any]]:
        return list(self.rows)


@pytest.fixture
def mysql(monkeypatch: pytest.MonkeyPatch) -> FakeMySQL:
    fake = FakeMySQL({})
    monkeypatch.setattr(pymysql, "connect", fake.connect)
    return fake


class Controller:
    """The controller as the probe sees it: ``cat`` of a file answers with ``files``, its
    services run where ``placements`` says (systemd units on the host otherwise)."""

    name = "controller"

    def __init__(self, files: dict[str, str],
                 placements: dict[str, Placement] | None = None) -> None:
        self.files = files
        self.placements = placements or {}
        self.commands: list[str] = []
        self.lxc_containers = [LxcContainer("infra1_nova_api_container-1a2b3c4d", "RUNNING")]

    def service(self, name: str) -> Service:
        handle = Service(cast(Target, self), name)
        handle.__dict__["placement"] = self.placements.get(
            name, Placement(name, "systemd", unit=name))
        return handle

    def run(self, command: str, *, record: bool = True, **_: Any) -> CommandResult:
        self.commands.append(command)
        path = command.rsplit("cat ", maxsplit=1)[-1].strip("'")
        text = self.files.get(path)
        if text is None:
            return CommandResult(self.name, command, 1, "",
                                 f"cat: {path}: No such file or directory\n", 0.0, 0.1)
        return CommandResult(self.name, command, 0, text, "", 0.0, 0.1)


def context(controller: Controller, services: tuple[str, ...] = ()) -> CloudContext:
    """A cloud context with ``controller`` as the one controller and no compute."""
    targets = SimpleNamespace(
        with_role=lambda role: [controller] if role == "controller" else [],
        inventory=SimpleNamespace(services={name: None for name in services}))
    access = SimpleNamespace(redactor=Redactor())
    return CloudContext(cast(Any, access), cast(Any, targets))


def instance_values(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What the probe recorded for these rows before it knew of cells."""
    values = {}
    for row in rows:
        key = f"db:instance:{row['display_name']}"
        for column in ("host", "vm_state", "power_state", "task_state"):
            values[f"{key}/{column}"] = row[column]
    return values


def test_devstack_superconductor_layout_reads_the_canaries_in_cell1(mysql: FakeMySQL) -> None:
    """nova.conf's ``[database]`` is cell0 there; the canaries are read in cell1, and cell0
    (whose only instance was never scheduled) is never connected to."""
    canaries = [instance("stackdrill-canary-compute1")]
    mysql.tables = {"nova_api": {"cell_mappings": [CELL0, CELL1]},
                    "nova_cell0": {"instances": [instance("never-scheduled", "", "error")]},
                    "nova_cell1": {"instances": canaries}}
    controller = Controller({"/etc/nova/nova.conf": nova_conf("nova_cell0")})
    values = NovaDatabase().observe_cloud(context(controller))
    assert values == instance_values(canaries)
    assert [c["database"] for c in mysql.connected] == ["nova_api", "nova_cell1"]
    assert mysql.connected[1]["password"] == CELL1_PW
    assert controller.commands == ["cat /etc/nova/nova.conf"]


def test_the_labs_single_cell_records_what_the_database_section_gave(mysql: FakeMySQL) -> None:
    """The lab's cell1 is its ``[database]`` (``nova``): the same paths and values as when
    the probe read that section, and the same command on the controller."""
    lab_url = f"mysql+pymysql://nova:{CELL1_PW}@172.31.77.10/nova?charset=utf8"
    canaries = [instance("stackdrill-canary-compute1"),
                instance("stackdrill-canary-compute2", "compute2")]
    volumes = [{"id": "v1", "display_name": "stackdrill-canary-compute1-vol", "status": "in-use",
                "attach_status": "attached", "host": "storage1@lab-file#lab-file"}]
    mysql.tables = {"nova_api": {"cell_mappings": [CELL0, mapping(CELL1_UUID, "cell1", lab_url)]},
                    "nova": {"instances": canaries}, "cinder": {"volumes": volumes}}
    cinder_conf = f"[database]\nconnection = mysql+pymysql://cinder:{CELL2_PW}@172.31.77.10/cinder\n"
    controller = Controller({"/etc/nova/nova.conf": nova_conf("nova"),
                             "/etc/cinder/cinder.conf": cinder_conf})
    values = NovaDatabase().observe_cloud(context(controller, ("cinder-api",)))
    assert values == {**instance_values(canaries),
                      "db:volume:stackdrill-canary-compute1-vol/status": "in-use",
                      "db:volume:stackdrill-canary-compute1-vol/attach_status": "attached"}
    assert controller.commands == ["cat /etc/nova/nova.conf", "cat /etc/cinder/cinder.conf"]


def test_every_cell_but_cell0_is_read_and_the_cells_are_read_once(mysql: FakeMySQL) -> None:
    cell2 = mapping(CELL2_UUID, "cell2", f"mysql+pymysql://nova:{CELL2_PW}@10.0.0.2/nova_cell2")
    mysql.tables = {"nova_api": {"cell_mappings": [CELL0, CELL1, cell2]},
                    "nova_cell1": {"instances": [instance("a")]},
                    "nova_cell2": {"instances": [instance("b", "compute2")]}}
    probe = NovaDatabase()
    ctx = context(Controller({"/etc/nova/nova.conf": nova_conf()}))
    first = probe.observe_cloud(ctx)
    assert first == instance_values([instance("a"), instance("b", "compute2")])
    assert probe.observe_cloud(ctx) == first
    assert [q[0] for q in mysql.queries].count("nova_api") == 1
    assert {c["host"] for c in mysql.connected if c["database"] == "nova_cell2"} == {"10.0.0.2"}


def test_a_templated_cell_url_is_filled_from_the_database_section(mysql: FakeMySQL) -> None:
    """OpenStack-Ansible's way: the mapping holds ``{username}``-style variables, filled from
    ``[database] connection`` of the same nova.conf (its encoded password decoded once)."""
    template = "{scheme}://{username}:{password}@{hostname}:{port}/nova_cell1?{query}"
    mysql.tables = {"nova_api": {"cell_mappings": [CELL0, mapping(CELL1_UUID, "cell1",
                                                                  template)]},
                    "nova_cell1": {"instances": [instance("a")]}}
    NovaDatabase().observe_cloud(context(Controller({"/etc/nova/nova.conf": nova_conf()})))
    cell = mysql.connected[1]
    assert (cell["user"], cell["password"], cell["host"], cell["port"], cell["database"]) == (
        "root", BASE_PW, "10.0.0.1", 3306, "nova_cell1")


@pytest.mark.parametrize(("placement", "command", "source"), [
    (Placement("nova-api", "container", container="nova_api", runtime="docker"),
     "docker exec nova_api sh -c 'cat /etc/nova/nova.conf'", "controller:nova_api:"),
    (Placement("nova-api", "lxc", unit="nova-api-os-compute", container="nova_api_container"),
     "lxc-attach -n infra1_nova_api_container-1a2b3c4d -- sh -c 'cat /etc/nova/nova.conf'",
     "controller:nova_api_container:"),
], ids=["kolla", "openstack-ansible"])
def test_nova_conf_is_read_where_nova_api_runs(placement: Placement, command: str,
                                               source: str) -> None:
    controller = Controller({}, {"nova-api": placement})
    with pytest.raises(CloudError) as failed:
        read_config(cast(Target, controller), "nova-api", "/etc/nova/nova.conf")
    assert controller.commands == [command]
    assert str(failed.value) == (f"{source}/etc/nova/nova.conf: cannot read it: "
                                 "cat: /etc/nova/nova.conf: No such file or directory")


def failure(mysql: FakeMySQL, conf: str, mappings: list[dict[str, Any]],
            down: tuple[str, ...] = ()) -> tuple[str, Redactor]:
    """The probe's error for this nova.conf and these mappings, and its redactor."""
    mysql.tables = {"nova_api": {"cell_mappings": mappings}, "nova_cell1": {"instances": []}}
    mysql.down = set(down)
    ctx = context(Controller({"/etc/nova/nova.conf": conf}))
    with pytest.raises(CloudError) as failed:
        NovaDatabase().observe_cloud(ctx)
    return str(failed.value), ctx.access.redactor


@pytest.mark.parametrize(("conf", "mappings", "down", "message"), [
    (nova_conf(api=False), [CELL0, CELL1], (),
     "controller:/etc/nova/nova.conf: no [api_database] connection"),
    (nova_conf(), [CELL0], (), "API database root@10.0.0.1/nova_api (from "
     "controller:/etc/nova/nova.conf) maps no cell besides cell0"),
    (nova_conf(), [CELL0, CELL1], ("nova_api",), "database root@10.0.0.1/nova_api: "
     "Can't connect to MySQL server on '10.0.0.1' (111)"),
    (nova_conf(), [CELL0, CELL1], ("nova_cell1",), "cell cell1: database "
     "root@10.0.0.1/nova_cell1: Can't connect to MySQL server on '10.0.0.1' (111)"),
    (nova_conf(), [CELL0, mapping(CELL1_UUID, "", "mysql://{user}:{password}@db/nova_cell1")],
     (), f"cell {CELL1_UUID}: database_connection: {{user}} is not a variable Nova expands"),
    (nova_conf(), [CELL0, mapping(CELL1_UUID, "cell1", f"postgresql://a:{CELL1_PW}@db/n")], (),
     "cell cell1: database_connection: not a MySQL connection URL: postgresql://..."),
    (nova_conf(), [CELL0, mapping(CELL1_UUID, "cell1", f"mysql://a:{CELL1_PW}@db:x{CELL1_PW}/n")],
     (), "cell cell1: database_connection: a URL whose port is not a number"),
], ids=["no api_database", "only cell0", "api database down", "cell database down",
        "unknown variable", "not mysql", "bad port"])
def test_no_fallback_the_probe_says_why_it_cannot_read(
        mysql: FakeMySQL, conf: str, mappings: list[dict[str, Any]], down: tuple[str, ...],
        message: str) -> None:
    """None of these falls back to ``[database] connection`` (cell0 on DevStack, where every
    instance would read as gone); the reason is one line."""
    text, _ = failure(mysql, conf, mappings, down)
    assert text == message
    assert "nova_cell0" not in {c["database"] for c in mysql.connected}


def test_no_password_reaches_a_message_and_each_is_registered(mysql: FakeMySQL) -> None:
    """Every password of nova.conf and of the mappings (cell0's too, never used) is
    registered with the redactor once read; the errors, the cells' reprs and the values
    carry none of them."""
    template = mapping(CELL1_UUID, "cell1", "{scheme}://{username}:{password}@{hostname}:{nope}/x")
    text, redactor = failure(mysql, nova_conf(), [CELL0, template])
    assert text == "cell cell1: database_connection: {nope} is not a variable Nova expands"
    passwords = (API_PW, CELL0_PW, BASE_PW, "rabbit-Pw-6")
    assert redactor(" ".join(passwords)) == " ".join(["***"] * len(passwords))
    text, redactor = failure(mysql, nova_conf(), [CELL0, CELL1], ("nova_cell1",))
    assert redactor(CELL1_PW) == "***"
    config = ServiceConfig("controller:/etc/nova/nova.conf", nova_conf(), (API_PW,))
    mysql.down = set()
    cells = read_cells(config, Redactor())
    shown = f"{text} {cells!r} {config!r}"
    for password in (API_PW, CELL0_PW, CELL1_PW, BASE_PW, "base-P%40ss-5"):
        assert password not in shown


def test_an_unreadable_nova_conf_names_no_line_of_it() -> None:
    config = ServiceConfig("controller:/etc/nova/nova.conf", f"connection {API_PW}\n[x\n")
    with pytest.raises(CloudError) as failed:
        config.dsn("api_database")
    assert str(failed.value) == ("controller:/etc/nova/nova.conf: not an INI file: "
                                 "MissingSectionHeaderError")


BASE = "mysql+pymysql://nova:s%2Fcret@db.example:3307/nova?charset=utf8#frag"


@pytest.mark.parametrize(("url", "expanded"), [
    ("mysql+pymysql://nova:pw@db/nova_cell1", "mysql+pymysql://nova:pw@db/nova_cell1"),
    ("{scheme}://{username}:{password}@{hostname}:{port}/{path}_cell1?{query}#{fragment}",
     "mysql+pymysql://nova:s%2Fcret@db.example:3307/nova_cell1?charset=utf8#frag"),
    ("mysql://{username}@{hostname}/{{literal}}", "mysql://nova@db.example/{literal}"),
])
def test_templates_expand_as_nova_expands_them(url: str, expanded: str) -> None:
    assert expand_template(url, BASE) == expanded


@pytest.mark.parametrize(("url", "base", "message"), [
    ("mysql://{username}@h/x", None, "a template, but the configuration has no [database] "
     "connection to fill it"),
    ("mysql://u@{hostname}:{port}/x", "mysql://u:pw@h/nova", "{port}: the [database] "
     "connection of the configuration has none"),
    ("mysql://{username!r}@h/x", BASE, "{username} is not a variable Nova expands"),
    ("mysql://{username@h/x", BASE, "a template with unbalanced braces"),
])
def test_a_template_that_cannot_be_filled_is_refused(url: str, base: str | None,
                                                     message: str) -> None:
    with pytest.raises(CloudError) as failed:
        expand_template(url, base)
    assert str(failed.value) == message
