"""What a scenario says tenants may feel, read from its steps and judged against the figures the
tenant observers report (:mod:`stackdrill.cloud.tenant_view`).

The sentences (``stackdrill.engine.grammar`` holds their patterns)::

    the <api> API was unavailable for at most N seconds
    every API was unavailable for at most N seconds
    <who> saw <claim>[, <claim>...][ and <claim>]
        who:   the tenants | each canary | the canary on <compute host>
        claim: at most N seconds of heartbeat stall | no heartbeat stall
               at most N seconds of volume I/O stall | no volume I/O stall
               at most N reboots | at most one reboot | no reboot
               at most N lost writes | no lost write
               at most N I/O errors | no I/O error
    no canary rebooted
    each canary rebooted at most once | at most N times
    the canary on <compute host> rebooted at most once | at most N times
    the canaries' heartbeats stalled for at most N seconds

``<api>`` is identity, compute, block storage, image or object storage. "The tenants" and "each
canary" mean the canary of every compute host of the inventory. A time is a budget like any
other: ``--budget-scale`` multiplies it. A heartbeat stall counts a canary no longer alive when
the step runs (``alive`` 0) as stalled for as long as it has been silent (``silent_s``).

An expectation fails on a figure above its limit, with the measured figure and its longest
interval in one line, and on a figure no observer reported: a subject nobody watched is never
passed silently.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stackdrill.cloud.tenant_view import API_PREFIX, CANARY_PREFIX, Outage
from stackdrill.core.errors import InvalidValue
from stackdrill.engine.grammar import (
    API_UNAVAILABLE,
    CANARY_REBOOTED,
    HEARTBEATS_STALLED,
    NO_CANARY_REBOOTED,
    TENANTS_SAW,
)
from stackdrill.inventory.model import Inventory

#: How a step names each API (its service type is accepted too).
SPOKEN_APIS = {"identity": "identity", "compute": "compute", "block storage": "block-storage",
               "image": "image", "object storage": "object-store"}


@dataclass(frozen=True)
class Measure:
    """A figure a claim bounds: its name under a subject, its words, whether it is a time
    (scaled by ``--budget-scale``), and the kind of the outages behind it."""

    figure: str
    words: str
    seconds: bool
    kind: str | None = None


UNAVAILABLE = Measure("unavailable_s", "unavailability", True, "unavailable")
STALL = Measure("stall_s", "heartbeat stall", True, "stall")
IO_STALL = Measure("io_stall_s", "volume I/O stall", True, "io-stall")
REBOOTS = Measure("reboots", "reboot", False, "reboot")
LOST_WRITES = Measure("lost_writes", "lost write", False)
IO_ERRORS = Measure("io_errors", "I/O error", False)
CLAIMED = {m.words.lower(): m for m in (STALL, IO_STALL, REBOOTS, LOST_WRITES, IO_ERRORS)}
SILENT = "silent_s"
ALIVE = "alive"
_CLAIM = re.compile(r"(?:(?P<no>no)|at most (?P<n>\d+(?:\.\d+)?|one)"
                    r"(?P<unit> seconds? of)?) (?P<measure>.+)")
_SEPARATOR = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")


@dataclass(frozen=True)
class Bound:
    measure: Measure
    limit: float


@dataclass(frozen=True)
class Expectation:
    """One step's expectation: on the API subjects or the canary subjects (``scope``), on one
    of them (``subject``) or on each one (None), the figures' limits."""

    scope: str  # API_PREFIX or CANARY_PREFIX
    subject: str | None
    bounds: tuple[Bound, ...]

    def describe(self) -> str:
        """``api:compute/unavailable_s <= 90``; ``canary:*/reboots <= 0``."""
        subject = self.subject or f"{self.scope}*"
        return ", ".join(f"{subject}/{b.measure.figure} <= {b.limit:g}" for b in self.bounds)


def api_expectation(api: str | None, seconds: float) -> Expectation:
    """``the <api> API`` (``every API`` when None) ``was unavailable for at most N seconds``."""
    subject = api_subject(api) if api is not None else None
    return Expectation(API_PREFIX, subject, (Bound(UNAVAILABLE, seconds),))


def saw_expectation(host: str | None, claims: str) -> Expectation:
    """``the tenants`` or ``each canary`` (``the canary on <host>``) ``saw <claims>``."""
    return Expectation(CANARY_PREFIX, _canary(host),
                       tuple(_claim(part) for part in _SEPARATOR.split(claims)))


