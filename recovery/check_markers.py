"""After a fault ends: nothing ``write_markers`` got acknowledged is lost. Every marker is read
in the Keystone database of every Galera member (each member's own copy, through its local
``mysql`` client: a member that rejoined must have caught up), and through the API; then the
markers are deleted. A member still catching up is waited for, up to the timeout."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import ClassVar

from stackdrill.api import Recovery, RecoveryFailed, RunbookStep, Target, positive_int, wait
from stackdrill.core.params import Param, positive_float
from stackdrill.hostkit.databases import identifier

from .write_markers import PREFIX, delete_markers, listed_markers, marker_names

STATUS_TIMEOUT = 30.0


def markers_query(database: str) -> str:
    """The ``mysql`` command listing the marker projects in ``database`` (a checked name)."""
    sql = f"SELECT name FROM project WHERE name LIKE '{PREFIX}-%'"  # noqa: S608 (constants)
    return f'mysql --batch --skip-column-names {identifier(database)} -e "{sql}"'


class CheckMarkers(Recovery):
    name = "check_markers"
    description = ("every marker write_markers got acknowledged is in the Keystone database "
                   "of every Galera member and reads back through the API; then deleted")
    params: ClassVar[Mapping[str, Param]] = {
        "count": Param("markers written (as write_markers was given)", positive_int, 10),
        "cluster": Param("the inventory's Galera cluster (without one: this host's database)",
                         str, "galera"),
        "database": Param("Keystone's database", identifier, "keystone"),
        "timeout": Param("seconds for every member to hold every marker", positive_float,
                         300.0),
    }

    def runbook(self) -> list[RunbookStep]:
        query = markers_query(self.values["database"])
        return [
            RunbookStep("Each marker is in the database of every Galera member",
                        self.in_every_member, (query,)),
            RunbookStep("Each marker reads back through the API", self.through_api,
                        (f"openstack project list --domain default | grep {PREFIX}-",)),
            RunbookStep("Delete the markers", self.delete,
                        (f"openstack project delete <each {PREFIX}-*>",)),
        ]

    def _members(self) -> list[Target]:
        names = self.target.inventory.clusters.get(self.values["cluster"])
        return [self.target.peer(name) for name in sorted(names)] if names else [self.target]

    def _missing(self, member: Target) -> list[str]:
        command = member.service("mariadb").inside(markers_query(self.values["database"]))
        result = member.run(command, record=False, timeout=STATUS_TIMEOUT)
        if not result.ok:
            raise RecoveryFailed(f"{member.name}: the markers cannot be read: "
                                 f"{(result.stderr or result.stdout).strip()[:200]}")
        found = set(result.stdout.split())
        return [name for name in marker_names(self.values["count"]) if name not in found]

    def _all_missing(self) -> dict[str, list[str]]:
        return {m.name: missing for m in self._members() if (missing := self._missing(m))}

    def in_every_member(self) -> None:
        count = self.values["count"]
        try:
            wait(lambda: not self._all_missing(), self.values["timeout"],
                 f"the {count} markers in every member's database")
        except RecoveryFailed as exc:
            lost = "; ".join(f"{host} lacks {', '.join(names)}"
                             for host, names in self._all_missing().items())
            raise RecoveryFailed(f"{exc}: {lost or 'now all present'}") from exc
        lines = [f"{member.name}: all {count} markers present" for member in self._members()]
        self.api_call("markers in each member's database", lambda: lines)

    def through_api(self) -> None:
        conn = self.cloud()
        names = self.api_call(f"openstack project list --domain default | grep {PREFIX}-",
                              lambda: sorted(listed_markers(conn)))
        missing = [name for name in marker_names(self.values["count"]) if name not in names]
        if missing:
            raise RecoveryFailed(f"the API does not list {', '.join(missing)}: written, "
                                 f"acknowledged and lost")

    def delete(self) -> None:
        conn = self.cloud()
        self.api_call(f"openstack project delete <each {PREFIX}-*>",
                      functools.partial(delete_markers, conn))
