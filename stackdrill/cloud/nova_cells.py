"""Nova's cells, found the way Nova finds them: the ``[api_database] connection`` of a Nova API
service's configuration names the API database, whose ``cell_mappings`` table lists every cell
with the URL of its database. The instances live in the cells' databases; cell0 (the all-zero
UUID) holds only the instances that were never scheduled to a host.

A cell's ``database_connection`` may be a template (Nova 18.0, Rocky): ``{username}``,
``{password}``, ``{hostname}``, ``{port}``, ``{scheme}``, ``{path}``, ``{query}`` and
``{fragment}`` are taken from the ``[database] connection`` of the configuration that reads
the mapping, as ``CellMapping.format_db_url`` does, so
``mysql+pymysql://{username}:{password}@{hostname}/nova_cell1`` reaches ``nova_cell1`` with the
API host's own credentials.

The configuration is read where the service runs (:meth:`Service.inside
<stackdrill.hosts.service.Service.inside>`): ``/etc/nova/nova.conf`` on the host for a
DevStack or distribution-package unit, in the ``nova_api`` container on Kolla-Ansible, in the
``nova_api_container`` LXC container on OpenStack-Ansible. No URL and no password of the
configuration or of the mappings reaches a message: every password is registered with the
redactor as soon as it is read, and errors name hosts, files, sections, cells and variables.
"""

from __future__ import annotations

import configparser
import io
import shlex
import string
from dataclasses import dataclass, field, replace
from urllib.parse import unquote, urlsplit

from stackdrill.cloud.access import CloudError, Dsn, database
from stackdrill.core.evidence import Redactor
from stackdrill.hosts.target import Target
from stackdrill.inventory.secrets import config_secrets

__all__ = ["CELL0_UUID", "Cell", "ServiceConfig", "expand_template", "read_cells",
           "read_config"]

CELL0_UUID = "00000000-0000-0000-0000-000000000000"
CELL_MAPPINGS = "SELECT uuid, name, database_connection FROM cell_mappings ORDER BY id"
NOVA_CONF = "/etc/nova/nova.conf"