def reboots_expectation(host: str | None, times: str | None) -> Expectation:
    """``each canary`` (``the canary on <host>``) ``rebooted at most once`` or ``N times``;
    ``no canary rebooted`` when ``times`` is None."""
    limit = 0.0 if times is None else 1.0 if times == "once" else float(times.split()[0])
    return Expectation(CANARY_PREFIX, _canary(host), (Bound(REBOOTS, limit),))


def stall_expectation(seconds: float) -> Expectation:
    """``the canaries' heartbeats stalled for at most N seconds``."""
    return Expectation(CANARY_PREFIX, None, (Bound(STALL, seconds),))


def api_subject(name: str) -> str:
    """``block storage`` (or ``block-storage``) -> ``api:block-storage``; refuses others."""
    spoken = " ".join(name.lower().replace("-", " ").split())
    found = SPOKEN_APIS.get(spoken) or SPOKEN_APIS.get(spoken.replace("object store",
                                                                      "object storage"))
    if found is None:
        raise InvalidValue(f"unknown API {name!r} (known: {', '.join(SPOKEN_APIS)})")
    return API_PREFIX + found


def _claim(text: str) -> Bound:
    match = _CLAIM.fullmatch(text.strip())
    words = match["measure"].strip() if match else ""
    measure = CLAIMED.get(words.lower()) or CLAIMED.get(words.lower().removesuffix("s"))
    if match is None or measure is None or bool(match["unit"]) != (
            measure.seconds and not match["no"]) or (measure.seconds and match["n"] == "one"):
        raise InvalidValue(
            f"cannot read the claim {text.strip()!r}: expected 'at most N seconds of' heartbeat "
            f"stall or volume I/O stall, 'at most N' reboots, lost writes or I/O errors, or "
            f"'no' with any of them")
    if match["no"]:
        return Bound(measure, 0.0)
    return Bound(measure, 1.0 if match["n"] == "one" else float(match["n"]))


def _canary(host: str | None) -> str | None:
    return None if host is None else CANARY_PREFIX + host


def parse(text: str) -> Expectation | None:
    """The expectation a step's text states; None when it states none; refuses one that
    names an unknown API or cannot be read (:class:`InvalidValue`, one line)."""
    text = text.strip()
    if (m := re.fullmatch(API_UNAVAILABLE, text)) is not None:
        return api_expectation(m["api"], float(m["seconds"]))
    if (m := re.fullmatch(TENANTS_SAW, text)) is not None:
        return saw_expectation(m["host"], m["claims"])
    if re.fullmatch(NO_CANARY_REBOOTED, text):
        return reboots_expectation(None, None)
    if (m := re.fullmatch(CANARY_REBOOTED, text)) is not None:
        return reboots_expectation(m["host"], m["times"])
    if (m := re.fullmatch(HEARTBEATS_STALLED, text)) is not None:
        return stall_expectation(float(m["seconds"]))
    return None


# -- at collection ----------------------------------------------------------------------------
def step_problems(where: str, text: str) -> list[str]:
    """An expectation that names an unknown API, or a claim that cannot be read."""
    try:
        parse(text)
    except InvalidValue as exc:
        return [f"{where}: {exc}"]
    return []


def canary_problems(location: str, steps: Iterable[Any], inventory: Inventory) -> list[str]:
    """An expectation on the canary of a host must name a compute host of the inventory; one
    on each canary needs a compute host."""
    computes = sorted(spec.name for spec in inventory.with_role("compute"))
    problems = []
    for step in steps:
        try:
            found = parse(step.name)
        except InvalidValue:
            continue
        if found is None or found.scope != CANARY_PREFIX:
            continue
        where = f"{location}:{step.line_number}"
        host = found.subject.removeprefix(CANARY_PREFIX) if found.subject else None
        if host is None and not computes:
            problems.append(f"{where}: the expectation is on each canary, but the inventory "
                            f"has no compute host, so no canary")
        elif host is not None and host not in computes:
            problems.append(f"{where}: no canary on {host!r}: the canaries run on the compute "
                            f"hosts ({', '.join(computes) or 'none in the inventory'})")
    return problems


