"""The notification hooks: a real command given the run's record on stdin, a real webhook on
127.0.0.1 receiving it, and hooks that fail without changing the run's result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from stackdrill.reporting.notify import (
    NotifyError,
    check_url,
    notify_command,
    notify_url,
    run_message,
)
from tests.unit.drill_fakes import CONFTEST

RECORD = {"drill": "f.feature: it recovers", "result": "passed", "cloud": "lab",
          "time_to_recover": 3.2, "commands": ["[c1] $ systemctl start db\n(exit 0, 0.1s)\n"]}


class Webhook:
    """A webhook on 127.0.0.1: keeps each request's path, headers and JSON body."""

    def __init__(self, status: int = 200) -> None:
        self.received: list[tuple[str, dict[str, str], Any]] = []
        received, answer = self.received, status

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, dict(self.headers), json.loads(body)))
                self.send_response(answer)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    found = Webhook()
    yield found
    found.close()


def test_the_run_record() -> None:
    message = run_message([RECORD, {**RECORD, "result": "failed"}], status=1, cloud="lab",
                          started=0.0, ended=90.5)
    assert message["text"] == "stackdrill run on lab: failed; 2 drill(s): 1 failed, 1 passed"
    assert (message["outcome"], message["exit_status"]) == ("failed", 1)
    assert (message["started"], message["ended"]) == ("1970-01-01T00:00:00.000Z",
                                                      "1970-01-01T00:01:30.500Z")
    assert message["results"] == {"passed": 1, "failed": 1}
    assert message["drills"][0] == {k: v for k, v in RECORD.items() if k != "commands"}
    stopped = run_message([], status=124, cloud=None, started=0, ended=1,
                          reason="stopped: the maximum duration 2h is up")
    assert stopped["text"] == ("stackdrill run on an unnamed cloud: stopped at max duration "
                               "(stopped: the maximum duration 2h is up); 0 drill(s)")


def test_a_command_gets_the_record_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "got.json"
    script = f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"
    payload = json.dumps({"text": "hello"}).encode()
    assert notify_command(f"{sys.executable} -c {json.dumps(script)}", payload) is None
    assert json.loads(out.read_text()) == {"text": "hello"}


def test_a_failing_command_is_reported_in_one_line() -> None:
    problem = notify_command(f"{sys.executable} -c 'import sys; sys.exit(\"no route\")'", b"{}")
    assert problem == f"command {sys.executable} exited 1: no route"
    assert notify_command("/nonexistent/notifier --token abc", b"{}") == \
        "command /nonexistent/notifier: cannot run: No such file or directory"
    slow = notify_command(f"{sys.executable} -c 'import sys; sys.stdin.read(); "
                          f"import select; select.select([], [], [], 30)'", b"{}", timeout=0.5)
    assert slow == f"command {sys.executable}: still running after 0.5 s, stopped"


def test_a_webhook_receives_the_record(webhook: Webhook) -> None:
    assert notify_url(f"{webhook.url}/hooks/T0K3N", b'{"text": "hi"}') is None
    path, headers, body = webhook.received[0]
    assert (path, body) == ("/hooks/T0K3N", {"text": "hi"})
    assert headers["Content-Type"] == "application/json"


def test_a_failing_webhook_is_reported_without_its_path() -> None:
    failing = Webhook(status=500)
    try:
        problem = notify_url(f"{failing.url}/hooks/T0K3N?key=s3cr3t", b"{}")
    finally:
        failing.close()
    assert problem == f"POST to {failing.url} answered HTTP 500 Internal Server Error"
    closed = notify_url(f"{failing.url}/hooks/T0K3N", b"{}", timeout=5)
    assert closed is not None and closed.startswith(f"POST to {failing.url} failed: ")
    assert "T0K3N" not in closed


@pytest.mark.parametrize("url", ["ftp://example.org/x", "file:///etc/passwd", "hooks.local"])
def test_only_http_urls(url: str) -> None:
    with pytest.raises(NotifyError, match="expected an http:// or https:// URL"):
        check_url(url)


# -- at the end of a real run ---------------------------------------------------------------------

TESTS = '''
import pytest


def test_recovers(drill):
    drill.result.time_to_recover = 2.5
    drill.result.budget = 60.0


def test_fails(drill):
    pytest.fail("not back within 60s; the DSN password s3cr3t-pw", pytrace=False)
'''


def run_drills(tmp_path: Path, *hooks: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_drills.py").write_text(TESTS)
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path), "-c", "/dev/null", "--rootdir",
         str(tmp_path), "-p", "no:cacheprovider", "--history", str(tmp_path / "h.jsonl"),
         *hooks], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")})


def test_a_run_notifies_both_hooks_with_its_records(tmp_path: Path, webhook: Webhook) -> None:
    out = tmp_path / "record.json"
    script = f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"
    result = run_drills(tmp_path, "--notify", f"{sys.executable} -c {json.dumps(script)}",
                        "--notify-url", f"{webhook.url}/hook")
    assert result.returncode == 1, result.stdout + result.stderr
    sent = json.loads(out.read_text())
    assert webhook.received[0][2] == sent
    assert sent["cloud"] == "testcloud"
    assert (sent["outcome"], sent["results"]) == ("failed", {"passed": 1, "failed": 1})
    assert [d["result"] for d in sent["drills"]] == ["passed", "failed"]
    assert sent["drills"][0]["time_to_recover"] == 2.5
    assert "s3cr3t-pw" not in out.read_text()
    assert "***" in sent["drills"][1]["reason"]


def test_failing_hooks_do_not_change_the_result(tmp_path: Path) -> None:
    failing = Webhook(status=503)
    try:
        result = run_drills(tmp_path, "--notify", "/nonexistent/notify", "--notify-url",
                            f"{failing.url}/hook/T0K3N", "-k", "recovers")
    finally:
        failing.close()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if "notify" in line]
    assert lines == [
        "stackdrill: notify: command /nonexistent/notify: cannot run: No such file or directory "
        "(the run's result is unchanged)",
        f"stackdrill: notify: POST to {failing.url} answered HTTP 503 Service Unavailable "
        f"(the run's result is unchanged)"]


def test_a_bad_webhook_url_is_refused_before_the_run(tmp_path: Path) -> None:
    result = run_drills(tmp_path, "--notify-url", "smtp://ops")
    assert result.returncode == 4
    assert "--notify-url: expected an http:// or https:// URL" in result.stderr
    assert not (tmp_path / "h.jsonl").exists()


def test_the_webhook_may_come_from_the_environment(tmp_path: Path, webhook: Webhook,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKDRILL_NOTIFY_URL", f"{webhook.url}/hooks/T0K3N")
    result = run_drills(tmp_path, "-k", "recovers")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [(path, body["outcome"]) for path, _, body in webhook.received] == [
        ("/hooks/T0K3N", "passed")]
