"""Cloud inventory: which hosts exist, how to reach them and how services run on them.

The inventory is a YAML file. It is checked against :data:`INVENTORY_SCHEMA`
(JSON Schema, Draft 2020-12) and then for cross references between hosts.
Every problem is reported as one line ``<file>: <key path>: <what was expected>``
through :class:`InventoryError`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, cast

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

__all__ = [
    "DEFAULT_DEPLOYMENT",
    "DEFAULT_KNOWN_HOSTS",
    "DEFAULT_PROFILE",
    "INVENTORY_SCHEMA",
    "ROLES",
    "RUNTIMES",
    "HostSpec",
    "Inventory",
    "InventoryError",
    "ProfileSpec",
    "ServiceSpec",
    "SshSpec",
    "load_inventory",
    "parse_inventory",
]

ROLES: tuple[str, ...] = (
    "controller",
    "compute",
    "storage",
    "network",
    "database",
    "messaging",
    "object-storage",
    "block-storage",
)
RUNTIMES: tuple[str, ...] = ("docker", "podman", "lxc")
DEFAULT_DEPLOYMENT = "packages"
DEFAULT_PROFILE = "packages"
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"

_SSH_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "user": "root",
        "port": 22,
        "key": None,
        "known_hosts": DEFAULT_KNOWN_HOSTS,
        "strict_host_key_checking": True,
        "jump": None,
        "connect_timeout": 10,
        "command_timeout": 60,
    }
)

_NAME_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1}
_TIMEOUT_SCHEMA: dict[str, Any] = {
    "type": "number",
    "exclusiveMinimum": 0,
    "x-expected": "number > 0",
}

INVENTORY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "stackdrill inventory",
    "type": "object",
    "additionalProperties": False,
    "required": ["hosts"],
    "properties": {
        "cloud": {"type": ["string", "null"], "minLength": 1},
        "production": {"type": "boolean"},
        "deployment": _NAME_SCHEMA,
        "profile": {"$ref": "#/$defs/profile"},
        "defaults": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "ssh": {"$ref": "#/$defs/ssh"},
                "power": {"$ref": "#/$defs/power"},
            },
        },
        "hosts": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": _NAME_SCHEMA,
            "additionalProperties": {"$ref": "#/$defs/host"},
        },
        "services": {
            "type": "object",
            "propertyNames": _NAME_SCHEMA,
            "additionalProperties": {"$ref": "#/$defs/service"},
        },
        "protected": {"type": "array", "items": _NAME_SCHEMA},
        "secrets_files": {"type": "array", "items": _NAME_SCHEMA},
        "clusters": {
            "type": "object",
            "propertyNames": _NAME_SCHEMA,
            "additionalProperties": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": _NAME_SCHEMA,
            },
        },
    },
    "$defs": {
        "profile": {
            "if": {"type": "string"},
            "then": {"$ref": "#/$defs/profile_name"},
            "else": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": {"$ref": "#/$defs/profile_name"},
                    "variant": _NAME_SCHEMA,
                    "runtime": {"enum": ["docker", "podman"]},
                    "dirs": {"type": "array", "items": _NAME_SCHEMA},
                },
            },
        },
        "profile_name": {
            "type": "string",
            "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
            "x-expected": "profile name (letters, digits and _.-)",
        },
        "ssh": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "user": {
                    "type": "string",
                    "pattern": r"^\S+$",
                    "x-expected": "non-empty string without whitespace",
                },
                "port": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 65535,
                    "x-expected": "integer 1..65535",
                },
                "key": {"type": ["string", "null"], "minLength": 1},
                "known_hosts": _NAME_SCHEMA,
                "strict_host_key_checking": {"type": "boolean"},
                "jump": {"type": ["string", "null"], "minLength": 1},
                "connect_timeout": _TIMEOUT_SCHEMA,
                "command_timeout": _TIMEOUT_SCHEMA,
            },
        },
        "power": {
            "type": "object",
            "propertyNames": {"type": "string"},
            "properties": {"driver": _NAME_SCHEMA},
        },
        "host": {
            "type": "object",
            "additionalProperties": False,
            "required": ["address", "roles"],
            "properties": {
                "address": {
                    "type": "string",
                    "pattern": r"^\S+$",
                    "x-expected": "non-empty string without whitespace",
                },
                "roles": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {"enum": list(ROLES)},
                },
                "ssh": {"$ref": "#/$defs/ssh"},
                "power": {"$ref": "#/$defs/power"},
            },
        },
        "service": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "unit": {
                    "type": "string",
                    "pattern": r"^[A-Za-z0-9:_.@-]+$",
                    "x-expected": "systemd unit name (letters, digits and :_.@-)",
                },
                "container": {
                    "type": "string",
                    "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                    "x-expected": "container name (letters, digits and _.-)",
                },
                "runtime": {"enum": list(RUNTIMES)},
            },
            "oneOf": [{"required": ["unit"]}, {"required": ["container"]}],
            "dependentRequired": {"runtime": ["container"]},
        },
    },
}

_VALIDATOR = Draft202012Validator(INVENTORY_SCHEMA)

_TYPE_NAMES = {"object": "mapping", "array": "list"}
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_REPR_LIMIT = 80

_KeyPath = tuple[Hashable, ...]


class InventoryError(Exception):
    """One or more problems with an inventory; ``str()`` is a single line."""

    def __init__(self, errors: str | Sequence[str]) -> None:
        items = [errors] if isinstance(errors, str) else list(errors)
        if not items:
            items = ["invalid inventory"]
        self.errors: list[str] = items
        summary = items[0]
        if len(items) > 1:
            summary += f" (and {len(items) - 1} more)"
        super().__init__(summary)

    def __reduce__(self) -> tuple[type[InventoryError], tuple[list[str]]]:
        return (type(self), (list(self.errors),))


@dataclass(frozen=True)
class SshSpec:
    user: str
    port: int
    key: Path | None
    known_hosts: Path
    strict_host_key_checking: bool
    jump: str | None
    connect_timeout: float
    command_timeout: float


@dataclass(frozen=True)
class HostSpec:
    name: str
    address: str
    roles: tuple[str, ...]
    ssh: SshSpec
    power: Mapping[str, Any] | None


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    unit: str | None
    container: str | None
    runtime: str | None

    @property
    def kind(self) -> Literal["systemd", "container"]:
        return "container" if self.container is not None else "systemd"


@dataclass(frozen=True)
class ProfileSpec:
    """The deployment profile the inventory selects (see :mod:`stackdrill.inventory.profiles`).

    ``declared`` is False when the inventory does not name one: services the inventory does not
    list are then systemd units of the same name, as before profiles existed.
    """

    name: str = DEFAULT_PROFILE
    variant: str | None = None
    runtime: str | None = None
    dirs: tuple[Path, ...] = ()
    declared: bool = False


@dataclass(frozen=True)
class Inventory:
    path: Path
    cloud: str | None
    production: bool
    deployment: str
    hosts: Mapping[str, HostSpec]
    services: Mapping[str, ServiceSpec]
    protected: frozenset[str]
    profile_spec: ProfileSpec = ProfileSpec()
    # clustered service -> its member hosts (quorum: never half or more of them under faults)
    clusters: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    # files whose every value is a secret to keep out of reports (YAML or JSON mappings)
    secrets_files: tuple[Path, ...] = ()

    @property
    def profile(self) -> str:
        """The deployment profile's name (``packages`` unless the inventory names one)."""
        return self.profile_spec.name

    def with_role(self, role: str) -> list[HostSpec]:
        """Hosts carrying ``role``, sorted by name."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
        return sorted(
            (spec for spec in self.hosts.values() if role in spec.roles),
            key=lambda spec: spec.name,
        )

    def host(self, name: str) -> HostSpec:
        try:
            return self.hosts[name]
        except KeyError:
            known = ", ".join(sorted(self.hosts))
            raise InventoryError(
                f"{self.path}: hosts: no host named {name!r} (known: {known})"
            ) from None

    def service(self, name: str) -> ServiceSpec:
        """How ``name`` runs here; unlisted services are systemd units of the same name."""
        spec = self.services.get(name)
        if spec is not None:
            return spec
        return ServiceSpec(name=name, unit=name, container=None, runtime=None)


class _Problem(NamedTuple):
    path: _KeyPath
    message: str
    anchor: _KeyPath


def _problem(path: _KeyPath, message: str, anchor: _KeyPath | None = None) -> _Problem:
    return _Problem(path, message, path if anchor is None else anchor)


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


def _show(value: object) -> str:
    text = repr(value)
    if len(text) > _REPR_LIMIT:
        text = text[: _REPR_LIMIT - 3] + "..."
    return text


def _line(file: Path, path: _KeyPath, message: str) -> str:
    where = _format_path(path)
    return f"{file}: {where}: {message}" if where else f"{file}: {message}"


def _position(data: object, path: _KeyPath) -> tuple[int, ...]:
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


def _type_names(types: object) -> str:
    names = [types] if isinstance(types, str) else list(cast(Iterable[str], types))
    return " or ".join(_TYPE_NAMES.get(name, name) for name in names)


def _describe(error: ValidationError, required_seen: Counter[tuple[object, ...]]) -> list[_Problem]:
    path: _KeyPath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    validator = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    got = f"got {_show(instance)}"

    if "propertyNames" in error.absolute_schema_path:
        wanted = "non-empty key" if validator == "minLength" else "string as key"
        return [_problem(path, f"expected {wanted}, {got}", (*path, instance))]

    expected = schema.get("x-expected")
    if isinstance(expected, str) and validator in {
        "type",
        "enum",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "minLength",
        "pattern",
    }:
        return [_problem(path, f"expected {expected}, {got}")]

    if validator == "type":
        return [_problem(path, f"expected {_type_names(value)}, {got}")]
    if validator == "enum":
        choices = ", ".join(str(choice) for choice in value)
        return [_problem(path, f"expected one of {choices}, {got}")]
    if validator == "additionalProperties" and isinstance(instance, dict):
        allowed_keys = cast(Mapping[str, Any], schema.get("properties", {}))
        allowed = ", ".join(sorted(allowed_keys))
        return [
            _problem(path, f"unknown key {key!r} (allowed: {allowed})", (*path, key))
            for key in instance
            if key not in allowed_keys
        ]
    if validator == "required" and isinstance(instance, dict):
        seen_key = (path, tuple(error.absolute_schema_path))
        missing = [key for key in value if key not in instance]
        index = required_seen[seen_key]
        required_seen[seen_key] += 1
        if index < len(missing):
            return [_problem(path, f"missing required key {missing[index]!r}")]
        return [_problem(path, error.message)]
    if validator == "dependentRequired" and isinstance(instance, dict):
        return [
            _problem(path, f"key {key!r} is only allowed together with {need!r}")
            for key, needs in value.items()
            if key in instance
            for need in needs
            if need not in instance
        ]
    if validator == "oneOf" and isinstance(instance, dict):
        options = [
            key
            for branch in value
            if isinstance(branch, Mapping)
            for key in branch.get("required", ())
        ]
        present = [key for key in options if key in instance]
        listed = " or ".join(repr(key) for key in options)
        if present:
            both = " and ".join(repr(key) for key in present)
            return [_problem(path, f"keys {both} cannot be used together")]
        return [_problem(path, f"missing required key: one of {listed}")]
    if validator == "minItems" and value == 1:
        return [_problem(path, f"expected non-empty list, {got}")]
    if validator == "minProperties" and value == 1:
        return [_problem(path, f"expected non-empty mapping, {got}")]
    if validator == "minLength" and value == 1:
        return [_problem(path, f"expected non-empty string, {got}")]
    if validator == "uniqueItems":
        return [_problem(path, f"expected list without duplicates, {got}")]
    if validator == "minimum":
        return [_problem(path, f"expected number >= {value}, {got}")]
    if validator == "maximum":
        return [_problem(path, f"expected number <= {value}, {got}")]
    if validator == "exclusiveMinimum":
        return [_problem(path, f"expected number > {value}, {got}")]
    if validator == "pattern":
        return [_problem(path, f"expected string matching {value}, {got}")]
    return [_problem(path, " ".join(error.message.split()))]


def _fail(file: Path, data: object, problems: list[_Problem]) -> InventoryError:
    ordered = sorted(problems, key=lambda problem: _position(data, problem.anchor))
    lines = [_line(file, problem.path, problem.message) for problem in ordered]
    return InventoryError(list(dict.fromkeys(lines)))


def _schema_problems(data: object) -> list[_Problem]:
    required_seen: Counter[tuple[object, ...]] = Counter()
    problems: list[_Problem] = []
    for error in _VALIDATOR.iter_errors(data):
        problems.extend(_describe(error, required_seen))
    return problems


def _expand(raw: str, base: Path) -> Path | None:
    try:
        path = Path(raw).expanduser()
    except RuntimeError:
        return None
    return path if path.is_absolute() else base / path


def _ssh_origin(name: str, host_ssh: Mapping[str, Any], key: str) -> _KeyPath:
    if key in host_ssh:
        return ("hosts", name, "ssh", key)
    return ("defaults", "ssh", key)


class _Builder:
    def __init__(self, data: Mapping[str, Any], file: Path) -> None:
        self.data = data
        self.file = file
        self.base = file.parent.absolute()
        self.problems: list[_Problem] = []
        defaults = cast(Mapping[str, Any], data.get("defaults") or {})
        self.default_ssh = cast(Mapping[str, Any], defaults.get("ssh") or {})
        self.default_power = cast(Mapping[str, Any] | None, defaults.get("power"))
        self.raw_hosts = cast(Mapping[str, Mapping[str, Any]], data["hosts"])

    def report(self, path: _KeyPath, message: str) -> None:
        self.problems.append(_problem(path, message))

    def no_host(self, name: object) -> str:
        known = ", ".join(sorted(self.raw_hosts))
        return f"no host named {name!r} (known: {known})"

    def check_timeouts(self, ssh: Mapping[str, Any], prefix: _KeyPath) -> None:
        for key in ("connect_timeout", "command_timeout"):
            value = ssh.get(key)
            if isinstance(value, float) and not math.isfinite(value):
                self.report((*prefix, key), f"expected finite number > 0, got {_show(value)}")

    def jumps(self) -> dict[str, str | None]:
        default_jump = self.default_ssh.get("jump")
        if default_jump is not None and default_jump not in self.raw_hosts:
            self.report(("defaults", "ssh", "jump"), self.no_host(default_jump))
            default_jump = None
        result: dict[str, str | None] = {}
        for name, raw in self.raw_hosts.items():
            host_ssh = cast(Mapping[str, Any], raw.get("ssh") or {})
            if "jump" not in host_ssh:
                result[name] = None if default_jump == name else default_jump
                continue
            jump = cast(str | None, host_ssh["jump"])
            where: _KeyPath = ("hosts", name, "ssh", "jump")
            if jump == name:
                self.report(where, "a host cannot be its own jump host")
                jump = None
            elif jump is not None and jump not in self.raw_hosts:
                self.report(where, self.no_host(jump))
                jump = None
            result[name] = jump
        self.check_loops(result)
        return result

    def check_loops(self, jumps: Mapping[str, str | None]) -> None:
        reported: set[str] = set()
        for name in sorted(jumps):
            chain = [name]
            current = jumps[name]
            while current is not None and current not in chain:
                chain.append(current)
                current = jumps.get(current)
            if current == name and name not in reported:
                reported.update(chain)
                host_ssh = cast(Mapping[str, Any], self.raw_hosts[name].get("ssh") or {})
                loop = " -> ".join([*chain, name])
                self.report(_ssh_origin(name, host_ssh, "jump"), f"jump hosts form a loop: {loop}")

    def path_field(
        self, name: str, host_ssh: Mapping[str, Any], merged: Mapping[str, Any], key: str
    ) -> Path | None:
        raw = merged[key]
        if raw is None:
            return None
        resolved = _expand(cast(str, raw), self.base)
        if resolved is None:
            where = _ssh_origin(name, host_ssh, key)
            if key not in host_ssh and key not in self.default_ssh:
                where = ("hosts", name, "ssh")
            self.report(where, f"cannot expand '~' in {raw!r}: home directory unknown")
        return resolved

    def host(self, name: str, raw: Mapping[str, Any], jump: str | None) -> HostSpec:
        host_ssh = cast(Mapping[str, Any], raw.get("ssh") or {})
        merged = {**_SSH_DEFAULTS, **self.default_ssh, **host_ssh}
        key = self.path_field(name, host_ssh, merged, "key")
        known_hosts = self.path_field(name, host_ssh, merged, "known_hosts")
        ssh = SshSpec(
            user=cast(str, merged["user"]),
            port=int(merged["port"]),
            key=key,
            known_hosts=known_hosts if known_hosts is not None else Path(DEFAULT_KNOWN_HOSTS),
            strict_host_key_checking=bool(merged["strict_host_key_checking"]),
            jump=jump,
            connect_timeout=float(merged["connect_timeout"]),
            command_timeout=float(merged["command_timeout"]),
        )
        power: Mapping[str, Any] | None = None
        host_power = cast(Mapping[str, Any] | None, raw.get("power"))
        if self.default_power is not None or host_power is not None:
            merged_power = {**(self.default_power or {}), **(host_power or {})}
            if "driver" not in merged_power:
                where: _KeyPath = (
                    ("hosts", name, "power") if host_power is not None else ("defaults", "power")
                )
                self.report(where, "missing required key 'driver'")
            power = MappingProxyType(merged_power)
        return HostSpec(
            name=name,
            address=cast(str, raw["address"]),
            roles=tuple(cast(list[str], raw["roles"])),
            ssh=ssh,
            power=power,
        )

    def services(self) -> dict[str, ServiceSpec]:
        raw_services = cast(Mapping[str, Mapping[str, str]], self.data.get("services") or {})
        result: dict[str, ServiceSpec] = {}
        for name, raw in raw_services.items():
            container = raw.get("container")
            result[name] = ServiceSpec(
                name=name,
                unit=raw.get("unit"),
                container=container,
                runtime=raw.get("runtime", "docker") if container is not None else None,
            )
        return result

    def profile(self) -> ProfileSpec:
        raw = self.data.get("profile")
        if raw is None:
            return ProfileSpec()
        if isinstance(raw, str):
            named = ProfileSpec(name=raw, declared=True)
            self.check_profile(named, ("profile",))
            return named
        spec = cast(Mapping[str, Any], raw)
        dirs: list[Path] = []
        for index, entry in enumerate(cast(list[str], spec.get("dirs", []))):
            resolved = _expand(entry, self.base)
            if resolved is None:
                self.report(("profile", "dirs", index),
                            f"cannot expand '~' in {entry!r}: home directory unknown")
                continue
            dirs.append(resolved)
        result = ProfileSpec(name=cast(str, spec["name"]), variant=spec.get("variant"),
                             runtime=spec.get("runtime"), dirs=tuple(dirs), declared=True)
        self.check_profile(result, ("profile", "name"))
        return result

    def check_profile(self, spec: ProfileSpec, where: _KeyPath) -> None:
        from stackdrill.inventory.profiles import ProfileError, load_profile

        try:
            profile = load_profile(spec.name, spec.dirs)
            if spec.variant is not None:
                profile.variant(name=spec.variant)
        except ProfileError as exc:
            self.report(where, str(exc))

    def protected(self) -> frozenset[str]:
        names = cast(list[str], self.data.get("protected") or [])
        for index, name in enumerate(names):
            if name not in self.raw_hosts:
                self.report(("protected", index), self.no_host(name))
        return frozenset(names)

    def clusters(self) -> Mapping[str, tuple[str, ...]]:
        raw = cast(Mapping[str, list[str]], self.data.get("clusters") or {})
        for cluster, members in raw.items():
            for index, name in enumerate(members):
                if name not in self.raw_hosts:
                    self.report(("clusters", cluster, index), self.no_host(name))
        return MappingProxyType({cluster: tuple(members) for cluster, members in raw.items()})

    def secrets_files(self) -> tuple[Path, ...]:
        """Each file resolved and read once here, so a missing or malformed one is bad input."""
        from stackdrill.hosts.secrets import SecretsFileError, file_secrets

        found = []
        for index, raw in enumerate(cast(list[str], self.data.get("secrets_files") or [])):
            path = _expand(raw, self.base)
            try:
                if path is None:
                    raise SecretsFileError(f"cannot expand {raw!r}")
                file_secrets(path)
            except SecretsFileError as exc:
                self.report(("secrets_files", index), str(exc))
                continue
            found.append(path)
        return tuple(found)

    def build(self) -> Inventory:
        self.check_timeouts(self.default_ssh, ("defaults", "ssh"))
        for name, raw in self.raw_hosts.items():
            self.check_timeouts(
                cast(Mapping[str, Any], raw.get("ssh") or {}), ("hosts", name, "ssh")
            )
        jumps = self.jumps()
        hosts = {name: self.host(name, raw, jumps[name]) for name, raw in self.raw_hosts.items()}
        services = self.services()
        protected = self.protected()
        profile = self.profile()
        clusters = self.clusters()
        secrets_files = self.secrets_files()
        if self.problems:
            raise _fail(self.file, self.data, self.problems)
        return Inventory(
            path=self.file,
            cloud=cast(str | None, self.data.get("cloud")),
            production=bool(self.data.get("production", False)),
            deployment=cast(str, self.data.get("deployment", DEFAULT_DEPLOYMENT)),
            hosts=MappingProxyType(hosts),
            services=MappingProxyType(services),
            protected=protected,
            profile_spec=profile,
            clusters=clusters,
            secrets_files=secrets_files,
        )


def parse_inventory(data: object, path: Path) -> Inventory:
    """Validate already-loaded inventory ``data``; ``path`` names it in messages and anchors
    relative paths."""
    path = Path(path)
    if data is None:
        raise InventoryError(f"{path}: empty document, expected a mapping with 'hosts'")
    problems = _schema_problems(data)
    if problems:
        raise _fail(path, data, problems)
    return _Builder(cast(Mapping[str, Any], data), path).build()


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
                    f"found duplicate key {_show(key)}",
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