# -- judging ----------------------------------------------------------------------------------
def _clock(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%H:%M:%S")


def name_of(subject: str) -> str:
    """``api:block-storage`` -> ``the block storage API``; ``canary:c1`` -> ``the canary on
    c1``."""
    if subject.startswith(API_PREFIX):
        api = subject.removeprefix(API_PREFIX)
        spoken = next((words for words, name in SPOKEN_APIS.items() if name == api), api)
        return f"the {spoken} API"
    return f"the canary on {subject.removeprefix(CANARY_PREFIX)}"


def _measured(measure: Measure, value: float) -> str:
    if measure is UNAVAILABLE:
        return f"was unavailable for {value:.1f} s"
    if measure.seconds:
        return f"saw {value:.1f} s of {measure.words}"
    count = int(value) if value == int(value) else value
    if measure is REBOOTS:
        return "rebooted once" if count == 1 else f"rebooted {count} times"
    if measure is LOST_WRITES:
        return f"lost {count} acknowledged write{'' if count == 1 else 's'}"
    return f"logged {count} guest-kernel I/O error{'' if count == 1 else 's'}"


def _intervals(subject: str, measure: Measure, outages: Sequence[Outage]) -> str:
    """`` (3 outages; longest from 12:01:02 to 12:02:39 UTC: its detail)``, or nothing."""
    own = [o for o in outages if o.lane == subject and o.kind == measure.kind]
    if not own or not measure.seconds:
        return ""
    longest = max(own, key=lambda outage: outage.seconds)
    label = "outage" if measure is UNAVAILABLE else "stall"
    detail = f": {longest.detail}" if longest.detail else ""
    return (f" ({len(own)} {label}{'' if len(own) == 1 else 's'}; longest from "
            f"{_clock(longest.start)} to {_clock(longest.end)} UTC{detail})")


def figure_value(figures: Mapping[str, float], subject: str, measure: Measure) -> float | None:
    """A subject's figure for ``measure``, None if never reported; the heartbeat stall of a
    canary no longer alive (``alive`` 0: silent for longer than a read's lag) is at least the
    silence still going on (``silent_s``)."""
    value = figures.get(f"{subject}/{measure.figure}")
    if measure is STALL and value is not None and figures.get(f"{subject}/{ALIVE}", 1.0) == 0:
        value = max(value, figures.get(f"{subject}/{SILENT}", 0.0))
    return value


@dataclass(frozen=True)
class Observed:
    """What the observers reported, for judging: the figures, outages, and subjects."""

    figures: Mapping[str, float]
    outages: Sequence[Outage]
    subjects: frozenset[str]
    observers: int


def _subjects(expectation: Expectation, observed: Observed,
              canary_hosts: Sequence[str]) -> tuple[list[str], str | None]:
    """The subjects the expectation judges, or why there are none."""
    if expectation.subject is not None:
        return [expectation.subject], None
    if expectation.scope == CANARY_PREFIX:
        expected = {CANARY_PREFIX + host for host in canary_hosts}
        found = sorted(expected | {s for s in observed.subjects if s.startswith(CANARY_PREFIX)})
        return found, None if found else "no canary was observed"
    found = sorted(s for s in observed.subjects if s.startswith(API_PREFIX))
    return found, None if found else "no API was observed: no API sampler ran in this drill"


def judge(expectation: Expectation, observed: Observed, canary_hosts: Sequence[str],
          scale: float = 1.0) -> list[str]:
    """Each way the figures break the expectation, one line each (nothing when they keep it);
    a time limit is multiplied by ``scale``."""
    if observed.observers == 0:
        return ["nothing observed what the tenants felt: no tenant observer ran in this drill "
                "(they need the cloud's API, and the canary workload for a canary)"]
    subjects, none = _subjects(expectation, observed, canary_hosts)
    if none is not None:
        return [none]
    problems = []
    for subject in subjects:
        for bound in expectation.bounds:
            problem = _judge_one(subject, bound, observed, scale)
            if problem is not None:
                problems.append(problem)
    return problems


def _judge_one(subject: str, bound: Bound, observed: Observed, scale: float) -> str | None:
    measure = bound.measure
    value = figure_value(observed.figures, subject, measure)
    if value is None:
        why = "no observer watches it" if subject not in observed.subjects else \
            "its observer has not reported it"
        return (f"{name_of(subject)}: no {measure.words} figure ({subject}/{measure.figure}): "
                f"{why}")
    limit = bound.limit * scale if measure.seconds else bound.limit
    if value <= limit:
        return None
    if limit == 0:
        expected = "none expected"
    else:
        shown = f"{limit:g} s" if measure.seconds else f"{limit:g}"
        scaled = f" ({bound.limit:g} s x budget scale {scale:g})" \
            if measure.seconds and scale != 1 else ""
        expected = f"more than the {shown}{scaled} expected"
    return (f"{name_of(subject)} {_measured(measure, value)}, {expected}"
            f"{_intervals(subject, measure, observed.outages)}")
