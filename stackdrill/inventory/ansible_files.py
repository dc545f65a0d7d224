"""Ansible inventories as files: the INI form (``[group]``, ``[group:children]``,
``[group:vars]``, host ranges such as ``compute[01:03]``), the YAML form (``all: {hosts, vars,
children}``) and the JSON form a dynamic inventory prints (``ansible-inventory --list``,
OpenStack-Ansible's ``openstack_inventory.json``: groups with list-valued ``hosts`` and
``children``, host variables under ``_meta.hostvars``). Each is read into one
:class:`AnsibleInventory` of groups, their hosts with their own variables, their children and
their variables."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from stackdrill.core.errors import InvalidValue
from stackdrill.inventory.model import InventoryError

__all__ = [
    "AnsibleInventory",
    "Group",
    "InventoryImportError",
    "expand_hosts",
    "load_json",
    "load_yaml",
    "parse_ini",
    "parse_json",
    "parse_yaml",
    "read_ansible_inventory",
    "read_text",
]

_RANGE = re.compile(r"\[([0-9a-zA-Z]+):([0-9a-zA-Z]+)(?::(\d+))?\]")


class InventoryImportError(InventoryError):
    """The Ansible inventory cannot be read or converted; one line."""


@dataclass
class Group:
    """One Ansible group: its own hosts (each with the variables given with it), the names of
    its child groups, and its variables."""

    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)


@dataclass
class AnsibleInventory:
    """Every group of an Ansible inventory by name; ``all`` holds the variables every host
    gets."""

    groups: dict[str, Group] = field(default_factory=dict)

    def group(self, name: str) -> Group:
        return self.groups.setdefault(name, Group())

    def ancestors(self, group: str) -> list[str]:
        """``group`` and every group it is a child of, nearest first, ``all`` last."""
        order: list[str] = []
        frontier = [group]
        while frontier:
            current = frontier.pop(0)
            if current in order:
                continue
            order.append(current)
            frontier += [name for name, g in self.groups.items() if current in g.children]
        if "all" in order:
            order.remove("all")
        return [*order, "all"]

    def own_vars(self) -> dict[str, dict[str, Any]]:
        """Every host with the variables given with it (``_meta.hostvars``, or the ``key=value``
        words of its line), merged over the groups that list it."""
        own: dict[str, dict[str, Any]] = {}
        for group in self.groups.values():
            for host, host_vars in group.hosts.items():
                own.setdefault(host, {}).update(host_vars)
        return own

    def groups_of(self, host: str) -> list[str]:
        """Every group ``host`` is in, directly or through ``children``, nearest first."""
        chain: list[str] = []
        for name, group in self.groups.items():
            if host in group.hosts:
                chain += [g for g in self.ancestors(name) if g not in chain]
        return chain

    def members(self, group: str) -> list[str]:
        """Every host of ``group``, directly or through its children, in the order listed."""
        found: list[str] = []
        seen: set[str] = set()
        frontier = [group]
        while frontier:
            current = frontier.pop(0)
            if current in seen or current not in self.groups:
                continue
            seen.add(current)
            found += [host for host in self.groups[current].hosts if host not in found]
            frontier += self.groups[current].children
        return found

    def merged_vars(self, chain: list[str], own: Mapping[str, Any]) -> dict[str, Any]:
        """The variables of a host in the groups ``chain`` (nearest first): the farthest group's
        first, then nearer ones, the host's own last."""
        merged: dict[str, Any] = {}
        for name in reversed(chain):
            merged.update(self.groups.get(name, Group()).vars)
        merged.update(own)
        return merged

    def hosts(self) -> Iterator[tuple[str, list[str], dict[str, Any]]]:
        """Every host with all its groups and its merged variables (host vars win, then the
        nearest group's)."""
        for host, own in self.own_vars().items():
            chain = self.groups_of(host)
            yield host, chain, self.merged_vars(chain, own)


