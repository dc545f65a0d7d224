"""Reading an inventory: the YAML file (duplicate keys refused), its check against the schema,
and the :class:`~stackdrill.inventory.model.Inventory` built from it. Every kind of problem is
an :class:`~stackdrill.inventory.model.InventoryError` of one line per problem."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any, cast

import yaml

from stackdrill.inventory.builder import Builder
from stackdrill.inventory.model import Inventory, InventoryError
from stackdrill.inventory.problems import fail, schema_problems, show

__all__ = ["load_inventory", "parse_inventory"]


def parse_inventory(data: object, path: Path) -> Inventory:
    """Validate already-loaded inventory ``data``; ``path`` names it in messages and anchors
    relative paths."""
    path = Path(path)
    if data is None:
        raise InventoryError(f"{path}: empty document, expected a mapping with 'hosts'")
    problems = schema_problems(data)
    if problems:
        raise fail(path, data, problems)
    return Builder(cast(Mapping[str, Any], data), path).build()


class _StrictLoader(yaml.SafeLoader):
    """Safe loader that rejects duplicate mapping keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Hashable] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {show(key)}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_message(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "cannot parse"
        if mark is not None:
            return f"line {mark.line + 1}, column {mark.column + 1}: invalid YAML: {problem}"
        return f"invalid YAML: {problem}"
    return "invalid YAML: " + " ".join(str(error).split())


def load_inventory(path: str | Path) -> Inventory:
    """Read, validate and resolve the inventory at ``path``.

    Raises :class:`InventoryError` for every kind of problem.
    """
    file = Path(path).expanduser()
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise InventoryError(f"{file}: file not found") from None
    except IsADirectoryError:
        raise InventoryError(f"{file}: is a directory, expected a YAML file") from None
    except PermissionError:
        raise InventoryError(f"{file}: cannot read: permission denied") from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InventoryError(f"{file}: cannot read: {reason}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InventoryError(
            f"{file}: not valid UTF-8 text (bad byte at offset {exc.start})"
        ) from None
    try:
        loader = _StrictLoader(text)  # the reader already rejects control characters
    except yaml.YAMLError as exc:
        raise InventoryError(f"{file}: {_yaml_message(exc)}") from None
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise InventoryError(f"{file}: {_yaml_message(exc)}") from None
    except RecursionError:
        raise InventoryError(f"{file}: invalid YAML: nested too deeply") from None
    finally:
        loader.dispose()
    return parse_inventory(data, file)
