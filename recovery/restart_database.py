"""Database outage: start the database, check its integrity, and that every service's schema
answers, before the cloud may be called healthy."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import ClassVar

from stackdrill.api import Recovery, RecoveryFailed, RunbookStep
from stackdrill.core.errors import InvalidValue
from stackdrill.core.params import Param, positive_float, word_list

INTEGRITY = "mysqlcheck --all-databases --check --silent"


def identifier_list(text: str) -> list[str]:
    names = word_list(text)
    bad = [name for name in names if not re.fullmatch(r"[A-Za-z0-9_]+", name)]
    if bad:
        raise InvalidValue(f"not a database name: {bad[0]!r}")
    return names


class RestartDatabase(Recovery):
    name = "restart_database"
    description = "start MariaDB/MySQL, mysqlcheck every database, query each service's schema"
    params: ClassVar[Mapping[str, Param]] = {
        "timeout": Param("seconds for the database to start", positive_float, 120.0),
        "schemas": Param("databases whose tables must answer", identifier_list,
                         ["keystone", "nova_api", "nova", "nova_cell0", "placement", "glance",
                          "cinder", "neutron"]),
    }

    def runbook(self) -> list[RunbookStep]:
        mariadb = self.target.service("mariadb")
        return [
            RunbookStep(f"Start {mariadb.label} on {self.target.name}",
                        functools.partial(mariadb.start, self.values["timeout"]),
                        (mariadb.command("start"),)),
            RunbookStep("Check database integrity (mysqlcheck --all-databases)",
                        self.integrity, (INTEGRITY,)),
            RunbookStep("Check each service's schema answers", self.schemas),
        ]

    def integrity(self) -> None:
        result = self.target.run(INTEGRITY, timeout=600)
        problems = [line for line in (result.stdout + result.stderr).splitlines()
                    if line.strip() and "note" not in line.lower()]
        if not result.ok or problems:
            raise RecoveryFailed(f"mysqlcheck found problems: {problems[:3] or result.exit_status}")

    def schemas(self) -> None:
        # Schema names are checked to be plain identifiers when the parameters are parsed.
        sql = " ".join(f"SELECT '{db}', COUNT(*) FROM information_schema.tables "  # noqa: S608
                       f"WHERE table_schema = '{db}';" for db in self.values["schemas"])
        result = self.target.run(f'mysql --batch --skip-column-names -e "{sql}"', check=True)
        counts = dict(line.split("\t") for line in result.stdout.splitlines() if "\t" in line)
        empty = [db for db in self.values["schemas"] if counts.get(db, "0") == "0"]
        if empty:
            raise RecoveryFailed(f"no tables in {', '.join(empty)}")
