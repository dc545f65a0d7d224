"""Fakes for the alert steps: a source whose alerts a test sets, a clock, and an Alertmanager
served over HTTP on the loopback whose alerts follow the fake cloud's state file (an alert
fires while a service of it is stopped)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from stackdrill.cloud.alerts import AlertError
from stackdrill.cloud.alerts.alertmanager import Alert


def alert(name: str, starts_at: float, state: str = "active", severity: str = "critical",
          **labels: str) -> Alert:
    return Alert(name=name, fingerprint=f"{name}-{sorted(labels.items())}", state=state,
                 starts_at=starts_at,
                 labels={"alertname": name, "severity": severity, **labels})


class FakeClock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeSource:
    """Lists ``listed`` (a test changes it); ``failing`` makes every call fail."""

    def __init__(self) -> None:
        self.listed: list[Alert] = []
        self.failing = False
        self.calls = 0

    def alerts(self) -> list[Alert]:
        self.calls += 1
        if self.failing:
            raise AlertError("Alertmanager at http://am:9093 did not answer: refused")
        return list(self.listed)

    def describe(self) -> str:
        return "Alertmanager at http://am:9093"


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + \
        f".{int(moment % 1 * 1e9):09d}Z"


class _Handler(BaseHTTPRequestHandler):
    state: Path
    since: dict[str, float]
    silent: bool

    def do_GET(self) -> None:
        stopped = [] if self.silent else sorted(
            key for key, value in json.loads(self.state.read_text()).items()
            if value == "stopped")
        for key in stopped:
            self.since.setdefault(key, time.time())
        for key in list(self.since):
            if key not in stopped:
                del self.since[key]
        body: list[dict[str, Any]] = [{
            "labels": {"alertname": "ServiceStopped", "severity": "critical",
                       "service": key},
            "fingerprint": key, "startsAt": _iso(self.since[key]),
            "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
        } for key in stopped]
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def fake_alertmanager(state: Path, silent: bool = False) -> Iterator[str]:
    """An Alertmanager on the loopback listing ``ServiceStopped`` for each service the fake
    cloud's ``state`` file says is stopped, firing since it was first seen stopped (``silent``:
    none, as if its rule were disabled); its URL."""
    handler = type("Handler", (_Handler,), {"state": state, "since": {}, "silent": silent})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
