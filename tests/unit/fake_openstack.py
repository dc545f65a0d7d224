"""A fake OpenStack cloud on loopback, answering what a tenant asks through openstacksdk: Keystone's
version document, password authentication (a token and a catalog) and token validation, a
server, a volume, an image and a Swift object, each with the version discovery openstacksdk
does first. Each service can be told to fail (an HTTP status), to hang (answer after a delay)
or to drop the connection, and the server records which TCP connection each request came on."""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PASSWORD = "pw-Secret-42"
PROJECT = "5f0a0b0c0d0e4f1a9b8c7d6e5f4a3b2c"
SERVER = "11111111-2222-4333-8444-555555555555"
VOLUME = "66666666-7777-4888-9999-aaaaaaaaaaaa"
IMAGE = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"
CONTAINER, OBJECT = "stackdrill-canary", "canary-1"
SERVICES = ("identity", "compute", "volume", "image", "object")


@dataclass
class Behaviour:
    """What a service does now: answer, fail with ``status``, answer after ``delay`` seconds,
    or drop the connection (``drop``)."""

    status: int | None = None
    delay: float = 0.0
    drop: bool = False


@dataclass
class FakeCloud:
    base: str = ""
    behaviour: dict[str, Behaviour] = field(
        default_factory=lambda: {name: Behaviour() for name in SERVICES})
    tokens: list[str] = field(default_factory=list)
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # service, path, port
    echo_token: bool = False  # a failing service echoes the request's token in its message
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ports(self, service: str) -> list[int]:
        with self.lock:
            return [port for name, _, port in self.requests if name == service]

    def count(self, service: str) -> int:
        return len(self.ports(service))

    def catalog(self) -> list[dict[str, Any]]:
        def entry(kind: str, name: str, path: str) -> dict[str, Any]:
            return {"type": kind, "name": name, "id": name, "endpoints": [
                {"id": f"{name}-public", "interface": "public", "region": "RegionOne",
                 "region_id": "RegionOne", "url": f"{self.base}{path}"}]}

        return [entry("identity", "keystone", "/identity"),
                entry("compute", "nova", "/compute/v2.1"),
                entry("block-storage", "cinderv3", f"/volume/v3/{PROJECT}"),
                entry("image", "glance", "/image"),
                entry("object-store", "swift", f"/object/v1/AUTH_{PROJECT}")]

    def clouds_yaml(self, directory: Path) -> Path:
        path = directory / "clouds.yaml"
        path.write_text(json.dumps({"clouds": {"fake": {
            "auth": {"auth_url": f"{self.base}/identity/v3", "username": "tenant",
                     "password": PASSWORD, "project_name": "canaries",
                     "user_domain_name": "Default", "project_domain_name": "Default"},
            "region_name": "RegionOne", "identity_api_version": 3}}}))
        return path


def _token_body(cloud: FakeCloud) -> dict[str, Any]:
    domain = {"id": "default", "name": "Default"}
    return {"token": {
        "methods": ["password"], "expires_at": "2099-01-01T00:00:00.000000Z",
        "issued_at": "2026-01-01T00:00:00.000000Z",
        "user": {"id": "u1", "name": "tenant", "domain": domain, "password_expires_at": None},
        "project": {"id": PROJECT, "name": "canaries", "domain": domain},
        "roles": [{"id": "r1", "name": "member"}], "catalog": cloud.catalog()}}


