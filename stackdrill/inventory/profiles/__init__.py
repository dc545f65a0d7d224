"""Deployment profiles: how a deployment (DevStack, distribution packages, Kolla-Ansible,
OpenStack-Ansible) runs each of stackdrill's logical services. The commands that read and change
a service where its profile places it are :mod:`stackdrill.hosts.service_commands`; the service
handle ``target.service(name)`` runs them.

A profile is a YAML data file. The shipped ones live beside this module; an inventory can name
directories of its own (``profile: {name: mine, dirs: [profiles]}``) and a Python package can
ship one through the ``stackdrill.profiles`` entry point group (the entry point loads to the
path of the YAML file, or to the profile's data as a mapping).

A service entry is either a systemd unit name (``nova-compute: devstack@n-cpu``), a container
(``{container: nova_compute}``, run by the profile's or the inventory's container runtime) or a
systemd unit inside an OpenStack-Ansible LXC container (``{lxc: galera_container, unit:
mariadb}``, where ``galera_container`` is the container group of
``<host>_galera_container-<8 hex>``). A profile with ``variants`` picks one by the host's
``/etc/os-release`` (``ID``, then ``ID_LIKE``). ``container_unit`` names the systemd unit that
wraps each container where the deployment has one (Kolla-Ansible's
``kolla-{container}-container.service``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, cast

import yaml
from jsonschema import Draft202012Validator

from stackdrill.core.errors import BadInput

__all__ = [
    "BUILTIN_DIR",
    "ENTRY_POINT_GROUP",
    "Placement",
    "Profile",
    "ProfileError",
    "available_profiles",
    "load_profile",
    "parse_os_release",
]

BUILTIN_DIR = Path(__file__).parent
ENTRY_POINT_GROUP = "stackdrill.profiles"
CONTAINER_RUNTIMES: tuple[str, ...] = ("docker", "podman")

Kind = Literal["systemd", "container", "lxc"]

_UNIT = {"type": "string", "pattern": r"^[A-Za-z0-9:_.@-]+$"}
_CONTAINER = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"}
_SERVICES = {
    "type": "object",
    "propertyNames": {"type": "string", "minLength": 1},
    "additionalProperties": {
        "oneOf": [
            _UNIT,
            {"type": "object", "additionalProperties": False, "required": ["unit"],
             "properties": {"unit": _UNIT}},
            {"type": "object", "additionalProperties": False, "required": ["container"],
             "properties": {"container": _CONTAINER, "runtime": {"enum": CONTAINER_RUNTIMES}}},
            {"type": "object", "additionalProperties": False, "required": ["lxc", "unit"],
             "properties": {"lxc": _CONTAINER, "unit": _UNIT}},
        ],
    },
}
PROFILE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
        "description": {"type": "string"},
        "runtime": {"enum": CONTAINER_RUNTIMES},
        "container_unit": {"type": "string", "pattern": r"^[A-Za-z0-9:_.@-]*\{container\}"
                                                        r"[A-Za-z0-9:_.@-]*[.]service$"},
        "services": _SERVICES,
        "variants": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["os_release_ids", "services"],
                "properties": {
                    "os_release_ids": {"type": "array", "minItems": 1,
                                       "items": {"type": "string", "minLength": 1}},
                    "services": _SERVICES,
                },
            },
        },
    },
}
_VALIDATOR = Draft202012Validator(PROFILE_SCHEMA)


class ProfileError(BadInput):
    """A profile cannot be found or read, or does not describe a service; one line."""


@dataclass(frozen=True)
class Placement:
    """Where one service runs: a systemd unit, a container, or a unit inside an LXC container.

    For ``lxc``, ``container`` is the OpenStack-Ansible container group (``galera_container``);
    the container's full name is found on the host with ``lxc-ls``. For a container, ``wrapper``
    is the systemd unit the profile says wraps it, where a host has that unit.
    """

    service: str
    kind: Kind
    unit: str | None = None
    container: str | None = None
    runtime: str | None = None
    wrapper: str | None = None

    def describe(self) -> str:
        if self.kind == "systemd":
            return f"unit {self.unit}"
        if self.kind == "container":
            return f"{self.runtime} container {self.container}"
        return f"unit {self.unit} in LXC container {self.container}"


@dataclass(frozen=True)
class _Variant:
    os_release_ids: tuple[str, ...]
    services: Mapping[str, Any]


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    source: str
    runtime: str
    services: Mapping[str, Any]
    variants: Mapping[str, _Variant] = field(default_factory=dict)
    container_unit: str | None = None

    @property
    def needs_os_release(self) -> bool:
        return bool(self.variants)

    def wrapper(self, container: str) -> str | None:
        """The systemd unit that wraps ``container`` under this profile, if it names one."""
        if self.container_unit is None:
            return None
        return self.container_unit.replace("{container}", container)

    def variant(self, os_release: Mapping[str, str] | None = None,
                name: str | None = None) -> str | None:
        """The variant for a host: ``name`` if given, else the first whose ids hold the
        os-release ``ID``, else the first matching an ``ID_LIKE`` entry."""
        if not self.variants:
            return None
        if name is not None:
            if name not in self.variants:
                known = ", ".join(self.variants)
                raise ProfileError(f"profile {self.name}: no variant {name!r} (known: {known})")
            return name
        if os_release is None:
            raise ProfileError(f"profile {self.name}: its variant depends on the host's "
                               f"/etc/os-release")
        wanted = [os_release.get("ID", "").lower(), *os_release.get("ID_LIKE", "").lower().split()]
        for candidate in wanted:
            for variant, spec in self.variants.items():
                if candidate and candidate in spec.os_release_ids:
                    return variant
        shown = os_release.get("ID", "?")
        known = ", ".join(self.variants)
        raise ProfileError(f"profile {self.name}: no variant for os-release ID {shown!r} "
                           f"(known: {known})")

    def services_of(self, variant: str | None) -> dict[str, Any]:
        merged = dict(self.services)
        if variant is not None:
            merged.update(self.variants[variant].services)
        return merged

    def placement(self, service: str, *, os_release: Mapping[str, str] | None = None,
                  variant: str | None = None, runtime: str | None = None) -> Placement:
        """How ``service`` runs under this profile. Services the profile does not list are
        systemd units of the same name."""
        chosen = self.variant(os_release, variant)
        entry = self.services_of(chosen).get(service, service)
        if isinstance(entry, str):
            return Placement(service, "systemd", unit=entry)
        entry = cast(Mapping[str, str], entry)
        if "container" in entry:
            return Placement(service, "container", container=entry["container"],
                             runtime=runtime or entry.get("runtime") or self.runtime,
                             wrapper=self.wrapper(entry["container"]))
        if "lxc" in entry:
            return Placement(service, "lxc", unit=entry["unit"], container=entry["lxc"])
        return Placement(service, "systemd", unit=entry["unit"])


def _schema_error(data: object, source: str) -> str | None:
    error = next(iter(sorted(_VALIDATOR.iter_errors(data), key=lambda e: list(e.path))), None)
    if error is None:
        return None
    where = ".".join(str(part) for part in error.absolute_path) or "(top)"
    return f"{source}: {where}: {' '.join(error.message.split())[:160]}"


def profile_from_data(data: object, source: str) -> Profile:
    """A profile from already-loaded data; ``source`` names it in messages."""
    problem = _schema_error(data, source)
    if problem is not None:
        raise ProfileError(problem)
    raw = cast(Mapping[str, Any], data)
    variants = {
        name: _Variant(tuple(i.lower() for i in spec["os_release_ids"]), dict(spec["services"]))
        for name, spec in cast(Mapping[str, Mapping[str, Any]], raw.get("variants", {})).items()
    }
    return Profile(name=str(raw["name"]), description=str(raw.get("description", "")),
                   source=source, runtime=str(raw.get("runtime", "docker")),
                   services=dict(raw.get("services", {})), variants=variants,
                   container_unit=raw.get("container_unit"))


def _read_file(path: Path) -> Profile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ProfileError(f"{path}: {where}invalid YAML") from None
    profile = profile_from_data(data, str(path))
    if profile.name != path.stem:
        raise ProfileError(f"{path}: name: {profile.name!r} differs from the file name "
                           f"{path.stem!r}")
    return profile


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _from_entry_point(entry: metadata.EntryPoint) -> Profile:
    try:
        loaded = entry.load()
    except Exception as exc:
        raise ProfileError(f"profile {entry.name}: entry point {entry.value} does not load: "
                           f"{type(exc).__name__}: {exc}") from None
    if isinstance(loaded, str | Path):
        return _read_file(Path(loaded))
    if isinstance(loaded, Mapping):
        return profile_from_data(loaded, f"entry point {entry.value}")
    raise ProfileError(f"profile {entry.name}: entry point {entry.value} gives "
                       f"{type(loaded).__name__}, expected a YAML path or a mapping")


def available_profiles(dirs: Iterable[Path] = ()) -> list[str]:
    """Names of every profile found: the inventory's directories, entry points, built-ins."""
    names = {p.stem for d in (*dirs, BUILTIN_DIR) if d.is_dir() for p in d.glob("*.yaml")}
    return sorted(names | set(_entry_points()))


def load_profile(name: str, dirs: Sequence[Path] = ()) -> Profile:
    """The profile ``name``, looked up in ``dirs`` first, then entry points, then built-ins."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ProfileError(f"profile name {name!r}: expected letters, digits and _.-")
    for directory in dirs:
        candidate = directory / f"{name}.yaml"
        if candidate.is_file():
            return _read_file(candidate)
    entry = _entry_points().get(name)
    if entry is not None:
        return _from_entry_point(entry)
    builtin = BUILTIN_DIR / f"{name}.yaml"
    if builtin.is_file():
        return _read_file(builtin)
    raise ProfileError(f"unknown profile {name!r} (known: {', '.join(available_profiles(dirs))})")


def parse_os_release(text: str) -> dict[str, str]:
    """``/etc/os-release`` as a mapping (shell-style quoting removed)."""
    result: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        try:
            words = shlex.split(value)
        except ValueError:
            words = [value.strip("\"'")]
        result[key.strip()] = " ".join(words)
    return result
