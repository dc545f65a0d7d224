"""A virtual BMC: IPMI over LAN (UDP) and Redfish (HTTP) for a set of hosts, whose power actions
call a pluggable backend.

The power drivers for real servers (``stackdrill.hosts.power.bmc``) speak these protocols; a
virtual BMC lets them be exercised end to end on loopback, and lets the lab be driven through
the same drivers as production: back it with :class:`LabPowerBackend` and every host of the lab
gets a BMC. Tests back it with :class:`MemoryPowerBackend` or :class:`FilePowerBackend`.

:class:`BmcProcess` runs the BMCs in a process of their own (``python -m stackdrill.lab.bmc``), as
a BMC is a separate machine: pyghmi's clients and its server otherwise share one I/O loop per
process, and a client can miss its reply while the server holds that loop.

IPMI is pyghmi's BMC server (one UDP socket per host). pyghmi's server answers RMCP+ with cipher
suite 3 only (HMAC-SHA1) whatever the client asked for; :class:`_Suite3Session` refuses other
suites with RMCP+ status 0x11 ("no matching cipher suite"), as a BMC limited to suite 3 does, so
clients (ipmitool, pyghmi) fall back to suite 3. Redfish is a small responder of our own: the
service root, the systems collection, one ComputerSystem per host with its PowerState and the
``ComputerSystem.Reset`` action, behind HTTP basic authentication.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, Protocol

import pyghmi.ipmi.bmc as pyghmi_bmc  # type: ignore[import-untyped]
import pyghmi.ipmi.private.serversession as pyghmi_server  # type: ignore[import-untyped]
import pyghmi.ipmi.private.session as pyghmi_session  # type: ignore[import-untyped]

from stackdrill.core.errors import HarnessError

__all__ = [
    "BmcError",
    "BmcProcess",
    "FilePowerBackend",
    "LabPowerBackend",
    "MemoryPowerBackend",
    "PowerBackend",
    "RedfishResponder",
    "VirtualBmc",
    "VirtualIpmi",
]

RESET_TYPES = ("On", "ForceOff", "GracefulShutdown", "ForceRestart", "GracefulRestart",
               "PowerCycle")
_RMCP_NO_CIPHER_MATCH = 0x11
_RETIRED_SOCKETS: list[socket.socket] = []
_HMAC_SHA1 = 1


class PowerBackend(Protocol):
    """What a BMC's power actions do to the host ``name``."""

    def is_on(self, name: str) -> bool: ...

    def power_on(self, name: str) -> None: ...

    def power_off(self, name: str) -> None: ...

    def reset(self, name: str) -> None: ...

    def shutdown(self, name: str) -> None: ...


@dataclass
class MemoryPowerBackend:
    """Power states in memory, with a record of every action (for tests)."""

    states: dict[str, bool] = field(default_factory=dict)
    actions: list[tuple[str, str]] = field(default_factory=list)
    boots: dict[str, int] = field(default_factory=dict)

    def _record(self, name: str, action: str) -> None:
        self.actions.append((name, action))

    def is_on(self, name: str) -> bool:
        return self.states.get(name, False)

    def power_on(self, name: str) -> None:
        self._record(name, "power_on")
        if not self.is_on(name):
            self.boots[name] = self.boots.get(name, 0) + 1
        self.states[name] = True

    def power_off(self, name: str) -> None:
        self._record(name, "power_off")
        self.states[name] = False

    def reset(self, name: str) -> None:
        self._record(name, "reset")
        self.boots[name] = self.boots.get(name, 0) + 1
        self.states[name] = True

    def shutdown(self, name: str) -> None:
        self._record(name, "shutdown")
        self.states[name] = False


class FilePowerBackend:
    """:class:`MemoryPowerBackend`'s states, actions and boots kept in a JSON file, so that a
    BMC in another process and the test that drives it see the same host."""

    def __init__(self, path: Path, states: Mapping[str, bool] | None = None) -> None:
        self.path = path
        if states is not None:
            self._write(MemoryPowerBackend(states=dict(states)))

    def _write(self, memory: MemoryPowerBackend) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"states": memory.states, "actions": memory.actions,
                                   "boots": memory.boots}))
        tmp.replace(self.path)

    def _read(self) -> MemoryPowerBackend:
        data = json.loads(self.path.read_text())
        return MemoryPowerBackend(states=data["states"],
                                  actions=[tuple(a) for a in data["actions"]],
                                  boots=data["boots"])

    @contextmanager
    def _locked(self) -> Iterator[MemoryPowerBackend]:
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            memory = self._read()
            yield memory
            self._write(memory)

    @property
    def states(self) -> dict[str, bool]:
        return self._read().states

    @property
    def actions(self) -> list[tuple[str, str]]:
        return self._read().actions

    @property
    def boots(self) -> dict[str, int]:
        return self._read().boots

    def is_on(self, name: str) -> bool:
        return self._read().is_on(name)

    def power_on(self, name: str) -> None:
        with self._locked() as memory:
            memory.power_on(name)

    def power_off(self, name: str) -> None:
        with self._locked() as memory:
            memory.power_off(name)

    def reset(self, name: str) -> None:
        with self._locked() as memory:
            memory.reset(name)

    def shutdown(self, name: str) -> None:
        with self._locked() as memory:
            memory.shutdown(name)


