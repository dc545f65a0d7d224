"""Notification when a run ends: a command given the run's JSON record on its standard input
(``--notify``), and a webhook that receives it as a JSON POST (``--notify-url``).

The record (:func:`run_message`) names the cloud, when the run started and ended, how it ended,
and holds each drill's history record (without the commands' output, which the history and the
report keep). It is built from the history records, which the drill's redactor has already
cleaned, and never contains the hook's own command line or URL. A hook that fails is reported on
one line; it never changes the run's result or exit status.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import pytest

from stackdrill.core.errors import BadInput
from stackdrill.engine.schedule import EXIT_MAX_DURATION, stopped_reason
from stackdrill.reporting.history import RUN_RECORDS, iso

TIMEOUT = 30.0
OUTCOMES = {0: "passed", 1: "failed", 2: "interrupted",
            EXIT_MAX_DURATION: "stopped at max duration"}
_STARTED = pytest.StashKey[float]()
SESSION_CLOUD = pytest.StashKey[str | None]()
"""The inventory's cloud name (None when it names none), set once the session has loaded the
inventory; a notification without it takes the cloud of the run's records."""


class NotifyError(BadInput, ValueError):
    """A hook that cannot be used as given; one line."""


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotifyError("--notify-url: expected an http:// or https:// URL")
    return url


def where(url: str) -> str:
    """The URL without its path, query or credentials: a webhook's path is often its secret."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def run_message(records: Sequence[Mapping[str, Any]], *, status: int, cloud: str | None,
                started: float, ended: float, reason: str | None = None) -> dict[str, Any]:
    """The run's JSON record: how it ended, and each drill's record."""
    outcome = OUTCOMES.get(status, "error")
    counts: dict[str, int] = {}
    for record in records:
        counts[str(record.get("result"))] = counts.get(str(record.get("result")), 0) + 1
    tally = ", ".join(f"{count} {result}" for result, count in sorted(counts.items()))
    text = (f"stackdrill run on {cloud or 'an unnamed cloud'}: {outcome}"
            f"{f' ({reason})' if reason else ''}; {len(records)} drill(s)"
            f"{f': {tally}' if tally else ''}")
    return {"schema": 1, "kind": "stackdrill-run", "text": text, "cloud": cloud,
            "started": iso(started), "ended": iso(ended), "outcome": outcome,
            "exit_status": status, "reason": reason, "results": counts,
            "drills": [{k: v for k, v in record.items() if k != "commands"}
                       for record in records]}


def _first_line(text: str, limit: int = 200) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line[:limit]


def notify_command(command: str, payload: bytes, timeout: float = TIMEOUT) -> str | None:
    """Run ``command`` (split as a shell would, but run without one) with ``payload`` on its
    standard input; return what went wrong, or None."""
    argv = shlex.split(command)
    name = argv[0] if argv else "''"
    try:
        result = subprocess.run(argv, input=payload, capture_output=True, timeout=timeout,
                                check=False)
    except (OSError, IndexError) as exc:
        return f"command {name}: cannot run: {getattr(exc, 'strerror', None) or exc}"
    except subprocess.TimeoutExpired:
        return f"command {name}: still running after {timeout:g} s, stopped"
    if result.returncode != 0:
        detail = _first_line(result.stderr.decode(errors="replace"))
        return f"command {name} exited {result.returncode}" + (f": {detail}" if detail else "")
    return None


def notify_url(url: str, payload: bytes, timeout: float = TIMEOUT) -> str | None:
    """POST ``payload`` as JSON to ``url``; return what went wrong (without the URL's path), or
    None."""
    request = urllib.request.Request(check_url(url), data=payload, method="POST",  # noqa: S310
                                     headers={"Content-Type": "application/json",
                                              "User-Agent": "stackdrill"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as exc:
        return f"POST to {where(url)} answered HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"POST to {where(url)} failed: {reason}"
    return None


# -- as a pytest plugin -------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stackdrill")
    group.addoption("--notify", default=None, metavar="COMMAND",
                    help="when the run ends, run COMMAND with the run's JSON record on its "
                         "standard input (no shell: use sh -c '...' for one)")
    group.addoption("--notify-url", default=os.environ.get("STACKDRILL_NOTIFY_URL"),
                    metavar="URL", help="when the run ends, POST the run's JSON record to this "
                                        "webhook (env STACKDRILL_NOTIFY_URL, which keeps a "
                                        "webhook's token out of the process list)")


def pytest_configure(config: pytest.Config) -> None:
    url = config.getoption("notify_url", None)
    if url:
        try:
            check_url(str(url))
        except NotifyError as exc:
            raise pytest.UsageError(str(exc)) from None
    config.stash[_STARTED] = time.time()


def _cloud(config: pytest.Config, records: Sequence[Mapping[str, Any]]) -> str | None:
    if SESSION_CLOUD in config.stash:
        cloud = config.stash[SESSION_CLOUD]
        return str(cloud) if cloud else None
    return next((str(r["cloud"]) for r in records if r.get("cloud")), None)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    command, url = config.getoption("notify", None), config.getoption("notify_url", None)
    if not (command or url) or hasattr(config, "workerinput") \
            or config.getoption("stackdrill_plan", False):
        return
    records = config.stash.get(RUN_RECORDS, [])
    reason = stopped_reason(config)
    status = EXIT_MAX_DURATION if reason else int(session.exitstatus)
    message = run_message(records, status=status, cloud=_cloud(config, records),
                          started=config.stash.get(_STARTED, time.time()), ended=time.time(),
                          reason=reason)
    payload = json.dumps(message, ensure_ascii=False).encode()
    problems = [f"notify: {problem}" for problem in (
        notify_command(str(command), payload) if command else None,
        notify_url(str(url), payload) if url else None) if problem]
    for problem in problems:
        print(f"stackdrill: {problem} (the run's result is unchanged)", file=sys.stderr,
              flush=True)


__all__ = ["SESSION_CLOUD", "NotifyError", "check_url", "notify_command", "notify_url",
           "run_message", "where"]