def expand_hosts(pattern: str) -> list[str]:
    """Ansible host ranges: ``db[01:03]`` -> db01, db02, db03; ``[a:c]``; ``[0:10:5]``."""
    match = _RANGE.search(pattern)
    if match is None:
        return [pattern]
    start, end, step = match.group(1), match.group(2), int(match.group(3) or 1)
    head, tail = pattern[: match.start()], pattern[match.end():]
    if start.isdigit() and end.isdigit():
        width = len(start) if start.startswith("0") else 0
        values = [str(n).zfill(width) for n in range(int(start), int(end) + 1, step)]
    elif len(start) == 1 and len(end) == 1 and start.isalpha() and end.isalpha():
        values = [chr(c) for c in range(ord(start), ord(end) + 1, step)]
    else:
        raise InvalidValue(f"bad host range [{start}:{end}]")
    return [host for value in values for host in expand_hosts(head + value + tail)]


def _value(text: str) -> Any:
    """An INI variable's value as Ansible reads it: numbers and booleans typed, else a string."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return loaded if isinstance(loaded, str | int | float | bool) else text


def _assignments(words: list[str], where: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise InventoryImportError(f"{where}: expected key=value, got {word!r}")
        result[key] = _value(value)
    return result


def parse_ini(text: str, source: str) -> AnsibleInventory:
    inventory = AnsibleInventory()
    section, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), start=1):
        where = f"{source}: line {number}"
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            header = re.fullmatch(r"\[([^\]:\s]+)(?::(children|vars))?\]", line)
            if header is None:
                raise InventoryImportError(f"{where}: bad section header {line!r}")
            section, kind = header.group(1), header.group(2) or "hosts"
            inventory.group(section)
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise InventoryImportError(f"{where}: {exc}") from None
        if not words:
            continue
        group = inventory.group(section)
        if kind == "children":
            group.children.append(words[0])
            inventory.group(words[0])
        elif kind == "vars":
            group.vars.update(_assignments([line.replace(" = ", "=", 1)], where))
        else:
            try:
                names = expand_hosts(words[0])
            except ValueError as exc:
                raise InventoryImportError(f"{where}: {exc}") from None
            host_vars = _assignments(words[1:], where)
            for name in names:
                group.hosts.setdefault(name, {}).update(host_vars)
    return inventory


def _yaml_group(inventory: AnsibleInventory, name: str, raw: object, where: str) -> None:
    group = inventory.group(name)
    if raw is None:
        return
    if not isinstance(raw, Mapping):
        raise InventoryImportError(f"{where}: expected a mapping of hosts, vars and children")
    unknown = sorted(set(raw) - {"hosts", "vars", "children"})
    if unknown:
        raise InventoryImportError(f"{where}: unknown key {unknown[0]!r} "
                                   f"(allowed: children, hosts, vars)")
    hosts = raw.get("hosts") or {}
    group_vars = raw.get("vars") or {}
    children = raw.get("children") or {}
    for key, value in (("hosts", hosts), ("vars", group_vars), ("children", children)):
        if not isinstance(value, Mapping):
            raise InventoryImportError(f"{where}.{key}: expected a mapping")
    group.vars.update(cast(Mapping[str, Any], group_vars))
    for pattern, host_vars in cast(Mapping[str, Any], hosts).items():
        if host_vars is not None and not isinstance(host_vars, Mapping):
            raise InventoryImportError(f"{where}.hosts.{pattern}: expected a mapping of vars")
        try:
            names = expand_hosts(str(pattern))
        except ValueError as exc:
            raise InventoryImportError(f"{where}.hosts.{pattern}: {exc}") from None
        for host in names:
            group.hosts.setdefault(host, {}).update(host_vars or {})
    for child, child_raw in cast(Mapping[str, Any], children).items():
        group.children.append(str(child))
        _yaml_group(inventory, str(child), child_raw, f"{where}.children.{child}")


def parse_yaml(data: object, source: str) -> AnsibleInventory:
    if not isinstance(data, Mapping) or not data:
        raise InventoryImportError(f"{source}: expected a YAML mapping of groups "
                                   f"(such as all: {{hosts, children}})")
    inventory = AnsibleInventory()
    for name, raw in data.items():
        _yaml_group(inventory, str(name), raw, f"{source}: {name}")
    return inventory


def _names(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InventoryImportError(f"{where}: expected a list of names")
    return cast(list[str], value)


def _json_group(inventory: AnsibleInventory, name: str, raw: object,
                hostvars: Mapping[str, Any], where: str) -> None:
    """One group of a JSON inventory: a list of hosts, or ``{hosts, children, vars}``."""
    if isinstance(raw, list):
        raw = {"hosts": raw}
    if not isinstance(raw, Mapping):
        raise InventoryImportError(f"{where}: expected a list of hosts or a mapping of hosts, "
                                   f"children and vars")
    unknown = sorted(set(raw) - {"hosts", "vars", "children"})
    if unknown:
        raise InventoryImportError(f"{where}: unknown key {unknown[0]!r} "
                                   f"(allowed: children, hosts, vars)")
    group = inventory.group(name)
    group_vars = raw.get("vars") or {}
    if not isinstance(group_vars, Mapping):
        raise InventoryImportError(f"{where}.vars: expected a mapping")
    group.vars.update(group_vars)
    for host in _names(raw.get("hosts") or [], f"{where}.hosts"):
        group.hosts.setdefault(host, {}).update(hostvars.get(host) or {})
    for child in _names(raw.get("children") or [], f"{where}.children"):
        if child not in group.children:
            group.children.append(child)
        inventory.group(child)


def parse_json(data: object, source: str) -> AnsibleInventory:
    """A dynamic inventory's JSON (``ansible-inventory --list``, ``openstack_inventory.json``):
    each group a list of hosts or ``{hosts: [...], children: [...], vars: {...}}``, and each
    host's variables under ``_meta.hostvars``."""
    if not isinstance(data, Mapping) or not data:
        raise InventoryImportError(f"{source}: expected a JSON object of groups (and _meta)")
    meta = data.get("_meta", {})
    hostvars = meta.get("hostvars", {}) if isinstance(meta, Mapping) else None
    if not isinstance(hostvars, Mapping):
        raise InventoryImportError(f"{source}: _meta.hostvars: expected an object of hosts")
    for host, host_vars in hostvars.items():
        if host_vars is not None and not isinstance(host_vars, Mapping):
            raise InventoryImportError(f"{source}: _meta.hostvars.{host}: expected an object "
                                       f"of variables")
    inventory = AnsibleInventory()
    for name, raw in data.items():
        if name != "_meta":
            _json_group(inventory, str(name), raw, hostvars, f"{source}: {name}")
    return inventory


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines()
                 if line.strip() and not line.lstrip().startswith("#")), "")


def load_json(text: str, path: Path) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InventoryImportError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") \
            from None


def read_text(path: Path, what: str = "an inventory file") -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InventoryImportError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InventoryImportError(f"{path}: is a directory, expected {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryImportError(f"{path}: cannot read: {exc}") from None


def load_yaml(text: str, path: Path) -> object:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}: " if mark is not None else ""
        raise InventoryImportError(f"{path}: {at}invalid YAML") from None


def read_ansible_inventory(path: Path) -> AnsibleInventory:
    """The inventory at ``path``, in whichever form it is written: JSON (a ``.json`` file, or
    text starting with ``{``), YAML (``.yml``, ``.yaml``, or a first line ending with ``:``),
    else INI."""
    text = read_text(path)
    first = _first_line(text)
    if path.suffix == ".json" or first.startswith("{"):
        return parse_json(load_json(text, path), str(path))
    if path.suffix in (".yml", ".yaml") or first.endswith(":") or first.startswith("---"):
        return parse_yaml(load_yaml(text, path), str(path))
    return parse_ini(text, str(path))
