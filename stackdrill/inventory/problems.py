"""What is wrong with an inventory, as lines an operator can act on.

Each problem is a key path and a message; :func:`fail` turns them into one
:class:`~stackdrill.inventory.model.InventoryError` whose lines read
``<file>: <key path>: <what was expected>``, in the order of the document. The schema's
errors are worded here (:func:`describe`), one small function per kind of rule.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple, cast

from jsonschema.exceptions import ValidationError

from stackdrill.inventory.model import InventoryError
from stackdrill.inventory.schema import VALIDATOR

__all__ = ["KeyPath", "Problem", "describe", "fail", "problem", "schema_problems", "show"]

KeyPath = tuple[Hashable, ...]
RequiredSeen = Counter[tuple[object, ...]]
"""How many ``required`` errors were already worded for one object and one rule: the schema
reports one error per missing key, each naming the next missing key."""

_TYPE_NAMES = {"object": "mapping", "array": "list"}
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_REPR_LIMIT = 80
_WORDED_BY_SCHEMA = frozenset(
    {"type", "enum", "minimum", "maximum", "exclusiveMinimum", "minLength", "pattern"}
)
"""The rules whose error uses the sub-schema's ``x-expected`` wording, when it has one."""


class Problem(NamedTuple):
    """One problem: where it is, what is wrong, and where it sorts in the document."""

    path: KeyPath
    message: str
    anchor: KeyPath


def problem(path: KeyPath, message: str, anchor: KeyPath | None = None) -> Problem:
    return Problem(path, message, path if anchor is None else anchor)


def _format_path(path: Iterable[Hashable]) -> str:
    out = ""
    for part in path:
        if isinstance(part, str) and _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        elif isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += f"[{part!r}]"
    return out


def show(value: object) -> str:
    """``repr(value)``, cut to a length that fits on one line."""
    text = repr(value)
    if len(text) > _REPR_LIMIT:
        text = text[: _REPR_LIMIT - 3] + "..."
    return text


def _line(file: Path, path: KeyPath, message: str) -> str:
    where = _format_path(path)
    return f"{file}: {where}: {message}" if where else f"{file}: {message}"


def _position(data: object, path: KeyPath) -> tuple[int, ...]:
    """Document-order sort key for ``path`` inside ``data``."""
    node: object = data
    position: list[int] = []
    for part in path:
        if isinstance(node, dict):
            keys = list(node)
            index = keys.index(part) if part in node else len(keys)
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            index = part
            node = node[part]
        else:
            index = 0
            node = None
        position.append(index)
    return tuple(position)


def fail(file: Path, data: object, problems: list[Problem]) -> InventoryError:
    """The error to raise for ``problems`` found in ``data`` read from ``file``."""
    ordered = sorted(problems, key=lambda found: _position(data, found.anchor))
    lines = [_line(file, found.path, found.message) for found in ordered]
    return InventoryError(list(dict.fromkeys(lines)))


def schema_problems(data: object) -> list[Problem]:
    """Every way ``data`` does not fit :data:`~stackdrill.inventory.schema.INVENTORY_SCHEMA`."""
    required_seen: RequiredSeen = Counter()
    problems: list[Problem] = []
    for error in VALIDATOR.iter_errors(data):
        problems.extend(describe(error, required_seen))
    return problems


# -- wording the schema's errors ----------------------------------------------------------------
def describe(error: ValidationError, required_seen: RequiredSeen) -> list[Problem]:
    """The problems one schema error stands for (a rule on a mapping may find several)."""
    path: KeyPath = tuple(error.absolute_path)
    if "propertyNames" in error.absolute_schema_path:
        return [_bad_key(error, path)]
    mapping_rule = _MAPPING_RULES.get(str(error.validator))
    if mapping_rule is not None and isinstance(error.instance, dict):
        return mapping_rule(error, path, required_seen)
    return [problem(path, _message(error))]


def _got(error: ValidationError) -> str:
    return f"got {show(error.instance)}"


def _bad_key(error: ValidationError, path: KeyPath) -> Problem:
    wanted = _expected_by_schema(error) or (
        "non-empty key" if error.validator == "minLength" else "string as key")
    return problem(path, f"expected {wanted}, {_got(error)}", (*path, error.instance))


