"""Typed parameters for faults and recoveries, parsed from a feature's data table.

A feature gives a fault or a recovery its parameters as a two-column table of strings::

    When the fault "kill_service" is injected on the compute host:
      | service | libvirtd |
      | signal  | SIGKILL  |

The class declares each one as a :class:`Param` (``params = {"signal": Param("the signal",
signal_name, "SIGKILL")}``), and its ``values`` hold them parsed. The parsers here are the
usual ones; any callable from ``str`` that raises :class:`ValueError` on bad text will do.
"""

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
"""The default of a parameter a feature must give."""


@dataclass(frozen=True)
class Param:
    """One parameter of a fault or a recovery.

    ``help`` says what it means (``stackdrill describe`` and docs/reference.md show it, and a
    missing parameter's message quotes it). ``parse`` turns the table's text into the value
    (``str`` by default; :func:`boolean`, :func:`positive_float`, :func:`word_list`,
    :func:`signal_name`, ... or any callable that raises :class:`ValueError` on bad text: its
    message becomes the refusal). ``default`` is the value when the table does not give it,
    used as it is, not parsed; without one the parameter is required. Parameters are checked
    when the features are collected, so a bad one refuses the run with one line before
    anything is touched.
    """

    help: str
    parse: Callable[[str], Any] = str
    default: Any = REQUIRED


def signal_name(text: str) -> str:
    """A signal's name as ``kill -s`` and systemd take it: ``kill``, ``SIGKILL`` or ``sigkill``
    give ``SIGKILL``."""
    name = text.strip().upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name not in signal.Signals.__members__:
        raise InvalidValue(f"not a signal name: {text!r}")
    return name


def word_list(text: str) -> list[str]:
    """A list written with commas (or semicolons): ``dbus, libvirtd`` gives ``["dbus",
    "libvirtd"]``; an empty item is refused."""
    items = [part.strip() for part in text.replace(";", ",").split(",")]
    if not all(items):
        raise InvalidValue(f"expected a comma-separated list, got {text!r}")
    return items


def boolean(text: str) -> bool:
    """``yes``, ``true``, ``on``, ``1`` or ``no``, ``false``, ``off``, ``0``, in any case."""
    value = text.strip().lower()
    if value in ("yes", "true", "on", "1"):
        return True
    if value in ("no", "false", "off", "0"):
        return False
    raise InvalidValue(f"expected yes or no, got {text!r}")


def positive_float(text: str) -> float:
    """A number above 0: seconds, a percentage."""
    value = float(text)
    if value <= 0:
        raise InvalidValue(f"expected a positive number, got {text!r}")
    return value


def parse_params(owner: str, specs: Mapping[str, Param], raw: Mapping[str, str]) -> dict[str, Any]:
    """Every parameter of ``specs`` parsed from ``raw``, defaults filled in; a
    :class:`ParamError` naming ``owner`` ("fault 'kill_service'") for an unknown, missing or
    malformed one."""
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
    """A whole number above 0: a count."""
    value = int(text)
    if value <= 0:
        raise InvalidValue(f"expected a positive whole number, got {text!r}")
    return value