class LabPowerBackend:
    """The embedded lab's hosts behind a virtual BMC."""

    def __init__(self, root: str | None = None) -> None:
        from pathlib import Path

        from stackdrill.lab.power import LabPower
        from stackdrill.lab.topology import LabPaths

        self._power = LabPower(LabPaths(Path(root)) if root else LabPaths.default())

    def is_on(self, name: str) -> bool:
        return self._power.is_on(name)

    def power_on(self, name: str) -> None:
        self._power.power_on(name)

    def power_off(self, name: str) -> None:
        self._power.power_off(name)

    def reset(self, name: str) -> None:
        self._power.reboot(name, graceful=False)

    def shutdown(self, name: str) -> None:
        self._power.power_off(name, graceful=True)


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- IPMI ----------------------------------------------------------------------------------------


class _Suite3Session(pyghmi_server.ServerSession):  # type: ignore[misc]
    def create_open_session_response(self, request: bytearray) -> bytearray:
        # request: tag, role, 2 reserved, console session id (4), then the authentication
        # payload (type, 2 reserved, length, algorithm, ...)
        if request[12] != _HMAC_SHA1:
            self.clientsessionid = request[4:8]
            return bytearray([request[0], _RMCP_NO_CIPHER_MATCH, 0, 0]) + request[4:8]
        return bytearray(super().create_open_session_response(request))


class _HostBmc(pyghmi_bmc.Bmc):  # type: ignore[misc]
    """One host's IPMI BMC; chassis control calls the backend.

    As a real BMC does, it acknowledges a chassis control command at once and carries out the
    power action afterwards, one at a time: pyghmi's server answers from the I/O loop it shares
    with every pyghmi client in the process, and a lab reset takes seconds, during which no
    client reply could be read."""

    def __init__(self, name: str, backend: PowerBackend, users: Mapping[str, str],
                 port: int, actions: ThreadPoolExecutor) -> None:
        super().__init__(dict(users), port=port, address="127.0.0.1")
        self.host_name = name
        self.backend = backend
        self.actions = actions

    def _later(self, action: Callable[[str], None]) -> None:
        self.actions.submit(action, self.host_name)

    def sessionless_data(self, data: bytes, sockaddr: Any) -> None:
        packet = bytearray(data)
        opens_session = (len(packet) >= 22 and packet[0] == 6 and packet[2:4] == b"\xff\x07"
                         and packet[4] == 6 and packet[5] == 0x10)
        if opens_session:
            _Suite3Session(self.authdata, self.kg, sockaddr, self.serversocket, packet[16:],
                           self.uuid, bmc=self)
            return
        super().sessionless_data(data, sockaddr)

    def get_power_state(self) -> str:
        return "on" if self.backend.is_on(self.host_name) else "off"

    def power_on(self) -> None:
        self._later(self.backend.power_on)

    def power_off(self) -> None:
        self._later(self.backend.power_off)

    def power_reset(self) -> None:
        self._later(self.backend.reset)

    def power_cycle(self) -> None:
        self._later(self.backend.power_off)
        self._later(self.backend.power_on)

    def power_shutdown(self) -> None:
        self._later(self.backend.shutdown)