def _version(cloud: FakeCloud, path: str, ident: str, **extra: Any) -> dict[str, Any]:
    return {"id": ident, "status": "CURRENT", "updated": "2020-01-01T00:00:00Z",
            "links": [{"rel": "self", "href": f"{cloud.base}{path}"}], **extra}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cloud: FakeCloud

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream" if isinstance(body, bytes)
                         else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(OSError):  # the client gave up waiting
            self.wfile.write(data)

    def _service(self) -> str:
        return self.path.strip("/").split("/", 1)[0]

    def _misbehave(self, service: str) -> bool:
        """Apply the service's behaviour; True when the request has been dealt with."""
        how = self.cloud.behaviour.get(service, Behaviour())
        if how.delay:
            time.sleep(how.delay)
        if how.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)
            return True
        if how.status is not None:
            token = self.headers.get("X-Auth-Token", "") if self.cloud.echo_token else ""
            self._send(how.status, {"error": {"code": how.status,
                                              "message": f"unavailable {token}".strip()}})
            return True
        return False

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        self._record()
        if self._misbehave("identity"):
            return
        password = body.get("auth", {}).get("identity", {}).get("password", {}).get(
            "user", {}).get("password")
        if self.path.rstrip("/") != "/identity/v3/auth/tokens" or password != PASSWORD:
            self._send(401, {"error": {"code": 401, "message": "The request you have made "
                                                               "requires authentication."}})
            return
        token = "gAAAAAB" + secrets.token_urlsafe(140)
        with self.cloud.lock:
            self.cloud.tokens.append(token)
        self._send(201, _token_body(self.cloud), {"X-Subject-Token": token})

    def _record(self) -> None:
        with self.cloud.lock:
            self.cloud.requests.append((self._service(), self.path, self.client_address[1]))

    def do_GET(self) -> None:
        self._record()
        service = self._service()
        if self._misbehave(service):
            return
        found = self._discovery() or self._resource()
        if found is None:
            self._send(404, {"itemNotFound": {"code": 404, "message": "not found"}})
            return
        self._send(200, found)

    def _discovery(self) -> Any:
        cloud, path = self.cloud, self.path.rstrip("/")
        documents: dict[str, Any] = {
            "/identity/v3": {"version": _version(cloud, "/identity/v3/", "v3.14")},
            "/identity": {"versions": {"values": [_version(cloud, "/identity/v3/", "v3.14")]}},
            "/compute": {"versions": [_version(cloud, "/compute/v2.1/", "v2.1",
                                               version="2.90", min_version="2.1")]},
            "/compute/v2.1": {"version": _version(cloud, "/compute/v2.1/", "v2.1",
                                                  version="2.90", min_version="2.1")},
            "/volume": {"versions": [_version(cloud, "/volume/v3/", "v3.0", version="3.70",
                                              min_version="3.0")]},
            "/volume/v3": {"versions": [_version(cloud, "/volume/v3/", "v3.0",
                                                 version="3.70", min_version="3.0")]},
            "/image": {"versions": [_version(cloud, "/image/v2/", "v2.16")]},
            "/image/v2": {"versions": [_version(cloud, "/image/v2/", "v2.16")]},
        }
        return documents.get(path.split("?", 1)[0])

    def _authorised(self) -> bool:
        with self.cloud.lock:
            return self.headers.get("X-Auth-Token") in self.cloud.tokens

    def _resource(self) -> Any:
        if not self._authorised():
            return None
        path = self.path.split("?", 1)[0]
        resources: dict[str, Any] = {
            f"/compute/v2.1/servers/{SERVER}": {"server": {
                "id": SERVER, "name": "stackdrill-canary-compute1", "status": "ACTIVE"}},
            f"/volume/v3/{PROJECT}/volumes/{VOLUME}": {"volume": {
                "id": VOLUME, "name": "stackdrill-canary-compute1-vol", "status": "in-use"}},
            f"/image/v2/images/{IMAGE}": {"id": IMAGE, "name": "stackdrill-canary",
                                         "status": "active"},
            f"/object/v1/AUTH_{PROJECT}/{CONTAINER}/{OBJECT}": b"canary object\n",
            # a token's validation: found while the cloud still holds the subject token
            "/identity/v3/auth/tokens": _token_body(self.cloud)
            if self.headers.get("X-Subject-Token") in self.cloud.tokens else None,
        }
        return resources.get(path)


@contextlib.contextmanager
def fake_cloud() -> Iterator[FakeCloud]:
    cloud = FakeCloud()
    handler = type("BoundHandler", (Handler,), {"cloud": cloud})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    cloud.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield cloud
    finally:
        server.shutdown()
        server.server_close()
