"""What a scenario says tenants may feel: the sentences read, an unknown API or a claim that
cannot be read refused, and the verdicts: a figure above its limit fails with the measured
figure and its longest interval, a figure nobody reported fails, never passes; and the drill's
watch that starts its observers with the verified state and stops them when it closes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from stackdrill.api._registry import Registries
from stackdrill.cloud.tenant_view import Outage
from stackdrill.core.errors import DrillError, InvalidValue
from stackdrill.engine.drill import Drill
from stackdrill.engine.journal import Journal
from stackdrill.engine.tenant_expectations import (
    SPOKEN_APIS,
    Observed,
    judge,
    parse,
)
from stackdrill.engine.tenant_watch import FIGURES, OUTAGES

AT = dt.datetime(2026, 12, 6, 12, 1, 2, tzinfo=dt.UTC).timestamp()


def bounds(text: str) -> list[tuple[str | None, str, float]]:
    found = parse(text)
    assert found is not None, text
    return [(found.subject, b.measure.figure, b.limit) for b in found.bounds]


@pytest.mark.parametrize(("text", "expected"), [
    ("the compute API was unavailable for at most 90 seconds",
     [("api:compute", "unavailable_s", 90.0)]),
    ("the block storage API was unavailable for at most 1.5 seconds",
     [("api:block-storage", "unavailable_s", 1.5)]),
    ("the object-store API was unavailable for at most 60 seconds",
     [("api:object-store", "unavailable_s", 60.0)]),
    ("every API was unavailable for at most 120 seconds", [(None, "unavailable_s", 120.0)]),
    ("the tenants saw at most 45 seconds of volume I/O stall and no lost write",
     [(None, "io_stall_s", 45.0), (None, "lost_writes", 0.0)]),
    ("each canary saw at most 20 seconds of heartbeat stall, at most one reboot and no I/O "
     "error", [(None, "stall_s", 20.0), (None, "reboots", 1.0), (None, "io_errors", 0.0)]),
    ("the canary on compute1 saw at most 2 reboots and at most 3 lost writes",
     [("canary:compute1", "reboots", 2.0), ("canary:compute1", "lost_writes", 3.0)]),
    ("no canary rebooted", [(None, "reboots", 0.0)]),
    ("each canary rebooted at most once", [(None, "reboots", 1.0)]),
    ("the canary on compute2 rebooted at most 2 times", [("canary:compute2", "reboots", 2.0)]),
    ("the canaries' heartbeats stalled for at most 20 seconds", [(None, "stall_s", 20.0)]),
])
def test_the_sentences_read(text: str, expected: list[tuple[str | None, str, float]]) -> None:
    assert bounds(text) == expected


def test_other_steps_state_no_expectation() -> None:
    assert parse("the cloud is back to its verified state within 90 seconds") is None


@pytest.mark.parametrize(("text", "message"), [
    ("the network API was unavailable for at most 90 seconds",
     "unknown API 'network' (known: identity, compute, block storage, image, object storage)"),
    ("the tenants saw at most 45 apples", "cannot read the claim 'at most 45 apples'"),
    ("the tenants saw at most 45 volume I/O stall", "cannot read the claim"),
    ("each canary saw at most 3 seconds of reboot", "cannot read the claim"),
    ("each canary saw at most one seconds of heartbeat stall", "cannot read the claim"),
])
def test_an_unknown_api_or_an_unreadable_claim_is_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidValue, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(text)


def test_every_api_has_a_spoken_name() -> None:
    from stackdrill.cloud.api_sampler import API_NAMES

    assert sorted(SPOKEN_APIS.values()) == sorted(API_NAMES)


def observed(figures: Mapping[str, float], outages: tuple[Outage, ...] = (),
             subjects: set[str] | None = None) -> Observed:
    found = subjects if subjects is not None else {n.split("/")[0] for n in figures}
    return Observed(figures, outages, frozenset(found), observers=1)


def verdict(text: str, seen: Observed, hosts: tuple[str, ...] = ("compute1", "compute2"),
            scale: float = 1.0) -> list[str]:
    found = parse(text)
    assert found is not None
    return judge(found, seen, hosts, scale)


def test_an_api_over_its_limit_fails_with_the_figure_and_its_longest_outage() -> None:
    outages = (Outage("api:compute", "unavailable", AT - 300, AT - 290, "10 failed samples"),
               Outage("api:compute", "unavailable", AT, AT + 97.2, "97 failed samples: "
                                                                   "97 x HTTP 503"),
               Outage("api:identity", "unavailable", AT, AT + 200))
    seen = observed({"api:compute/unavailable_s": 97.2, "api:identity/unavailable_s": 3.0},
                    outages)
    assert verdict("the compute API was unavailable for at most 90 seconds", seen) == [
        "the compute API was unavailable for 97.2 s, more than the 90 s expected (2 outages; "
        "longest from 12:01:02 to 12:02:39 UTC: 97 failed samples: 97 x HTTP 503)"]
    assert verdict("the compute API was unavailable for at most 90 seconds", seen,
                   scale=1.5) == []
    assert verdict("every API was unavailable for at most 5 seconds", seen)[0].startswith(
        "the compute API was unavailable for 97.2 s, more than the 5 s expected")
    assert verdict("the identity API was unavailable for at most 5 seconds", seen) == []


def test_a_figure_nobody_reported_fails_the_expectation() -> None:
    seen = observed({"api:identity/unavailable_s": 0.0, "canary:compute1/reboots": 0})
    assert verdict("the image API was unavailable for at most 90 seconds", seen) == [
        "the image API: no unavailability figure (api:image/unavailable_s): no observer "
        "watches it"]
    assert verdict("no canary rebooted", seen) == [
        "the canary on compute2: no reboot figure (canary:compute2/reboots): no observer "
        "watches it"]
    unreported = observed({}, subjects={"canary:compute1", "canary:compute2"})
    assert verdict("the canary on compute1 saw no lost write", unreported) == [
        "the canary on compute1: no lost write figure (canary:compute1/lost_writes): its "
        "observer has not reported it"]
    nothing = Observed({}, (), frozenset(), observers=0)
    assert verdict("no canary rebooted", nothing)[0].startswith(
        "nothing observed what the tenants felt: no tenant observer ran in this drill")
    no_api = observed({"canary:compute1/reboots": 0})
    assert verdict("every API was unavailable for at most 5 seconds", no_api) == [
        "no API was observed: no API sampler ran in this drill"]


def test_the_canaries_verdicts_name_each_canary_and_what_it_felt() -> None:
    figures = {"canary:compute1/io_stall_s": 52.34, "canary:compute1/lost_writes": 0,
               "canary:compute2/io_stall_s": 12.0, "canary:compute2/lost_writes": 3,
               "canary:compute1/reboots": 2, "canary:compute2/reboots": 1,
               "canary:compute1/stall_s": 0.4, "canary:compute1/silent_s": 31.0,
               "canary:compute1/alive": 0.0, "canary:compute2/alive": 1.0,
               "canary:compute2/stall_s": 0.3, "canary:compute2/silent_s": 0.5}
    outages = (Outage("canary:compute1", "io-stall", AT, AT + 52.34),)
    seen = observed(figures, outages)
    assert verdict("the tenants saw at most 45 seconds of volume I/O stall and no lost write",
                   seen) == [
        "the canary on compute1 saw 52.3 s of volume I/O stall, more than the 45 s expected "
        "(1 stall; longest from 12:01:02 to 12:01:54 UTC)",
        "the canary on compute2 lost 3 acknowledged writes, none expected"]
    assert verdict("each canary rebooted at most once", seen) == [
        "the canary on compute1 rebooted 2 times, more than the 1 expected"]
    assert verdict("no canary rebooted", seen) == [
        "the canary on compute1 rebooted 2 times, none expected",
        "the canary on compute2 rebooted once, none expected"]
    # a canary still silent (no longer alive) counts as stalled for as long
    assert verdict("the canaries' heartbeats stalled for at most 20 seconds", seen) == [
        "the canary on compute1 saw 31.0 s of heartbeat stall, more than the 20 s expected"]
    assert verdict("the canaries' heartbeats stalled for at most 20 seconds", seen,
                   scale=2) == []
    assert verdict("the canaries' heartbeats stalled for at most 10 seconds", seen,
                   scale=2)[0].endswith("more than the 20 s (10 s x budget scale 2) expected")
    assert verdict("the canary on compute2 saw at most 1 reboot", seen) == []


# -- the drill's watch ------------------------------------------------------------------------
class FakeObserver:
    def __init__(self, figures: dict[str, float], fail: str | None = None) -> None:
        self._figures = figures
        self.fail = fail
        self.started = self.stopped = 0

    def start(self) -> None:
        if self.fail == "start":
            raise RuntimeError("no console")
        self.started += 1

    def stop(self) -> None:
        self.stopped += 1

    def subjects(self) -> frozenset[str]:
        return frozenset(name.split("/")[0] for name in self._figures)

    def figures(self) -> Mapping[str, float]:
        if self.fail == "figures":
            raise RuntimeError("console unreadable")
        return dict(self._figures)

    def outages(self) -> list[Outage]:
        return [Outage("api:compute", "unavailable", AT, AT + 5.0, "5 failed samples")]

    def log(self) -> list[str]:
        return ["12:01:02.000 UTC api:compute: HTTP 503"]


class Targets(list[Any]):
    listeners: list[Any] = []  # noqa: RUF012


@pytest.fixture
def drill(tmp_path: Path) -> Drill:
    return Drill("t", Targets(), Registries(), Journal(tmp_path / "journal.jsonl"))  # type: ignore[arg-type]


def test_the_drill_watches_from_its_verified_state_until_it_closes(drill: Drill) -> None:
    observer = FakeObserver({"api:compute/unavailable_s": 5.0, "api:compute/samples": 30})
    broken = FakeObserver({"canary:compute1/reboots": 0}, fail="start")
    drill.record_baseline(observers=[observer, broken])
    assert observer.started == 1 and observer.stopped == 0
    with pytest.raises(DrillError, match=r"the compute API was unavailable for 5\.0 s, more "
                                         r"than the 1 s expected \(1 outage; longest from "
                                         r"12:01:02 to 12:01:07 UTC: 5 failed samples\)"):
        drill.tenants.check(parse("the compute API was unavailable for at most 1 second"),
                            [])  # type: ignore[arg-type]
    with pytest.raises(DrillError, match=r"no reboot figure .* no observer watches it \["
                                         r"FakeObserver did not start: RuntimeError: no "
                                         r"console\]"):
        drill.tenants.check(parse("the canary on compute1 saw no reboot"),
                            ["compute1"])  # type: ignore[arg-type]
    drill.close()
    drill.close()
    assert observer.stopped == 1
    assert drill.result.tenant_figures == {"api:compute/unavailable_s": 5.0,
                                           "api:compute/samples": 30}
    assert [o.seconds for o in drill.result.outages] == [5.0]
    names = [name for name, _ in drill.evidence.attachments]
    assert {FIGURES, OUTAGES, "tenant log: FakeObserver"} <= set(names)
    kinds = [e.kind for e in drill.timeline.events]
    assert kinds == ["baseline", "tenant-watch-problem", "tenant-watch", "tenant-watch-stopped"]


def test_a_drill_without_observers_records_no_tenant_figure(drill: Drill) -> None:
    drill.record_baseline()
    drill.close()
    assert drill.tenants.stopped is None and drill.result.tenant_figures == {}
    assert [e.kind for e in drill.timeline.events] == ["baseline"]


def test_an_observer_that_cannot_report_leaves_its_figures_missing(drill: Drill) -> None:
    drill.record_baseline(observers=[FakeObserver({"canary:compute1/reboots": 0},
                                                  fail="figures")])
    with pytest.raises(DrillError, match=r"its observer has not reported it \[FakeObserver "
                                         r"did not report: RuntimeError: console unreadable\]"):
        drill.tenants.check(parse("no canary rebooted"), ["compute1"])  # type: ignore[arg-type]
    drill.close()
