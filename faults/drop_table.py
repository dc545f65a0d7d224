"""Drop a table from a service's database, as a mistaken migration or a fat finger would. A dump
of the table is written on the database host before the drop, so undo can load it back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Fault, FaultError
from stackdrill.core.params import Param
from stackdrill.hostkit.databases import identifier

UNDO_ROOT = "/var/lib/stackdrill/dropped"


def _drop(table: str) -> str:
    # Other tables' foreign keys would refuse the drop; a mistaken drop does not ask them.
    return f"SET foreign_key_checks = 0; DROP TABLE {table}"


class DropTable(Fault):
    name = "drop_table"
    description = ("drop a table of a service's database (a dump is kept on the database host "
                   f"under {UNDO_ROOT}; undo loads it back if the table is still missing)")
    params: ClassVar[Mapping[str, Param]] = {
        "database": Param("the database, e.g. glance", identifier),
        "table": Param("the table to drop, e.g. images", identifier),
    }

    @property
    def _names(self) -> tuple[str, str]:
        return str(self.values["database"]), str(self.values["table"])

    def _dump(self) -> str:
        database, table = self._names
        return f"{UNDO_ROOT}/{database}.{table}.sql"

    def plan(self) -> list[str]:
        database, table = self._names
        return [f"mysqldump --opt {database} {table} > {self._dump()}",
                f"mysql {database} -e '{_drop(table)}'"]

    def _exists(self) -> bool:
        database, table = self._names
        result = self.target.run(
            # Both names passed identifier(): letters, digits and _ only.
            f"mysql --batch --skip-column-names -e \"SELECT COUNT(*) FROM "  # noqa: S608
            f"information_schema.tables WHERE table_schema = '{database}' AND "
            f"table_name = '{table}'\"", record=False)
        if not result.ok:
            raise FaultError(f"{self.target.name}: cannot query the database: "
                             f"{(result.stderr or result.stdout).strip()[:200]}")
        return result.stdout.strip() == "1"

    def prepare(self) -> dict[str, Any]:
        database, table = self._names
        if not self._exists():
            raise FaultError(f"{self.target.name}: there is no table {database}.{table}")
        return {"database": database, "table": table, "dump": self._dump()}

    def inject(self, facts: Mapping[str, Any]) -> None:
        database, table, dump = facts["database"], facts["table"], facts["dump"]
        self.target.run(f"mkdir -p {UNDO_ROOT} && mysqldump --opt {database} {table} "
                        f"> {dump}.tmp && mv {dump}.tmp {dump}", check=True, timeout=300)
        self.target.run(f"mysql {database} -e '{_drop(table)}'", check=True)

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """The table is gone from the database's ``information_schema.tables``."""
        if self._exists():
            return None
        return f"{facts['database']}.{facts['table']} is gone on {self.target.name}"

    def undo(self, facts: Mapping[str, Any]) -> None:
        """Load the dump back if the table is still missing, then delete the dump."""
        dump = facts["dump"]
        if not self._exists():
            self.target.run(f"test -s {dump} && mysql {facts['database']} < {dump}",
                            check=True, timeout=300)
        self.target.run(f"rm -f {dump}", check=True)