class VirtualIpmi:
    """IPMI BMCs on 127.0.0.1, one UDP port per host, served by one thread."""

    def __init__(self, backend: PowerBackend, hosts: Iterable[str], users: Mapping[str, str],
                 ports: Mapping[str, int] | None = None) -> None:
        self.backend = backend
        self.users = dict(users)
        self.ports = {name: (ports or {}).get(name) or _free_port(socket.SOCK_DGRAM)
                      for name in hosts}
        self._bmcs: list[_HostBmc] = []
        self._actions = ThreadPoolExecutor(max_workers=1, thread_name_prefix="virtual-ipmi-power")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not pyghmi_session.iosockets:
            # pyghmi wakes its I/O thread through its first socket: let that be one of its own
            # client sockets, never a BMC socket that stop() takes away
            pyghmi_session.Session._assignsocket()
        self._bmcs = [_HostBmc(name, self.backend, self.users, port, self._actions)
                      for name, port in self.ports.items()]
        self._thread = threading.Thread(target=self._serve, name="virtual-ipmi", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            pyghmi_session.Session.wait_for_rsp(timeout=0.2)

    def stop(self) -> None:
        self._actions.shutdown(wait=True)  # a power action under way is finished, not cut
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for bmc in self._bmcs:
            sock = bmc.serversocket
            pyghmi_session.Session.bmc_handlers.pop(sock, None)
            if sock in pyghmi_session.iosockets:
                pyghmi_session.iosockets.remove(sock)
            # not closed: pyghmi's I/O thread may be about to select() on it, and a closed
            # descriptor there ends that thread for the whole process
            _RETIRED_SOCKETS.append(sock)
        self._bmcs = []


# --- Redfish -------------------------------------------------------------------------------------


class RedfishResponder:
    """A Redfish service on 127.0.0.1: one ComputerSystem per host, power through the backend."""

    def __init__(self, backend: PowerBackend, hosts: Iterable[str], users: Mapping[str, str],
                 port: int = 0) -> None:
        self.backend = backend
        self.hosts = list(hosts)
        self.users = dict(users)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, name="virtual-redfish",
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        expected = self.users.get(user)
        return expected is not None and hmac.compare_digest(expected, password)

    def resource(self, path: str) -> dict[str, Any] | None:
        path = path.rstrip("/") or "/"
        if path == "/redfish/v1":
            return {"@odata.id": "/redfish/v1/", "@odata.type": "#ServiceRoot.v1_5_0.ServiceRoot",
                    "Id": "RootService", "Name": "stackdrill virtual BMC",
                    "RedfishVersion": "1.6.0", "UUID": "5a4d6b2c-1f0e-4d3c-9b8a-7f6e5d4c3b2a",
                    "Systems": {"@odata.id": "/redfish/v1/Systems"}}
        if path == "/redfish/v1/Systems":
            return {"@odata.id": path,
                    "@odata.type": "#ComputerSystemCollection.ComputerSystemCollection",
                    "Name": "Computer System Collection", "Members@odata.count": len(self.hosts),
                    "Members": [{"@odata.id": f"{path}/{name}"} for name in self.hosts]}
        prefix = "/redfish/v1/Systems/"
        name = path[len(prefix):] if path.startswith(prefix) else ""
        if name in self.hosts:
            return {"@odata.id": path, "@odata.type": "#ComputerSystem.v1_10_0.ComputerSystem",
                    "Id": name, "Name": name, "SystemType": "Physical",
                    "PowerState": "On" if self.backend.is_on(name) else "Off",
                    "Actions": {"#ComputerSystem.Reset": {
                        "target": f"{path}/Actions/ComputerSystem.Reset",
                        "ResetType@Redfish.AllowableValues": list(RESET_TYPES)}}}
        return None

    def reset(self, path: str, body: Mapping[str, Any]) -> HTTPStatus:
        prefix, suffix = "/redfish/v1/Systems/", "/Actions/ComputerSystem.Reset"
        name = path[len(prefix):-len(suffix)] if path.startswith(prefix) and path.endswith(
            suffix) else ""
        if name not in self.hosts:
            return HTTPStatus.NOT_FOUND
        kind = body.get("ResetType")
        actions = {"On": self.backend.power_on, "ForceOff": self.backend.power_off,
                   "GracefulShutdown": self.backend.shutdown, "ForceRestart": self.backend.reset,
                   "GracefulRestart": self.backend.reset, "PowerCycle": self.backend.reset}
        action = actions.get(str(kind))
        if action is None:
            return HTTPStatus.BAD_REQUEST
        action(name)
        return HTTPStatus.NO_CONTENT

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        responder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: HTTPStatus, body: Mapping[str, Any] | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                if status == HTTPStatus.UNAUTHORIZED:
                    self.send_header("WWW-Authenticate", 'Basic realm="redfish"')
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("OData-Version", "4.0")
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: HTTPStatus) -> None:
                self._send(status, {"error": {"code": "Base.1.0.GeneralError",
                                              "message": status.phrase}})

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path.rstrip("/") != "/redfish/v1" and not responder.authorized(
                        self.headers.get("Authorization")):
                    return self._error(HTTPStatus.UNAUTHORIZED)
                body = responder.resource(path)
                if body is None:
                    return self._error(HTTPStatus.NOT_FOUND)
                return self._send(HTTPStatus.OK, body)

            def do_POST(self) -> None:
                if not responder.authorized(self.headers.get("Authorization")):
                    return self._error(HTTPStatus.UNAUTHORIZED)
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    return self._error(HTTPStatus.BAD_REQUEST)
                status = responder.reset(self.path.split("?", 1)[0], body)
                if status != HTTPStatus.NO_CONTENT:
                    return self._error(status)
                return self._send(status)

        return Handler


