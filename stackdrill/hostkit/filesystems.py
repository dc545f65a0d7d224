"""How full a filesystem is, as ``df`` reckons it: the filesystem behind a path, its size, use
and free space in bytes, and its use in percent (used over used plus available, root's reserve
left out, as ``df``'s ``Use%`` column). Commands and parsing only; nothing here talks to a host.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from stackdrill.core.errors import InvalidValue

#: Seconds ``df`` is given per path: a hung network filesystem must not hold a host's batch.
DF_TIMEOUT = 10
ABSENT = "absent"


@dataclass(frozen=True)
class Usage:
    """One filesystem as ``df -B1 --output=size,used,avail,target`` shows it, in bytes."""

    size: int
    used: int
    available: int
    mount: str

    @property
    def percent(self) -> float:
        """Use as ``df`` reckons it: used over used plus available (root's reserve left out)."""
        total = self.used + self.available
        return 100.0 * self.used / total if total else 0.0


def absolute_path(text: str) -> str:
    value = text.strip()
    if not value.startswith("/") or "\n" in value:
        raise InvalidValue(f"expected an absolute path, got {text!r}")
    return value


def df_command(path: str) -> str:
    return f"df -B1 --output=size,used,avail,target {shlex.quote(path)}"


def parse_df(text: str) -> Usage | None:
    for line in text.splitlines():
        fields = line.split(maxsplit=3)
        if len(fields) == 4 and all(re.fullmatch(r"\d+", f) for f in fields[:3]):
            return Usage(int(fields[0]), int(fields[1]), int(fields[2]), fields[3].strip())
    return None


def usage_command(paths: Sequence[str]) -> str:
    """One command reading the filesystem behind each of ``paths`` that exists: a line
    ``== <path>`` before ``df``'s answer for it, or ``== <path> absent``."""
    parts = []
    for path in paths:
        quoted = shlex.quote(path)
        parts.append(f"if [ -e {quoted} ]; then echo {shlex.quote(f'== {path}')}; "
                     f"timeout {DF_TIMEOUT} {df_command(path)} | tail -n +2; "
                     f"else echo {shlex.quote(f'== {path} {ABSENT}')}; fi")
    return "; ".join(parts) or "true"


def parse_usages(text: str) -> dict[str, Usage | None]:
    """``usage_command`` output -> {path: its filesystem's usage, or None when the path is
    absent or df gave no answer}."""
    found: dict[str, Usage | None] = {}
    current: str | None = None
    for line in text.splitlines():
        if line.startswith("== "):
            name = line[3:].strip()
            absent = name.endswith(f" {ABSENT}")
            current = None if absent else name
            found[name.removesuffix(f" {ABSENT}")] = None
        elif current is not None and found.get(current) is None:
            found[current] = parse_df(line)
    return found
