"""The cloud's long lists (servers, volumes) re-polled by what changed since the last listing,
and merged into it so that the result is what a full listing would give.

A drill observes the cloud many times: its verified state, the deviation, the wait for the
verified state (every 0.2 to 0.75 s while a cloud value deviates), the safeguards. Between two
observations almost nothing changes, yet a full listing costs every page the services serve
(Nova took 42 s for 10,000 servers on the 2-CPU development machine). So, between a drill's
boundaries, a probe asks only for what changed since its last listing (Nova's
``changes-since``, Cinder's ``updated_at`` filter, both comparing the rows' ``updated_at``) and
merges it into that listing; how each service shows a deletion is the probe's to handle.

:class:`Listings` is one drill's memory of its last listing of each kind, shared by its
snapshots and their threads. A re-poll starts only from a listing that began after the harness
last acted on the cloud: a fault injected or undone, a recovery's runbook. An action may write
the databases itself (``move_instances_in_database``'s and ``recover_after_power_loss``'s SQL, a
restored dump), and such a write sets no ``updated_at`` that the services' filters could see;
so every listing during an action, and the first one after it, is full. A service whose
answers carry no ``Date`` header is listed in full too: its clock, which the filters compare
with, is unknown.

Timestamps come from the service, never from this machine's clock: a listing's *mark* is its
first answer's ``Date`` less that request's round trip, the earliest the service can have read
its rows; the next re-poll asks for what changed since the mark less :data:`MARGIN`.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from stackdrill.core.errors import StackdrillError

__all__ = ["MARGIN", "ListInFull", "Listing", "Listings", "iso", "merged", "relisted",
           "server_clock"]

MARGIN = timedelta(seconds=10)
"""How far before the previous listing's mark a re-poll asks from. ``updated_at`` is kept in
whole seconds (MariaDB's DATETIME truncates the fraction, MySQL's rounds it); it is stamped by
the host that writes the row (a compute, a conductor, cinder-volume), whose clock may differ
from that of the API host that gave the mark (NTP keeps them within milliseconds; the lab's
hosts share one clock); and a row is stamped before its transaction commits, which on a loaded
control plane can be seconds later. What changed within the margin is returned again by the
next re-polls, a few items each; what a re-poll missed would stay wrong until the next full
listing."""

Item = Mapping[str, Any]


class ListInFull(StackdrillError):
    """A re-poll cannot give what a full listing would (the service cannot filter, or it shows
    a change only a full listing can resolve); the message says why, and the kind is listed in
    full."""


@dataclass(frozen=True)
class Listing:
    """One kind's list as last known: each item by its ID (the fields the probe keeps), the
    service's clock when the listing began (``mark``, None when its answer had no ``Date``) and
    this machine's monotonic clock then (``started``)."""

    items: Mapping[str, Item]
    mark: datetime | None
    started: float

    @property
    def since(self) -> datetime:
        """What the next re-poll asks from: the mark less :data:`MARGIN`."""
        if self.mark is None:
            raise ListInFull("the service's answers carry no Date header")
        return self.mark - MARGIN


class Listings:
    """A drill's last listing of each kind (``servers``, ``volumes``), safe to share between the
    threads of its snapshots, and a count of how each kind was listed, for the evidence."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[str, Listing] = {}
        self._acting = 0
        self._acted_at = -math.inf
        self._counts: Counter[tuple[str, str]] = Counter()

    @contextmanager
    def acting(self) -> Iterator[None]:
        """Around an action of the harness on the cloud: listings made meanwhile are full, and
        so is the first one after it."""
        with self._lock:
            self._acting += 1
        try:
            yield
        finally:
            with self._lock:
                self._acting -= 1
                self._acted_at = time.monotonic()

    def base(self, kind: str) -> tuple[Listing | None, str]:
        """The listing a re-poll of ``kind`` may start from, or None and why not."""
        with self._lock:
            kept = self._kept.get(kind)
            if self._acting:
                return None, "the harness is acting on the cloud"
            if kept is None:
                return None, "no listing yet"
            if kept.started <= self._acted_at:
                return None, "the harness acted on the cloud since the last listing"
            return kept, ""

    def keep(self, kind: str, listing: Listing) -> None:
        """Keep ``listing`` unless one that began later is kept already (two snapshots can list
        at once: the drill's and the safeguards')."""
        with self._lock:
            kept = self._kept.get(kind)
            if kept is None or listing.started >= kept.started:
                self._kept[kind] = listing

    def record(self, kind: str, how: str) -> None:
        with self._lock:
            self._counts[(kind, how)] += 1

    def report(self) -> str:
        """How each kind was listed, one line per way and how often: ``servers: re-polled:
        41``, ``volumes: full (a drill boundary): 3``."""
        with self._lock:
            counts = sorted(self._counts.items())
        return "\n".join(f"{kind}: {how}: {count}" for (kind, how), count in counts)


def relisted(kind: str, listings: Listings | None, incremental: bool,
             full: Callable[[], Listing], changes: Callable[[Listing], Listing]) -> Listing:
    """``kind``'s items now: re-polled by ``changes`` from the listing ``listings`` keeps when
    ``incremental`` allows it and one may be started from, else listed by ``full``; either way
    kept for the next. A re-poll that raises :class:`ListInFull` is replaced by a full listing,
    and the reason is recorded. Without ``listings``, a full listing, kept nowhere."""
    if listings is None:
        return full()
    base, why = listings.base(kind) if incremental else (None, "a drill boundary")
    if base is None:
        listing, how = full(), f"full ({why})"
    else:
        try:
            listing, how = changes(base), "re-polled"
        except ListInFull as exc:
            listing, how = full(), f"full (fallback: {exc})"
    listings.record(kind, how)
    listings.keep(kind, listing)
    return listing


def merged(base: Mapping[str, Item], changed: Mapping[str, Item],
           gone: Iterable[str] = ()) -> dict[str, Item]:
    """``base`` with the ``changed`` items (new ones included) put in and the ``gone`` ones
    taken out."""
    items = {**base, **changed}
    for key in gone:
        items.pop(key, None)
    return items


def server_clock(response: Any, elapsed: float) -> datetime | None:
    """The service's clock when a request was sent: its answer's ``Date`` (whole seconds,
    rounded down) less the ``elapsed`` seconds the request took; None without a readable
    ``Date``."""
    headers = getattr(response, "headers", None) or {}
    text = headers.get("Date")
    if not text:
        return None
    try:
        when = parsedate_to_datetime(str(text))
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC) - timedelta(seconds=elapsed)


def iso(when: datetime) -> str:
    """``when`` as the services' filters take it, in UTC and whole seconds rounded down
    (``2026-12-07T05:43:00Z``): rounding down asks for a little more, never less."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
