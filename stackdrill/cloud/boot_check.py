"""Can a host boot a server now, and if not, why: a server booted on that host with the
canaries' image and flavor, watched until Nova settles it (ACTIVE or ERROR), then deleted.

Nova's reason is what an operator reads with ``openstack server show`` and
``openstack server event show``: the server's fault (a message Nova cuts at 255 characters),
the last lines of the traceback behind it, which an administrator sees (for a full instances
file system, a ``cp`` whose standard error says ``No space left on device``), and those of each
build step that failed.

The server is named :data:`PREFIX`-<host>. One left behind by a run that died is deleted before
the next boot check and by the canary set-up, so it never becomes part of a verified state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.resource_check import delete_and_wait, remove_named, wait_settled

PREFIX = "stackdrill-boot-check"
SETTLED = ("ACTIVE", "ERROR")
TRACE_LINES = 3
"""The last lines of a failed step's traceback kept: the exception, and for a command that
failed, its standard error."""


@dataclass(frozen=True)
class BootOutcome:
    """How a boot on ``host`` ended, after ``seconds``: ACTIVE, or ERROR with Nova's reason."""

    host: str
    status: str
    reason: str
    seconds: float

    def render(self) -> str:
        said = f": {self.reason}" if self.reason else ""
        return f"a server booted on {self.host} went {self.status} in {self.seconds:.1f}s{said}"


def remove_leftovers(conn: Any) -> None:
    """Delete every boot-check server (a run that died may have left one)."""
    remove_named(conn.compute.servers(all_projects=True), PREFIX,
                 lambda server: _delete(conn, server))


def boot_on(access: CloudAccess, host: str, image_id: str, flavor_id: str,
            timeout: float) -> BootOutcome:
    """Boot a server on ``host``, wait up to ``timeout`` seconds for Nova to settle it, read
    why it failed if it did, and delete it."""
    conn = access.connection()
    remove_leftovers(conn)
    started = time.monotonic()
    server = conn.compute.create_server(
        name=f"{PREFIX}-{host}", image_id=image_id, flavor_id=flavor_id, networks="none",
        availability_zone=f"nova:{host}")
    try:
        settled = _settled(conn, server.id, timeout)
        seconds = time.monotonic() - started
        reason = _reason(conn, settled) if settled.status == "ERROR" else ""
        return BootOutcome(host, settled.status, reason, seconds)
    finally:
        _delete(conn, server)


def _settled(conn: Any, server_id: str, timeout: float) -> Any:
    def settled() -> Any:
        current = conn.compute.get_server(server_id)
        return current if current.status in SETTLED and not current.task_state else None

    return wait_settled(settled, timeout, "the boot-check server ACTIVE or ERROR")


def _reason(conn: Any, server: Any) -> str:
    """The server's fault message and each failed build step's error, in Nova's words."""
    fault = server.fault or {}
    parts = [str(fault.get("message") or "no fault recorded")]
    if fault.get("details"):  # an administrator sees the traceback behind the message
        parts.append(_tail(fault["details"]))
    for action in conn.compute.server_actions(server.id):
        detail = conn.compute.get_server_action(action.request_id, server.id)
        for event in detail.events or []:
            result, trace = _field(event, "result"), _field(event, "traceback")
            if result == "Error" and trace:
                parts.append(f"{_field(event, 'event')}: {_tail(trace)}")
    return "; ".join(dict.fromkeys(parts))


def _tail(trace: object) -> str:
    """The last :data:`TRACE_LINES` lines of a traceback, on one line."""
    lines = [line.strip() for line in str(trace).strip().splitlines() if line.strip()]
    return " ".join(lines[-TRACE_LINES:])


def _field(event: Any, name: str) -> Any:
    return event.get(name) if isinstance(event, dict) else getattr(event, name, None)


def _delete(conn: Any, server: Any) -> None:
    delete_and_wait(conn.compute, conn.compute.delete_server, server, "the boot-check server")
