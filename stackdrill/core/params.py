"""Typed parameters for faults and recoveries, parsed from a feature's data table."""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stackdrill.core.errors import BadInput, InvalidValue


class ParamError(BadInput, ValueError):
    """A parameter was missing, unknown or malformed; one line naming the fault or recovery."""


class _Required:
    def __repr__(self) -> str:
        return "<required>"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Param:
    help: str
    parse: Callable[[str], Any] = str
    default: Any = REQUIRED


def signal_name(text: str) -> str:
    name = text.strip().upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name not in signal.Signals.__members__:
        raise InvalidValue(f"not a signal name: {text!r}")
    return name


def word_list(text: str) -> list[str]:
    items = [part.strip() for part in text.replace(";", ",").split(",")]
    if not all(items):
        raise InvalidValue(f"expected a comma-separated list, got {text!r}")
    return items


def boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in ("yes", "true", "on", "1"):
        return True
    if value in ("no", "false", "off", "0"):
        return False
    raise InvalidValue(f"expected yes or no, got {text!r}")


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise InvalidValue(f"expected a positive number, got {text!r}")
    return value


def parse_params(owner: str, specs: Mapping[str, Param], raw: Mapping[str, str]) -> dict[str, Any]:
    unknown = sorted(set(raw) - set(specs))
    if unknown:
        allowed = ", ".join(sorted(specs)) or "none"
        raise ParamError(f"{owner}: unknown parameter {unknown[0]!r} (allowed: {allowed})")
    values: dict[str, Any] = {}
    for key, spec in specs.items():
        if key not in raw:
            if spec.default is REQUIRED:
                raise ParamError(f"{owner}: missing required parameter {key!r} ({spec.help})")
            values[key] = spec.default
            continue
        try:
            values[key] = spec.parse(raw[key])
        except ValueError as exc:
            raise ParamError(f"{owner}: parameter {key!r}: {exc}") from None
    return values


def table_params(rows: list[list[str]]) -> dict[str, str]:
    """A two-column Gherkin table (| key | value |) as a mapping."""
    params: dict[str, str] = {}
    for row in rows:
        if len(row) != 2:
            raise ParamError(f"expected two columns (| name | value |), got {len(row)}: {row}")
        params[row[0].strip()] = row[1].strip()
    return params


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise InvalidValue(f"expected a positive whole number, got {text!r}")
    return value
