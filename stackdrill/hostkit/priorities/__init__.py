"""Service restoration priority lists: data files that say in which order a cloud's services
come back after a complete failure (the operations guide's Table 11-1 is the built-in one)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stackdrill.core.errors import BadInput

BUILTIN_DIR = Path(__file__).resolve().parent
CHECKS = ("hosts_answer", "start_instances", "database_integrity", "hypervisors_match_database")


class PriorityError(BadInput, ValueError):
    """A priority list that cannot be used; the message is one line."""


@dataclass(frozen=True)
class Tier:
    name: str
    services: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class PriorityList:
    source: str
    tiers: tuple[Tier, ...]

    def services(self) -> list[str]:
        return [service for tier in self.tiers for service in tier.services]


def _names(where: str, raw: Any, key: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PriorityError(f"{where}: {key} must be a list of names")
    return tuple(value)


def parse_priorities(raw: Any, where: str) -> PriorityList:
    if not isinstance(raw, dict) or not isinstance(raw.get("tiers"), list) or not raw["tiers"]:
        raise PriorityError(f"{where}: expected a mapping with a non-empty list 'tiers'")
    tiers = []
    for number, item in enumerate(raw["tiers"], 1):
        at = f"{where}: tier {number}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise PriorityError(f"{at}: each tier needs a name")
        unknown = sorted(set(item) - {"name", "services", "checks", "note"})
        if unknown:
            raise PriorityError(f"{at}: unknown key {unknown[0]!r}")
        checks = _names(at, item, "checks")
        bad = [c for c in checks if c not in CHECKS]
        if bad:
            raise PriorityError(f"{at}: unknown check {bad[0]!r} (known: {', '.join(CHECKS)})")
        tiers.append(Tier(item["name"], _names(at, item, "services"), checks,
                          str(item.get("note", ""))))
    seen: set[str] = set()
    for tier in tiers:
        twice = seen & set(tier.services)
        if twice:
            raise PriorityError(f"{where}: {sorted(twice)[0]} is listed in two tiers")
        seen |= set(tier.services)
    return PriorityList(str(raw.get("source", where)), tuple(tiers))


def load_priorities(name: str) -> PriorityList:
    """A built-in list by name (``ops-guide-table-11-1``) or a YAML file by path."""
    path = Path(name) if ("/" in name or name.endswith((".yaml", ".yml"))) \
        else BUILTIN_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml")))
        raise PriorityError(f"no priority list {name!r} (built in: {known}; or a path to a "
                            f"YAML file)")
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise PriorityError(f"{path}: {str(exc).splitlines()[0]}") from None
    return parse_priorities(raw, str(path))


def priority_list(text: str) -> PriorityList:
    """A ``Param`` parser: the list must load."""
    return load_priorities(text)
