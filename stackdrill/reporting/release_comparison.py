"""Each drill before and after an upgrade: its runs on two OpenStack releases, side by side.

A run's release is the major version of Nova its record names (``openstack_versions``, read on
the hosts once per run): ``nova 33`` for 33.0.2. Hosts that report different majors (a cloud in
the middle of its upgrade), and records without a readable Nova version, have no release and
are left out; a host that answered ``unknown`` is not counted against the others.

The runs are grouped per drill and cloud, as :func:`stackdrill.reporting.drill_runs.group`
does, and only those that passed or failed count (an error or an abort is no verdict on the
cloud). For each drill with such runs on either release: its latest verdict and time to recover
on each, the median of its passing runs on each, and a flag (:data:`RULE`). The time to recover
is compared only between runs timed from the same kind of moment as the later release's latest
pass (:func:`stackdrill.reporting.drill_runs.clock`), against the margin of
:class:`stackdrill.reporting.trend.Baseline`, and only when the earlier release has at least
:data:`stackdrill.reporting.trend.MIN_HISTORY` passing runs, as a drill's trend is: one run of a
drill can take several times its usual time, so with fewer the times are shown and not
judged.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from stackdrill.reporting import ReportError
from stackdrill.reporting.charts import seconds
from stackdrill.reporting.drill_runs import DrillRuns, clock
from stackdrill.reporting.history import Run
from stackdrill.reporting.trend import (
    MAD_TO_SIGMA,
    MIN_FRACTION,
    MIN_HISTORY,
    MIN_SECONDS,
    WINDOW,
    Baseline,
    K,
)

SERVICE = "nova"  # the service whose major version names the release
VERDICTS = ("passed", "failed")
REGRESSED = "REGRESSED"
IMPROVED = "IMPROVED"
SAME = "SAME"
FEW_RUNS = "too few runs"
NOT_BEFORE = "not run before"
NOT_AFTER = "not run after"
UNKNOWN = "unknown"
RULE = (f"a drill has regressed across the upgrade when its latest run on the earlier release "
        f"passed and its latest on the later one did not, or when the median time to recover "
        f"of its passing runs on the later release exceeds the median of its passing runs on "
        f"the earlier one (both timed from the same kind of moment as the later release's "
        f"latest pass, the latest {WINDOW} on each) by more than the largest of {K:g} scaled "
        f"median absolute deviations of the earlier runs ({K:g} x {MAD_TO_SIGMA} x MAD), "
        f"{MIN_FRACTION:.0%} of their median and {MIN_SECONDS:g} s. It has improved when the "
        f"verdict went the other way or the median fell below the earlier one by more than the "
        f"same margin. The time is judged only against at least {MIN_HISTORY} passing runs on "
        f"the earlier release; with fewer, a drill that passed on both is listed as "
        f"{FEW_RUNS}, its times shown. A drill with no passed or failed run on one of the "
        f"releases is listed as {NOT_BEFORE} or {NOT_AFTER}")
_VERSION = re.compile(r"^v?(\d+)(?:[.+~-]|$)")


def major(version: str) -> int | None:
    """``33.0.2`` -> 33; None for ``unknown`` or anything that is not a version."""
    found = _VERSION.match(version.strip())
    return int(found[1]) if found else None


def release_of(run: Run) -> int | None:
    """The major version of the run's Nova, one for every host that reported it; None when
    the record names none, or its hosts report different ones."""
    value = run.openstack_versions.get(SERVICE)
    if value is None:
        return None
    versions = [value] if isinstance(value, str) else list(value.values())
    majors = {major(version) for version in versions if version != UNKNOWN}
    if len(majors) != 1:
        return None
    return majors.pop()


def label(release: int) -> str:
    return f"{SERVICE} {release}"


def versions_of(run: Run) -> list[str]:
    """The Nova versions the run's record names (one per host where they differ)."""
    value = run.openstack_versions.get(SERVICE)
    if value is None:
        return []
    return [value] if isinstance(value, str) else sorted(set(value.values()) - {UNKNOWN})


@dataclass(frozen=True)
class Release:
    """One release of the history: its Nova major version, the full versions recorded on it,
    and its runs."""

    number: int
    versions: tuple[str, ...]
    runs: tuple[Run, ...]

    @property
    def label(self) -> str:
        return label(self.number)

    def describe(self) -> str:
        """``nova 33 (33.0.2; 4 runs, 2026-12-07)``."""
        first = min(run.started for run in self.runs).strftime("%Y-%m-%d")
        last = max(run.started for run in self.runs).strftime("%Y-%m-%d")
        dates = first if first == last else f"{first} to {last}"
        count = f"{len(self.runs)} run" + ("" if len(self.runs) == 1 else "s")
        return f"{self.label} ({', '.join(self.versions)}; {count}, {dates})"


