"""``stackdrill inventory import``: a stackdrill inventory from an Ansible inventory.

Reads Ansible's INI form (``[group]``, ``[group:children]``, ``[group:vars]``, host ranges such as
``compute[01:03]``) and its YAML form (``all: {hosts, vars, children}``), including
kolla-ansible's ``multinode`` and OpenStack-Ansible's generated groups. Each host gets the roles
of the groups it is in, directly or through ``:children``; a host without a role stackdrill
knows (kolla's ``localhost`` in ``deployment``, a monitoring-only host) is left out and named on
stderr. Connection variables become ``ssh`` settings: ``ansible_host`` (the address),
``ansible_user``, ``ansible_port`` and ``ansible_ssh_private_key_file``. The result is checked
with the inventory schema before it is written.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from stackdrill.core.errors import InvalidValue
from stackdrill.inventory.loader import parse_inventory
from stackdrill.inventory.model import ROLES, InventoryError

__all__ = [
    "GROUP_ROLES",
    "AnsibleInventory",
    "InventoryImportError",
    "convert",
    "import_inventory",
    "parse_ini",
    "parse_yaml",
]

# Ansible group name -> stackdrill role. kolla-ansible: control, network, compute, storage;
# OpenStack-Ansible: *_hosts groups; DevStack multinode and hand-written inventories: the rest.
GROUP_ROLES: Mapping[str, str] = {
    "control": "controller", "controller": "controller", "controllers": "controller",
    "shared-infra_hosts": "controller", "infra_hosts": "controller", "os-infra_hosts": "controller",
    "identity_hosts": "controller",
    "compute": "compute", "computes": "compute", "compute_hosts": "compute",
    "subnode": "compute", "subnodes": "compute",
    "network": "network", "network_hosts": "network", "network-agent_hosts": "network",
    "storage": "storage", "storage_hosts": "block-storage", "storage-infra_hosts": "controller",
    "cinder-volume": "block-storage", "block_storage": "block-storage",
    "database": "database", "galera": "database", "mariadb": "database",
    "messaging": "messaging", "rabbitmq": "messaging",
    "swift_hosts": "object-storage", "object-storage": "object-storage",
}

_RANGE = re.compile(r"\[([0-9a-zA-Z]+):([0-9a-zA-Z]+)(?::(\d+))?\]")
_SSH_VARS = {"ansible_user": "user", "ansible_ssh_user": "user", "ansible_port": "port",
             "ansible_ssh_port": "port", "ansible_ssh_private_key_file": "key",
             "ansible_private_key_file": "key"}


class InventoryImportError(InventoryError):
    """The Ansible inventory cannot be read or converted; one line."""


@dataclass
class Group:
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)


@dataclass
class AnsibleInventory:
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

    def hosts(self) -> Iterator[tuple[str, list[str], dict[str, Any]]]:
        """Every host with all its groups and its merged variables (host vars win, then the
        nearest group's)."""
        direct: dict[str, list[str]] = {}
        own: dict[str, dict[str, Any]] = {}
        for name, group in self.groups.items():
            for host, host_vars in group.hosts.items():
                direct.setdefault(host, []).append(name)
                own.setdefault(host, {}).update(host_vars)
        for host, groups in direct.items():
            chain: list[str] = []
            for name in groups:
                chain += [g for g in self.ancestors(name) if g not in chain]
            merged: dict[str, Any] = {}
            for name in reversed(chain):
                merged.update(self.groups.get(name, Group()).vars)
            merged.update(own[host])
            yield host, chain, merged


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


def _looks_like_yaml(text: str) -> bool:
    first = next((line for line in text.splitlines()
                  if line.strip() and not line.lstrip().startswith("#")), "")
    return first.rstrip().endswith(":") or first.startswith("---")


def read_ansible_inventory(path: Path) -> AnsibleInventory:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InventoryImportError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InventoryImportError(f"{path}: is a directory, expected an inventory file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryImportError(f"{path}: cannot read: {exc}") from None
    if path.suffix in (".yml", ".yaml") or _looks_like_yaml(text):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f"line {mark.line + 1}: " if mark is not None else ""
            raise InventoryImportError(f"{path}: {at}invalid YAML") from None
        return parse_yaml(data, str(path))
    return parse_ini(text, str(path))


@dataclass(frozen=True)
class Conversion:
    data: dict[str, Any]
    skipped: list[str]


def _host_entry(host: str, groups: list[str], host_vars: Mapping[str, Any],
                where: str) -> dict[str, Any] | None:
    roles = [role for role in ROLES if any(GROUP_ROLES.get(g) == role for g in groups)]
    if not roles or host_vars.get("ansible_connection") == "local":
        return None
    address = host_vars.get("ansible_host", host_vars.get("ansible_ssh_host", host))
    entry: dict[str, Any] = {"address": str(address), "roles": roles}
    ssh: dict[str, Any] = {}
    for var, key in _SSH_VARS.items():
        if var in host_vars and key not in ssh:
            value = host_vars[var]
            if key == "port":
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    raise InventoryImportError(f"{where}: host {host}: {var}: expected a port "
                                               f"number, got {value!r}") from None
            ssh[key] = value if key == "port" else str(value)
    if ssh:
        entry["ssh"] = ssh
    return entry


def convert(inventory: AnsibleInventory, *, profile: str, source: str) -> Conversion:
    hosts: dict[str, Any] = {}
    skipped: list[str] = []
    for host, groups, host_vars in inventory.hosts():
        entry = _host_entry(host, groups, host_vars, source)
        if entry is None:
            skipped.append(host)
        else:
            hosts[host] = entry
    if not hosts:
        raise InventoryImportError(f"{source}: no host is in a group stackdrill maps to a role "
                                   f"(such as control, compute, network, storage)")
    data: dict[str, Any] = {"profile": profile, "production": False,
                            "hosts": dict(sorted(hosts.items()))}
    return Conversion(data, sorted(skipped))


def import_inventory(path: Path, *, profile: str = "packages",
                     output: Path | None = None) -> Conversion:
    """Read the Ansible inventory at ``path`` and return a stackdrill inventory, validated."""
    conversion = convert(read_ansible_inventory(path), profile=profile, source=str(path))
    target = output if output is not None else path.with_name("stackdrill-inventory.yaml")
    parse_inventory(conversion.data, target)
    return conversion


def render(conversion: Conversion, source: Path) -> str:
    header = f"# Imported from {source} by `stackdrill inventory import`.\n"
    return header + yaml.safe_dump(conversion.data, sort_keys=False)


def add_parser(sub: Any) -> None:
    """The ``inventory`` subcommand of the command line."""
    inventory = sub.add_parser("inventory", help="inventory tools")
    actions = inventory.add_subparsers(dest="inventory_action", required=True)
    imported = actions.add_parser("import", help="write a stackdrill inventory from an Ansible "
                                                 "inventory (INI or YAML, kolla-ansible's "
                                                 "multinode, OpenStack-Ansible)")
    imported.add_argument("file", help="the Ansible inventory")
    imported.add_argument("--profile", default="packages",
                          help="deployment profile for the inventory (default: packages)")
    imported.add_argument("-o", "--output", help="write here instead of to standard output")
    from stackdrill.inventory import devstack

    devstack.add_parser(actions)


def run(args: argparse.Namespace) -> int:
    if args.inventory_action == "devstack":
        from stackdrill.inventory import devstack

        return devstack.run(args)
    source = Path(args.file)
    output = Path(args.output) if args.output else None
    conversion = import_inventory(source, profile=args.profile, output=output)
    for host in conversion.skipped:
        print(f"stackdrill: skipped {host}: no stackdrill role in its groups", file=sys.stderr)
    text = render(conversion, source)
    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InventoryImportError(f"{output}: cannot write: {exc.strerror or exc}") from None
    print(f"inventory: {output} ({len(conversion.data['hosts'])} hosts)")
    return 0
