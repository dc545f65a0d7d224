"""Writes a tenant's API makes while the cloud is degraded (one controller cut off, say), as
markers a later step checks were kept: Keystone projects named ``stackdrill-marker-<n>``,
created through the cloud's API (whose endpoints are the VIP in an HA cloud), each retried
until the API acknowledges it. A write that no retry gets acknowledged within the timeout fails
the procedure: the writes did not succeed. Markers a run before left are deleted first.

``check_markers`` reads them back from every Galera member's database after the fault ends.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Recovery, RecoveryFailed, RunbookStep, positive_int, wait
from stackdrill.core.params import Param, positive_float

PREFIX = "stackdrill-marker"
DOMAIN = "default"


def marker_names(count: int) -> list[str]:
    return [f"{PREFIX}-{number}" for number in range(1, count + 1)]


def listed_markers(conn: Any) -> dict[str, str]:
    """The marker projects the API lists now, name to id."""
    return {p.name: p.id for p in conn.identity.projects(domain_id=DOMAIN)
            if str(p.name).startswith(f"{PREFIX}-")}


def delete_markers(conn: Any) -> list[str]:
    """Delete every marker project; one line per deletion."""
    found = listed_markers(conn)
    for project_id in found.values():
        conn.identity.delete_project(project_id, ignore_missing=True)
    return [f"{name} deleted" for name in sorted(found)] or ["no marker left"]


class WriteMarkers(Recovery):
    name = "write_markers"
    description = ("create N marker projects through the cloud's API (the VIP in an HA cloud), "
                   "each retried until acknowledged; check_markers reads them back")
    params: ClassVar[Mapping[str, Param]] = {
        "count": Param("markers to write", positive_int, 10),
        "timeout": Param("seconds each write may take, retries included", positive_float,
                         120.0),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.attempts: dict[str, int] = {}

    def runbook(self) -> list[RunbookStep]:
        count = self.values["count"]
        return [
            RunbookStep("Delete the markers a run before left", self.clean,
                        (f"openstack project delete <each {PREFIX}-*>",)),
            RunbookStep(f"Write {count} markers through the API, each acknowledged",
                        self.write, (f"openstack project create --domain {DOMAIN} "
                                     f"{PREFIX}-<n>",)),
        ]

    def clean(self) -> None:
        conn = self.cloud()
        self.api_call(f"openstack project delete <each {PREFIX}-*>",
                      functools.partial(delete_markers, conn))

    def _create(self, conn: Any, name: str) -> bool:
        """One attempt; a refused or unanswered write is a :class:`RecoveryFailed`, which the
        wait retries. A write whose answer was lost but that the API lists counts."""
        self.attempts[name] = self.attempts.get(name, 0) + 1
        try:
            conn.identity.create_project(name=name, domain_id=DOMAIN,
                                         description="written by stackdrill during a drill")
        except Exception as exc:
            refused = f"{name}: {type(exc).__name__}: {exc}".splitlines()[0]
            try:
                listed = name in listed_markers(conn)
            except Exception:
                listed = False
            if not listed:
                raise RecoveryFailed(refused) from exc
        return True

    def write(self) -> None:
        conn = self.cloud()
        for name in marker_names(self.values["count"]):
            wait(functools.partial(self._create, conn, name), self.values["timeout"],
                 f"{name} acknowledged by the API")
        lines = [f"{name} acknowledged after {self.attempts[name]} attempt"
                 f"{'' if self.attempts[name] == 1 else 's'}"
                 for name in marker_names(self.values["count"])]
        self.api_call("markers written", lambda: lines)