def releases(runs: Sequence[Run]) -> list[Release]:
    """Every release the runs name, oldest first."""
    keyed: dict[int, list[Run]] = {}
    for run in runs:
        number = release_of(run)
        if number is not None:
            keyed.setdefault(number, []).append(run)
    return [Release(number, tuple(sorted({v for run in items for v in versions_of(run)})),
                    tuple(items))
            for number, items in sorted(keyed.items())]


def across_upgrade(groups: Sequence[DrillRuns]) -> Comparison | None:
    """The comparison of the drills' runs when they name two releases or more, else None: what
    the report's section and its summary line show."""
    runs = [run for item in groups for run in item.runs]
    return compare(runs) if len(releases(runs)) >= 2 else None


@dataclass(frozen=True)
class Side:
    """A drill's runs with a verdict (passed or failed) on one release, oldest first, and how
    many of its runs there ended otherwise (an error, an abort)."""

    release: int
    runs: tuple[Run, ...]
    others: int = 0

    @property
    def latest(self) -> Run:
        return self.runs[-1]

    @property
    def passes(self) -> list[Run]:
        return [run for run in self.runs
                if run.result == "passed" and run.time_to_recover is not None]

    @property
    def kind(self) -> str | None:
        """What the latest pass's time to recover runs from (None: no pass, or nothing)."""
        passes = self.passes
        return clock(passes[-1]) if passes else None

    def times(self, kind: str | None) -> list[float]:
        """The times to recover of the passing runs timed from ``kind``, the latest
        :data:`WINDOW`."""
        if kind is None:
            return []
        return [run.time_to_recover for run in self.passes
                if clock(run) == kind and run.time_to_recover is not None][-WINDOW:]

    def median(self) -> float | None:
        """The median time to recover of the passes timed like the latest pass."""
        times = self.times(self.kind)
        return statistics.median(times) if times else None

    def latest_text(self) -> str:
        run = self.latest
        ttr = f" in {seconds(run.time_to_recover)}" if run.time_to_recover is not None else ""
        return f"{run.result}{ttr}"

    def spread(self) -> str:
        """``median 11.5 s; 3 of 3 passed``."""
        median = self.median()
        count = f"{sum(run.result == 'passed' for run in self.runs)} of {len(self.runs)} passed"
        other = f", {self.others} more without a verdict" if self.others else ""
        return (f"median {seconds(median)}; " if median is not None else "") + count + other

    def text(self) -> str:
        """``passed in 12.0 s; median 11.5 s; 3 of 3 passed``."""
        return f"{self.latest_text()}; {self.spread()}"


def margin_of(times: Sequence[float]) -> Baseline:
    """What the earlier release's passing times allow: trend's baseline over them."""
    median = statistics.median(times)
    return Baseline(median, statistics.median(abs(t - median) for t in times), len(times))


def _against(after: float, base: Baseline) -> str:
    change = f"{(after / base.median - 1) * 100:+.0f}% " if base.median > 0 else ""
    return f"{change}against the median {seconds(base.median)} of {base.previous} on the " \
           f"earlier release"


def _by_how_much(after: float, base: Baseline) -> str:
    return (f"{_against(after, base)}, limit {seconds(base.limit)} (median + "
            f"{base.margin:.1f} s; MAD {base.mad:.1f} s)")


def _times(before: Side, after: Side) -> tuple[str, str]:
    """Both latest runs passed: the medians of the passes timed alike, against the margin."""
    kind = after.kind
    earlier, later = before.times(kind), after.times(kind)
    if not earlier or not later:
        return SAME, ("passed on both; no time to recover timed from the same kind of moment "
                      "on both to compare")
    base = margin_of(earlier)
    median = statistics.median(later)
    what = f"time to recover: median {seconds(median)} of {len(later)} on the later release, "
    if len(earlier) < MIN_HISTORY:
        return FEW_RUNS, (f"{what}{_against(median, base)}; not judged: fewer than "
                          f"{MIN_HISTORY} passing runs on the earlier release")
    what += _by_how_much(median, base)
    if median > base.limit:
        return REGRESSED, what
    if median < base.median - base.margin:
        return IMPROVED, what
    return SAME, what


def judge(before: Side, after: Side) -> tuple[str, str]:
    """The flag of a drill run on both releases, and why."""
    was, now = before.latest.result == "passed", after.latest.result == "passed"
    if was and not now:
        return REGRESSED, (f"passed on {label(before.release)}, {after.latest.result} on "
                           f"{label(after.release)}")
    if now and not was:
        return IMPROVED, (f"{before.latest.result} on {label(before.release)}, passed on "
                          f"{label(after.release)}")
    if not now:
        return SAME, "did not pass on either release"
    return _times(before, after)


