"""Verified-state snapshots and their tolerant comparison.

A :class:`Snapshot` is a flat mapping from a path such as
``"host:compute1/unit:libvirtd/active"`` to a JSON-like scalar or list.  A
drill takes one before injecting faults and one after recovery;
:func:`compare` lists every difference that the :class:`Tolerance` rules do
not allow.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal, cast, get_args

from stackdrill.core.errors import InvalidValue

__all__ = [
    "Deviation",
    "DeviationKind",
    "Rule",
    "RuleKind",
    "Snapshot",
    "Tolerance",
    "compare",
    "covers",
    "host_wide_source",
    "render_diff",
]

RuleKind = Literal["exact", "ignore", "abs", "rel", "min", "max", "subset", "superset", "present"]
DeviationKind = Literal["changed", "missing", "added", "unobserved", "unknown"]
"""``unobserved``: a probe or a host could not be observed (the path is its error key);
``unknown``: a path of the verified state whose probe or host could not be observed this time,
so nothing is known of it (never taken for a change)."""

_RULE_KINDS: tuple[str, ...] = get_args(RuleKind)
_VALUED_KINDS = frozenset({"abs", "rel", "min", "max"})
_NON_NEGATIVE_KINDS = frozenset({"abs", "rel"})
_ABSENT = "<absent>"


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _format_number(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def host_wide_source(host: str) -> str:
    """The error key of a host that could not be observed at all (and the focus on all of it)."""
    return f"host:{host}/ssh"


def _host_of(source: str) -> str | None:
    if not source.startswith("host:"):
        return None
    return source[len("host:"):].split("/", 1)[0]


def covers(focus: frozenset[str], source: str) -> bool:
    """Whether a focus (a set of sources) includes ``source``."""
    if source in focus:
        return True
    host = _host_of(source)
    return host is not None and host_wide_source(host) in focus


@dataclass(frozen=True)
class Snapshot:
    """``sources`` says which probe observed each path (``host:c1/probe:systemd_units``,
    ``cloud/probe:cloud_api``); it is known only for snapshots taken in this process."""

    taken_at: float
    values: Mapping[str, Any]
    errors: Mapping[str, str] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def focus_on(self, deviations: Iterable[Deviation],
                 baseline: Snapshot) -> frozenset[str] | None:
        """The sources to observe again to see whether ``deviations`` are gone; ``None`` when
        some deviation's source is not known (then only a full snapshot will do)."""
        focus: set[str] = set()
        for deviation in deviations:
            if deviation.kind == "unobserved":
                focus.add(deviation.path)
                continue
            source = self.sources.get(deviation.path) or baseline.sources.get(deviation.path)
            if source is None:
                return None
            focus.add(source)
        return frozenset(focus)

    def merged(self, partial: Snapshot, focus: frozenset[str]) -> Snapshot:
        """This snapshot with everything ``focus`` covers replaced by ``partial``'s observation
        of it (taken at ``partial``'s time)."""
        def kept(key: str, source: str | None) -> bool:
            return source is None or not covers(focus, source)

        values = {path: value for path, value in self.values.items()
                  if kept(path, self.sources.get(path))}
        errors = {key: message for key, message in self.errors.items() if kept(key, key)}
        sources = {path: source for path, source in self.sources.items() if path in values}
        values.update(partial.values)
        errors.update(partial.errors)
        sources.update(partial.sources)
        return Snapshot(partial.taken_at, dict(sorted(values.items())),
                        dict(sorted(errors.items())), sources)

    def to_json(self) -> dict[str, Any]:
        return {
            "taken_at": self.taken_at,
            "values": dict(self.values),
            "errors": dict(self.errors),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Snapshot:
        if not isinstance(data, Mapping):
            raise InvalidValue(f"snapshot must be a JSON object, got {type(data).__name__}")
        taken_at = data.get("taken_at")
        if not _is_number(taken_at):
            raise InvalidValue(f"snapshot 'taken_at' must be a number, got {taken_at!r}")
        values = data.get("values")
        if not isinstance(values, Mapping) or not all(isinstance(k, str) for k in values):
            raise InvalidValue("snapshot 'values' must be an object with string keys")
        errors = data.get("errors", {})
        if not isinstance(errors, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in errors.items()
        ):
            raise InvalidValue("snapshot 'errors' must be an object of strings")
        return cls(
            taken_at=float(cast(float, taken_at)),
            values=dict(values),
            errors=dict(errors),
        )


@dataclass(frozen=True)
class Rule:
    pattern: str
    kind: RuleKind
    value: float | None = None

    def __post_init__(self) -> None:
        if not self.pattern:
            raise InvalidValue("rule pattern must not be empty")
        if self.kind not in _RULE_KINDS:
            raise InvalidValue(
                f"unknown rule kind {self.kind!r}; expected one of {', '.join(_RULE_KINDS)}"
            )
        if self.kind in _VALUED_KINDS:
            if self.value is None or not _is_number(self.value) or math.isnan(self.value):
                raise InvalidValue(f"rule kind {self.kind!r} needs a number, got {self.value!r}")
            if self.kind in _NON_NEGATIVE_KINDS and self.value < 0:
                raise InvalidValue(f"rule kind {self.kind!r} needs a value >= 0, got {self.value}")
        elif self.value is not None:
            raise InvalidValue(f"rule kind {self.kind!r} takes no value, got {self.value!r}")

    @classmethod
    def parse(cls, text: str) -> Rule:
        """Parse ``"<pattern> <kind> [<number>]"``, e.g. ``"host:*/load abs 2.5"``."""
        shown = _one_line(text.strip())
        parts = text.split()
        if len(parts) < 2 or (len(parts) == 2 and parts[0] in _RULE_KINDS):
            raise InvalidValue(f"bad rule {shown!r}: expected '<pattern> <kind> [<number>]'")
        if parts[-1] in _RULE_KINDS:
            kind, number, pattern = parts[-1], None, text.strip().rsplit(maxsplit=1)[0]
        elif len(parts) >= 3 and parts[-2] in _RULE_KINDS:
            kind, number, pattern = parts[-2], parts[-1], text.strip().rsplit(maxsplit=2)[0]
        else:
            raise InvalidValue(
                f"bad rule {shown!r}: unknown kind; expected one of {', '.join(_RULE_KINDS)}"
            )
        value: float | None = None
        if number is not None:
            try:
                value = float(number)
            except ValueError:
                raise InvalidValue(f"bad rule {shown!r}: {number!r} is not a number") from None
            if not math.isfinite(value):
                raise InvalidValue(f"bad rule {shown!r}: {number!r} is not a finite number")
        try:
            return cls(pattern=pattern, kind=cast(RuleKind, kind), value=value)
        except InvalidValue as exc:
            raise InvalidValue(f"bad rule {shown!r}: {exc}") from None

    @property
    def text(self) -> str:
        if self.value is None:
            return f"{self.pattern} {self.kind}"
        return f"{self.pattern} {self.kind} {_format_number(self.value)}"

    def __str__(self) -> str:
        return self.text

    def matches(self, path: str) -> bool:
        return fnmatchcase(path, self.pattern)

    def allows(self, baseline: Any, current: Any) -> bool:
        """Whether ``current`` is acceptable given ``baseline`` (both present)."""
        kind = self.kind
        if kind in ("ignore", "present"):
            return True
        if kind == "exact":
            return _json_equal(baseline, current)
        if kind in ("subset", "superset"):
            if not isinstance(baseline, list) or not isinstance(current, list):
                return False
            small, large = (current, baseline) if kind == "subset" else (baseline, current)
            return all(any(_json_equal(a, b) for b in large) for a in small)
        limit = cast(float, self.value)
        if not _is_number(current):
            return False
        if kind == "min":
            return bool(current >= limit)
        if kind == "max":
            return bool(current <= limit)
        if not _is_number(baseline):
            return False
        diff = abs(current - baseline)
        if kind == "abs":
            return bool(diff <= limit)
        return bool(diff <= limit * abs(baseline))


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple | Mapping) or isinstance(b, list | tuple | Mapping):
        return False
    return bool(a == b)


