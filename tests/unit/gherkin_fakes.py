"""Stand-ins for pytest-bdd's parsed steps and data tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Table:
    rows: list[list[str]]

    def raw(self) -> list[list[str]]:
        return self.rows


@dataclass
class Step:
    name: str
    line_number: int
    datatable: Any = None