@dataclass(frozen=True)
class Row:
    """One drill against one cloud, before and after."""

    drill: str
    feature: str
    scenario: str
    cloud: str | None
    before: Side | None
    after: Side | None
    flag: str
    why: str

    def line(self, before: str, after: str) -> str:
        where = f" on {self.cloud}" if self.cloud else ""
        earlier = f"{before} {self.before.text()}" if self.before else f"{before} no verdict"
        later = f"{after} {self.after.text()}" if self.after else f"{after} no verdict"
        return f"{self.drill}{where}: {self.flag}: {earlier} -> {later}"


def _side(runs: Sequence[Run], release: int) -> Side | None:
    own = [run for run in runs if release_of(run) == release]
    verdicts = tuple(run for run in own if run.result in VERDICTS)
    return Side(release, verdicts, len(own) - len(verdicts)) if verdicts else None


def _row(runs: Sequence[Run], before: int, after: int) -> Row | None:
    earlier, later = _side(runs, before), _side(runs, after)
    if earlier is None and later is None:
        return None
    if earlier is None:
        flag, why = NOT_BEFORE, f"no passed or failed run on {label(before)}"
    elif later is None:
        flag, why = NOT_AFTER, f"no passed or failed run on {label(after)}"
    else:
        flag, why = judge(earlier, later)
    last = runs[-1]
    return Row(last.drill, last.feature, last.scenario, last.cloud, earlier, later, flag, why)


@dataclass(frozen=True)
class Comparison:
    """Every drill run on either of two releases, ``before`` and ``after``."""

    before: Release
    after: Release
    rows: tuple[Row, ...]
    found: tuple[Release, ...]  # every release of the runs, oldest first
    unnamed: int  # runs whose record names no release

    @property
    def regressed(self) -> list[Row]:
        return [row for row in self.rows if row.flag == REGRESSED]

    def compared(self) -> str:
        """The two releases, and the runs left out for naming none."""
        left = (f"; {self.unnamed} run(s) naming no single {SERVICE} release left out"
                if self.unnamed else "")
        return f"{self.before.describe()} -> {self.after.describe()}{left}"

    def heading(self) -> str:
        return f"before and after the upgrade: {self.compared()}"

    def count_line(self) -> str:
        counts = [f"{sum(row.flag == flag for row in self.rows)} {flag.lower()}"
                  for flag in (REGRESSED, IMPROVED, SAME, FEW_RUNS, NOT_BEFORE, NOT_AFTER)]
        drills = f"{len(self.rows)} drill" + ("" if len(self.rows) == 1 else "s")
        return f"{drills} across the upgrade: {', '.join(counts)}"

    def lines(self) -> list[str]:
        """What ``stackdrill report --releases`` prints: the releases, a line per drill, a
        ``REGRESSION:`` line per drill that regressed, the counts and the rule."""
        before, after = self.before.label, self.after.label
        found = [self.heading(), *(row.line(before, after) for row in self.rows)]
        found += [f"REGRESSION: {row.drill}: across the upgrade {before} -> {after}: {row.why}"
                  for row in self.regressed]
        return [*found, self.count_line(), f"rule: {RULE}"]


def release_named(text: str, found: Sequence[Release]) -> Release:
    """The release ``text`` names (``33``, ``nova 33`` or ``33.0.2``) among those found."""
    words = text.strip().split()
    if len(words) == 2 and words[0].lower() == SERVICE:
        words = words[1:]
    number = major(words[0]) if len(words) == 1 else None
    known = ", ".join(release.label for release in found) or "none"
    for release in found:
        if release.number == number:
            return release
    raise ReportError(f"release {text!r}: no run recorded on it (the history has: {known})")


def _pair(found: Sequence[Release], pair: Sequence[str] | None) -> tuple[Release, Release]:
    if pair is None:
        if len(found) < 2:
            names = ", ".join(release.label for release in found) or "none"
            raise ReportError(f"fewer than two OpenStack releases in the drill history "
                              f"({SERVICE} releases recorded: {names}); run the drills on "
                              f"each release to compare them")
        return found[-2], found[-1]
    before, after = (release_named(text, found) for text in pair)
    if before.number == after.number:
        raise ReportError(f"--compare: {pair[0]} and {pair[1]} are the same release")
    return before, after


def compare(runs: Sequence[Run], pair: Sequence[str] | None = None) -> Comparison:
    """Each drill on two releases: the two newest the runs name, or ``pair`` (earlier,
    later). A history of fewer than two releases is refused."""
    found = releases(runs)
    before, after = _pair(found, pair)
    keyed: dict[tuple[str, str | None], list[Run]] = {}
    for run in sorted(runs, key=lambda r: r.started):
        keyed.setdefault((run.drill, run.cloud), []).append(run)
    rows = [row for items in keyed.values()
            if (row := _row(items, before.number, after.number)) is not None]
    rows.sort(key=lambda row: (row.feature, row.scenario, row.cloud or ""))
    unnamed = sum(release_of(run) is None for run in runs)
    return Comparison(before, after, tuple(rows), tuple(found), unnamed)
