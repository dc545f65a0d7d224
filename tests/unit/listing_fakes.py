"""A fake Nova and Cinder for the incremental listings: rows with the columns the API shows, an
``updated_at`` in whole seconds stamped by the writer's clock (which may lag the API host's),
soft-deleted rows, and the list calls ``cloud_api`` makes, answered as the services answer them
(pages of ``limit`` behind a ``marker``, newest first; ``changes-since`` with the deleted
servers as ``DELETED`` and the build requests whatever the filter; ``updated_at=gte:`` only at
microversion 3.60, echoed in ``OpenStack-API-Version``; ``/volumes/summary``; a ``Date``
header from the API host's clock)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

START = datetime(2026, 12, 7, 6, 0, 0, 250000, tzinfo=UTC)


@dataclass
class Row:
    id: str
    name: str
    status: str
    created: datetime
    updated: datetime | None = None
    deleted: bool = False
    host: str | None = None
    power_state: int = 1
    attachments: list[dict[str, str]] = field(default_factory=list)


class Response:
    def __init__(self, body: dict[str, Any], status: int = 200,
                 headers: dict[str, str] | None = None) -> None:
        self.body = body
        self.status_code = status
        self.headers = headers or {}
        self.content = b""
        self.reason = "Not Acceptable" if status == 406 else "error"
        self.text = ""
        self.url = "http://fake"

    def json(self) -> dict[str, Any]:
        return self.body


class Cloud:
    """The rows and the clocks: ``now`` is the API host's clock, ``writer_lag`` how far behind
    it the clock of the host that stamps ``updated_at`` runs."""

    def __init__(self) -> None:
        self.now = START
        self.writer_lag = timedelta(0)
        self.servers: dict[str, Row] = {}
        self.volumes: dict[str, Row] = {}
        #: Each request: its path, its parameters and how many items it answered.
        self.calls: list[tuple[str, dict[str, Any], int]] = []
        self.date_header = True
        self.cinder_max = (3, 71)
        #: False: an endpoint that ignores microversions, and so the filter (it echoes none).
        self.cinder_microversions = True
        self._made = 0

    def tick(self, seconds: float = 1.0) -> None:
        self.now += timedelta(seconds=seconds)

    def stamp(self) -> datetime:
        """``updated_at`` as the writer stores it: its clock, in whole seconds."""
        return (self.now - self.writer_lag).replace(microsecond=0)

    def _new_id(self, kind: str) -> str:
        self._made += 1
        return f"{kind}-{self._made:04d}"

    # -- what the cloud does ---------------------------------------------------------------------
    def boot(self, name: str, host: str | None = "c1", status: str = "ACTIVE") -> str:
        """A server as it ends its build: created, then updated by its compute (or, with no
        host, still a build request: never updated)."""
        key = self._new_id("srv")
        row = Row(key, name, status, created=self.now.replace(microsecond=0), host=host)
        if host is not None:
            row.updated = self.stamp()
        self.servers[key] = row
        return key

    def update_server(self, key: str, **changes: Any) -> None:
        row = self.servers[key]
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated = self.stamp()

    def delete_server(self, key: str, trace: bool = True) -> None:
        """Nova's delete: through a compute (its vm_state saved as deleted, then the row
        soft-deleted), or, with ``trace`` False, the row destroyed with no save (a server with
        no host, deleted while building or from cell0)."""
        if trace:
            self.update_server(key, status="DELETED")
        self.servers[key].deleted = True

    def create_volume(self, name: str, updated: bool = True) -> str:
        key = self._new_id("vol")
        row = Row(key, name, "available", created=self.now.replace(microsecond=0))
        if updated:
            row.updated = self.stamp()
        self.volumes[key] = row
        return key

    def update_volume(self, key: str, **changes: Any) -> None:
        row = self.volumes[key]
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated = self.stamp()

    def attach(self, volume: str, server: str, device: str) -> None:
        attachments = [*self.volumes[volume].attachments, {"server_id": server, "device": device}]
        self.update_volume(volume, status="in-use", attachments=attachments)

    def detach(self, volume: str) -> None:
        self.update_volume(volume, status="available", attachments=[])

    def delete_volume(self, key: str) -> None:
        """Cinder's delete: ``deleting`` saved, then the row soft-deleted (``updated_at``
        kept), after which no list shows it."""
        self.update_volume(key, status="deleting")
        self.volumes[key].deleted = True

    # -- what the APIs answer --------------------------------------------------------------------
    def headers(self, version: str | None = None) -> dict[str, str]:
        found = {"Date": format_datetime(self.now, usegmt=True)} if self.date_header else {}
        if version:
            found["OpenStack-API-Version"] = version
        return found


def _page(rows: list[Row], params: dict[str, Any], key: str,
          render: Any) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    rows = sorted(rows, key=lambda row: (row.created, row.id), reverse=True)
    ids = [row.id for row in rows]
    start = ids.index(params["marker"]) + 1 if "marker" in params else 0
    page = rows[start:start + params["limit"]]
    links = [{"rel": "next", "href": f"?marker={page[-1].id}"}] \
        if len(page) == params["limit"] else []
    return [render(row) for row in page], links


def _since(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _server_json(row: Row) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "status": row.status,
            "OS-EXT-SRV-ATTR:host": row.host, "OS-EXT-STS:power_state": row.power_state,
            "created": row.created.strftime("%Y-%m-%dT%H:%M:%SZ")}


def _volume_json(row: Row) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "status": row.status,
            "attachments": list(row.attachments),
            "created_at": row.created.strftime("%Y-%m-%dT%H:%M:%S.000000")}


class Nova:
    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def services(self, **_: Any) -> list[Any]:
        return [type("S", (), {"binary": "nova-compute", "host": "c1", "state": "up",
                               "status": "enabled", "disabled_reason": None})()]

    def hypervisors(self, **_: Any) -> list[Any]:
        return [type("H", (), {"name": "c1", "state": "up", "status": "enabled"})()]

    def get(self, path: str, params: dict[str, Any] | None = None,
            microversion: str | None = None) -> Any:
        params = params or {}
        rows = list(self.cloud.servers.values())
        if path.startswith("/servers/") and path != "/servers/detail":
            row = self.cloud.servers.get(path.rpartition("/")[2])
            self.cloud.calls.append((f"GET {path}", {}, int(row is not None and not row.deleted)))
            if row is None or row.deleted:
                return Response({"itemNotFound": {"message": "not found"}}, 404,
                                self.cloud.headers())
            return Response({"server": _server_json(row)}, 200, self.cloud.headers())
        if path == "/servers" and "status" in params:
            wanted = [r for r in rows if not r.deleted and r.status == params["status"]]
            items, links = _page(wanted, params, "servers",
                                 lambda row: {"id": row.id, "name": row.name})
            self.cloud.calls.append((f"GET {path}", dict(params), len(items)))
            return Response({"servers": items, "servers_links": links}, 200,
                            self.cloud.headers())
        if "changes-since" in params:
            since = _since(params["changes-since"])
            # Nova's build requests (servers not yet in a cell) ignore the filter
            rows = [r for r in rows if (r.updated is None and not r.deleted)
                    or (r.updated is not None and r.updated >= since)]
        else:
            rows = [r for r in rows if not r.deleted]
        items, links = _page(rows, params, "servers", _server_json)
        self.cloud.calls.append((f"GET {path}", dict(params), len(items)))
        return Response({"servers": items, "servers_links": links}, 200, self.cloud.headers())


class Cinder:
    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def services(self, **_: Any) -> list[Any]:
        return [type("S", (), {"binary": "cinder-volume", "host": "st1@file", "state": "up",
                               "status": "enabled"})()]

    def _version(self, microversion: str | None) -> tuple[int, ...] | None:
        """The microversion the answer uses (None: the base version), or an error."""
        if microversion is None or not self.cloud.cinder_microversions:
            return None
        return tuple(int(part) for part in microversion.split("."))

    def get(self, path: str, params: dict[str, Any], microversion: str | None = None) -> Any:
        version = self._version(microversion)
        echo = f"volume {microversion}" if version else None
        if version is not None and version > self.cloud.cinder_max:
            self.cloud.calls.append((f"GET {path}", dict(params), 0))
            return Response({"error": {"message": "version not supported"}}, 406,
                            self.cloud.headers())
        rows = [r for r in self.cloud.volumes.values() if not r.deleted]
        if path == "/volumes/summary":
            self.cloud.calls.append((f"GET {path}", dict(params), 1))
            return Response({"volume-summary": {"total_count": len(rows), "total_size": 0}},
                            200, self.cloud.headers(echo))
        if "updated_at" in params and version is not None and version >= (3, 60):
            since = _since(params["updated_at"].removeprefix("gte:"))
            rows = [r for r in rows if r.updated is not None and r.updated >= since]
        items, links = _page(rows, params, "volumes", _volume_json)
        self.cloud.calls.append((f"GET {path}", dict(params), len(items)))
        return Response({"volumes": items, "volumes_links": links}, 200,
                        self.cloud.headers(echo))


class Connection:
    def __init__(self, cloud: Cloud) -> None:
        self.compute = Nova(cloud)
        self.block_storage = Cinder(cloud)

    def has_service(self, name: str) -> bool:
        return True


class Access:
    def __init__(self, cloud: Cloud) -> None:
        self.conn = Connection(cloud)

    def connection(self) -> Connection:
        return self.conn