def _message(error: ValidationError) -> str:
    """A value that breaks a rule: what was expected and what was found."""
    expected = _expected_by_schema(error)
    if expected is None:
        expected = _expected_by_rule(error)
    if expected is None:
        return " ".join(error.message.split())
    return f"expected {expected}, {_got(error)}"


def _schema_of(error: ValidationError) -> Mapping[str, Any]:
    return error.schema if isinstance(error.schema, Mapping) else {}


def _expected_by_schema(error: ValidationError) -> str | None:
    expected = _schema_of(error).get("x-expected")
    if isinstance(expected, str) and error.validator in _WORDED_BY_SCHEMA:
        return expected
    return None


def _expected_by_rule(error: ValidationError) -> str | None:
    validator, value = error.validator, cast(Any, error.validator_value)
    if validator == "type":
        return _type_names(value)
    if validator == "enum":
        return "one of " + ", ".join(str(choice) for choice in value)
    if validator in _NON_EMPTY and value == 1:
        return _NON_EMPTY[str(validator)]
    if validator in _BOUNDS:
        return _BOUNDS[str(validator)].format(value)
    return None


_NON_EMPTY = {"minItems": "non-empty list", "minProperties": "non-empty mapping",
              "minLength": "non-empty string"}
_BOUNDS = {"uniqueItems": "list without duplicates", "minimum": "number >= {}",
           "maximum": "number <= {}", "exclusiveMinimum": "number > {}",
           "pattern": "string matching {}"}


def _type_names(types: object) -> str:
    names = [types] if isinstance(types, str) else list(cast(Iterable[str], types))
    return " or ".join(_TYPE_NAMES.get(name, name) for name in names)


def _mapping(error: ValidationError) -> dict[Hashable, Any]:
    """The mapping a rule about keys found at fault (checked by :func:`describe`)."""
    return cast(dict[Hashable, Any], error.instance)


def _unknown_keys(error: ValidationError, path: KeyPath, _: RequiredSeen) -> list[Problem]:
    allowed_keys = cast(Mapping[str, Any], _schema_of(error).get("properties", {}))
    allowed = ", ".join(sorted(allowed_keys))
    instance = _mapping(error)
    return [problem(path, f"unknown key {key!r} (allowed: {allowed})", (*path, key))
            for key in instance if key not in allowed_keys]


def _missing_key(error: ValidationError, path: KeyPath,
                 required_seen: RequiredSeen) -> list[Problem]:
    seen_key = (path, tuple(error.absolute_schema_path))
    required: list[str] = cast(Any, error.validator_value)
    missing = [key for key in required if key not in _mapping(error)]
    index = required_seen[seen_key]
    required_seen[seen_key] += 1
    if index < len(missing):
        return [problem(path, f"missing required key {missing[index]!r}")]
    return [problem(path, error.message)]


def _lonely_keys(error: ValidationError, path: KeyPath, _: RequiredSeen) -> list[Problem]:
    dependencies: Mapping[str, list[str]] = cast(Any, error.validator_value)
    instance = _mapping(error)
    return [problem(path, f"key {key!r} is only allowed together with {need!r}")
            for key, needs in dependencies.items() if key in instance
            for need in needs if need not in instance]


def _one_of_keys(error: ValidationError, path: KeyPath, _: RequiredSeen) -> list[Problem]:
    branches: list[object] = cast(Any, error.validator_value)
    options = [key for branch in branches if isinstance(branch, Mapping)
               for key in branch.get("required", ())]
    instance = _mapping(error)
    present = [key for key in options if key in instance]
    if present:
        both = " and ".join(repr(key) for key in present)
        return [problem(path, f"keys {both} cannot be used together")]
    listed = " or ".join(repr(key) for key in options)
    return [problem(path, f"missing required key: one of {listed}")]


_MAPPING_RULES: dict[str, Callable[[ValidationError, KeyPath, RequiredSeen], list[Problem]]] = {
    "additionalProperties": _unknown_keys,
    "required": _missing_key,
    "dependentRequired": _lonely_keys,
    "oneOf": _one_of_keys,
}
"""The rules about a mapping's keys, each worded by the keys it names."""