@dataclass(frozen=True)
class Deviation:
    path: str
    baseline: Any
    current: Any
    rule: str
    kind: DeviationKind

    def __str__(self) -> str:
        if self.kind == "unobserved":
            return f"{self.path}: unobserved: {_one_line(str(self.current))} ({self.rule})"
        before = _ABSENT if self.kind == "added" else repr(self.baseline)
        after = {"missing": _ABSENT, "unknown": "<unknown>"}.get(self.kind, repr(self.current))
        return f"{self.path}: {before} -> {after} ({self.rule})"


class Tolerance:
    """An ordered list of rules; for each path the last matching rule applies."""

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)

    def __repr__(self) -> str:
        return f"Tolerance({list(self.rules)!r})"

    def extended(self, rules: Iterable[Rule]) -> Tolerance:
        return Tolerance((*self.rules, *rules))

    def rule_for(self, path: str) -> Rule | None:
        for rule in reversed(self.rules):
            if rule.matches(path):
                return rule
        return None


def compare(baseline: Snapshot, current: Snapshot, tolerance: Tolerance) -> list[Deviation]:
    """Every deviation of ``current`` from ``baseline``, sorted by path."""
    deviations: list[Deviation] = []
    for path in baseline.values.keys() | current.values.keys():
        rule = tolerance.rule_for(path)
        if rule is not None and rule.kind == "ignore":
            continue
        rule_text = rule.text if rule is not None else "exact"
        if path not in current.values:
            kind: DeviationKind = "unknown" if _unobserved(path, baseline, current) else "missing"
            deviations.append(Deviation(path, baseline.values[path], None, rule_text, kind))
        elif path not in baseline.values:
            deviations.append(Deviation(path, None, current.values[path], rule_text, "added"))
        else:
            before, after = baseline.values[path], current.values[path]
            allowed = rule.allows(before, after) if rule is not None else _json_equal(before, after)
            if not allowed:
                deviations.append(Deviation(path, before, after, rule_text, "changed"))
    for key, message in current.errors.items():
        rule = tolerance.rule_for(key)
        if rule is not None and rule.kind == "ignore":
            continue
        deviations.append(
            Deviation(key, None, message, rule.text if rule is not None else "exact", "unobserved")
        )
    deviations.sort(key=lambda d: (d.path, d.kind))
    return deviations


def _unobserved(path: str, baseline: Snapshot, current: Snapshot) -> bool:
    """Whether ``path``'s probe (or its whole host) failed in ``current``; a path whose probe
    is not known (a verified state read from a file) by its host alone."""
    source = current.sources.get(path) or baseline.sources.get(path) or path
    return covers(frozenset(current.errors), source)


def render_diff(deviations: list[Deviation]) -> str:
    if not deviations:
        return "no deviations"
    return "\n".join(str(deviation) for deviation in deviations)