class VirtualBmc:
    """IPMI and Redfish BMCs for ``hosts`` on loopback, backed by ``backend``; a context manager."""

    def __init__(self, backend: PowerBackend, hosts: Iterable[str], users: Mapping[str, str],
                 *, ipmi: bool = True, redfish: bool = True) -> None:
        names = list(hosts)
        self.backend = backend
        self.ipmi = VirtualIpmi(backend, names, users) if ipmi else None
        self.redfish = RedfishResponder(backend, names, users) if redfish else None

    def __enter__(self) -> VirtualBmc:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self.ipmi is not None:
            self.ipmi.start()
        if self.redfish is not None:
            self.redfish.start()

    def stop(self) -> None:
        if self.ipmi is not None:
            self.ipmi.stop()
        if self.redfish is not None:
            self.redfish.stop()


# --- a BMC process -------------------------------------------------------------------------------

USERS_ENV = "STACKDRILL_BMC_USERS"  # JSON {user: password}: kept off the command line
START_TIMEOUT = 30.0


class BmcError(HarnessError, RuntimeError):
    pass


class BmcProcess:
    """IPMI and Redfish BMCs for ``hosts`` in a child process; a context manager.

    ``backend`` is ``file:PATH`` (a :class:`FilePowerBackend`) or ``lab:ROOT`` (the lab's own
    power). The child reports its ports on one line once it serves, and stops when its stdin
    closes, so it never outlives the process that started it."""

    def __init__(self, backend: str, hosts: Iterable[str], users: Mapping[str, str]) -> None:
        self.backend = backend
        self.hosts = list(hosts)
        self.users = dict(users)
        self.ipmi_ports: dict[str, int] = {}
        self.redfish_url = ""
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> BmcProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        env = {**os.environ, USERS_ENV: json.dumps(self.users)}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "stackdrill.lab.bmc", "--backend", self.backend,
             "--hosts", ",".join(self.hosts)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert self._process.stdout is not None
        ready = _read_line(self._process.stdout, START_TIMEOUT)
        if not ready:
            self.stop()
            raise BmcError(f"virtual BMC did not start within {START_TIMEOUT:.0f}s")
        data = json.loads(ready)
        self.ipmi_ports = {name: int(port) for name, port in data["ipmi"].items()}
        self.redfish_url = str(data["redfish"])

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _read_line(stream: IO[str], timeout: float) -> str:
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return line[0].strip() if line else ""


def _backend(spec: str) -> PowerBackend:
    kind, _, where = spec.partition(":")
    if kind == "file":
        return FilePowerBackend(Path(where))
    if kind == "lab":
        return LabPowerBackend(where or None)
    raise SystemExit(f"stackdrill.lab.bmc: unknown backend {spec!r} (file:PATH or lab:ROOT)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stackdrill.lab.bmc",
                                     description="Serve virtual IPMI and Redfish BMCs until "
                                                 "stdin closes.")
    parser.add_argument("--backend", required=True, help="file:PATH or lab:ROOT")
    parser.add_argument("--hosts", required=True, help="comma-separated host names")
    args = parser.parse_args(argv)
    users = json.loads(os.environ.get(USERS_ENV) or "{}")
    if not users:
        raise SystemExit(f"stackdrill.lab.bmc: {USERS_ENV} names no user")
    bmc = VirtualBmc(_backend(args.backend), args.hosts.split(","), users)
    with bmc:
        assert bmc.ipmi is not None and bmc.redfish is not None
        print(json.dumps({"ipmi": bmc.ipmi.ports, "redfish": bmc.redfish.url}), flush=True)
        sys.stdin.read()  # until the parent closes it, or dies
    return 0


if __name__ == "__main__":
    sys.exit(main())