@dataclass(frozen=True)
class ServiceConfig:
    """An OpenStack service's INI configuration as read where the service runs: ``source``
    names it in messages (``controller:/etc/nova/nova.conf``, with the container when one runs
    the service), ``secrets`` are every secret it holds (for the redactor)."""

    source: str
    text: str = field(repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def connection(self, section: str) -> str | None:
        """The raw ``connection`` of ``section``; None when the file has none."""
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_file(io.StringIO(self.text))
        except configparser.Error as exc:
            raise CloudError(f"{self.source}: not an INI file: {type(exc).__name__}") from None
        value = parser.get(section, "connection", fallback="").strip()
        return value or None

    def dsn(self, section: str) -> Dsn:
        """The database ``[section] connection`` names, with the file's secrets attached."""
        url = self.connection(section)
        if url is None:
            raise CloudError(f"{self.source}: no [{section}] connection")
        try:
            dsn = _parse(url)
        except CloudError as exc:
            raise CloudError(f"{self.source}: [{section}] connection: {exc}") from None
        return replace(dsn, config_secrets=self.secrets)


def read_config(target: Target, service: str, path: str) -> ServiceConfig:
    """``path`` as ``service`` sees it on ``target``: read on the host, in its container, or in
    its LXC container (the inventory's placement of the service, or its profile's)."""
    handle = target.service(service)
    where = "" if handle.kind == "systemd" else f"{handle.container}:"
    source = f"{target.name}:{where}{path}"
    result = target.run(handle.inside(f"cat {shlex.quote(path)}"), record=False)
    if not result.ok:
        reason = result.stderr.strip().splitlines()[-1:] or [f"exit {result.exit_status}"]
        raise CloudError(f"{source}: cannot read it: {reason[0]}")
    return ServiceConfig(source, result.stdout, tuple(config_secrets(result.stdout)))


@dataclass(frozen=True)
class Cell:
    """One cell of ``cell_mappings`` other than cell0, and the database its instances are in."""

    uuid: str
    name: str
    dsn: Dsn = field(repr=False)

    @property
    def label(self) -> str:
        """What messages call it: its name, else its UUID."""
        return self.name or self.uuid


def read_cells(config: ServiceConfig, redactor: Redactor | None = None, *,
               cell0: bool = False) -> list[Cell]:
    """Every cell but cell0 (with ``cell0``, cell0 too, first), in ``cell_mappings`` order,
    read from the API database that ``config``'s ``[api_database] connection`` names. A cell
    whose URL cannot be used is a :class:`CloudError`, as is an API database that maps no cell
    besides cell0 (no instance could be found: an empty list would read as every instance
    gone)."""
    import pymysql

    api = config.dsn("api_database")
    with database(api, redactor) as conn, conn.cursor() as cur:
        try:
            cur.execute(CELL_MAPPINGS)
            rows = list(cur.fetchall())
        except pymysql.MySQLError as exc:
            raise CloudError(f"API database {api.user}@{api.host}/{api.database}: "
                             f"cell_mappings: {exc.args[-1] if exc.args else exc}") from None
    if redactor is not None:
        redactor.add_all(_url_password(str(row["database_connection"] or "")) for row in rows)
    base = config.connection("database")
    cells = [_cell(row, base, config, redactor) for row in rows if row["uuid"] != CELL0_UUID]
    if not cells:
        raise CloudError(f"API database {api.user}@{api.host}/{api.database} (from "
                         f"{config.source}) maps no cell besides cell0")
    if cell0:
        cells[:0] = [_cell(row, base, config, redactor) for row in rows
                     if row["uuid"] == CELL0_UUID]
    return cells


def _cell(row: dict[str, object], base: str | None, config: ServiceConfig,
          redactor: Redactor | None) -> Cell:
    uuid, name = str(row["uuid"]), str(row["name"] or "")
    url = str(row["database_connection"] or "")
    try:
        dsn = _parse(expand_template(url, base, config.source))
    except CloudError as exc:
        raise CloudError(f"cell {name or uuid}: database_connection: {exc}") from None
    if redactor is not None:
        redactor.add(dsn.password)
    return Cell(uuid, name, replace(dsn, config_secrets=config.secrets))


def expand_template(url: str, base: str | None, source: str = "the configuration") -> str:
    """``url`` with each ``{variable}`` replaced by that part of ``base`` (the ``[database]
    connection`` of the configuration read, from ``source``), as Nova expands a cell mapping;
    a URL without variables is returned as it is. The parts keep their URL encoding, as in
    Nova. A variable Nova does not know, or one ``base`` does not give, is a
    :class:`CloudError` naming it (never the URL, which may hold a password)."""
    if "{" not in url and "}" not in url:
        return url
    if base is None:
        raise CloudError(f"a template, but {source} has no [database] connection to fill it")
    parts = _template_parts(base, source)
    out = []
    try:
        parsed = list(string.Formatter().parse(url))
    except ValueError:
        raise CloudError("a template with unbalanced braces") from None
    for literal, name, spec, conversion in parsed:
        out.append(literal)
        if name is None:
            continue
        if name not in parts or spec or conversion:
            raise CloudError(f"{{{name}}} is not a variable Nova expands")
        value = parts[name]
        if value is None:
            raise CloudError(f"{{{name}}}: the [database] connection of {source} has none")
        out.append(value)
    return "".join(out)


def _template_parts(base: str, source: str) -> dict[str, str | None]:
    """The parts of the base URL a template may use, as Nova's ``CellMapping._format_url``
    takes them from ``urlparse``."""
    parts = urlsplit(base)
    try:
        port = parts.port
    except ValueError:
        raise CloudError(f"the [database] connection of {source} has a bad port") from None
    return {"scheme": parts.scheme, "username": parts.username, "password": parts.password,
            "hostname": parts.hostname, "port": None if port is None else str(port),
            "path": parts.path.lstrip("/"), "query": parts.query,
            "fragment": parts.fragment}


def _parse(url: str) -> Dsn:
    """:meth:`Dsn.parse`, a port that is not a number being a :class:`CloudError` too (whose
    message, like Dsn's own, quotes no part of the URL)."""
    try:
        return Dsn.parse(url)
    except ValueError:
        raise CloudError("a URL whose port is not a number") from None


def _url_password(url: str) -> str | None:
    """The password of a URL, decoded; None when it has none or cannot be parsed."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None

