"""Each drill before and after an upgrade, from fabricated history records: the release each
record names, the flag of each drill across two releases, ``stackdrill report --releases``,
and the HTML report's section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stackdrill import cli
from stackdrill.reporting import ReportError
from stackdrill.reporting.history import Run
from stackdrill.reporting.release_comparison import (
    FEW_RUNS,
    IMPROVED,
    NOT_AFTER,
    NOT_BEFORE,
    REGRESSED,
    SAME,
    Comparison,
    compare,
    release_of,
)
from stackdrill.reporting.report import write_report
from tests.unit.test_reporting import record, write_history

INJECTION = "the injection of fault stop_service on controller"
PROCEDURE = "the start of procedure back_up_control_plane on controller"
DB = "the database stops"
MQ = "RabbitMQ stops"


def on(nova: str | dict[str, str] | None, scenario: str, day: int, ttr: float | None,
       result: str = "passed", measured_from: str = INJECTION) -> dict[str, Any]:
    """A record of ``scenario`` on the release whose Nova is ``nova`` (None: no versions)."""
    found = record(scenario, day, ttr, result)
    found["openstack_versions"] = ({"nova": nova, "keystone": "29.1.0"} if nova is not None
                                   else None)
    found["measured_from"] = measured_from
    return found


def runs(records: list[dict[str, Any]]) -> list[Run]:
    return [Run.from_record(item) for item in records]


def across(records: list[dict[str, Any]], pair: list[str] | None = None) -> Comparison:
    return compare(runs(records), pair)


def flags(comparison: Comparison) -> dict[str, str]:
    return {row.scenario: row.flag for row in comparison.rows}


def before(scenario: str, *ttrs: float | None, result: str = "passed") -> list[dict[str, Any]]:
    return [on("33.0.2", scenario, day, ttr, result) for day, ttr in enumerate(ttrs, 1)]


def after(scenario: str, *ttrs: float | None, result: str = "passed") -> list[dict[str, Any]]:
    return [on("34.0.0", scenario, day, ttr, result) for day, ttr in enumerate(ttrs, 20)]


# -- the release of a record --------------------------------------------------------------------
@pytest.mark.parametrize(("nova", "expected"), [
    ("33.0.2", 33),
    ("34.0.0", 34),
    ({"controller": "33.0.1", "compute1": "33.0.2"}, 33),  # one release, two patch levels
    ({"controller": "34.0.0", "compute1": "33.0.2"}, None),  # half way through the upgrade
    ({"controller": "34.0.0", "compute1": "unknown"}, 34),  # a host that did not answer
    ("unknown", None),
    (None, None),
])
def test_a_record_names_the_major_version_of_its_nova(nova: str | dict[str, str] | None,
                                                      expected: int | None) -> None:
    assert release_of(Run.from_record(on(nova, DB, 1, 3.0))) == expected


# -- the flag of each drill ---------------------------------------------------------------------
def test_a_drill_that_passed_before_and_fails_after_regressed() -> None:
    comparison = across(before(DB, 3.0, 3.2) + after(DB, None, result="failed"))
    assert flags(comparison) == {DB: REGRESSED}
    assert comparison.regressed[0].why == "passed on nova 33, failed on nova 34"
    assert (f"REGRESSION: {comparison.rows[0].drill}: across the upgrade nova 33 -> nova 34: "
            f"passed on nova 33, failed on nova 34") in comparison.lines()


def test_a_time_to_recover_beyond_the_margin_regressed() -> None:
    # five runs before, MAD 0.5 s: the margin is the largest of 2.2 s, 25% of 10 s and 1 s
    comparison = across(before(DB, 10.0, 9.5, 10.5, 10.0, 9.0) + after(DB, 13.0))
    assert flags(comparison) == {DB: REGRESSED}
    why = comparison.rows[0].why
    assert "median 13.0 s of 1 on the later release" in why
    assert "+30% against the median 10.0 s of 5 on the earlier release, limit 12.5 s" in why
    assert "(median + 2.5 s; MAD 0.5 s)" in why


def test_a_time_to_recover_within_the_margin_is_the_same() -> None:
    comparison = across(before(DB, 10.0, 9.0, 11.0, 10.0, 10.0) + after(DB, 12.4, 12.0))
    assert flags(comparison) == {DB: SAME}
    assert not comparison.regressed


def test_a_small_margin_is_at_least_a_second() -> None:
    steady = before(DB, 2.0, 2.0, 2.0, 2.0, 2.0)
    assert flags(across(steady + after(DB, 2.9))) == {DB: SAME}
    assert flags(across(steady + after(DB, 3.1))) == {DB: REGRESSED}


def test_with_fewer_than_5_runs_before_the_time_is_shown_and_not_judged() -> None:
    """One run of a drill can take several times its usual time: a slower or faster single
    run is no regression and no improvement, and the report says why."""
    comparison = across(before(DB, 3.7) + after(DB, 4.8))
    assert flags(comparison) == {DB: FEW_RUNS}
    assert not comparison.regressed
    assert comparison.rows[0].why == (
        "time to recover: median 4.8 s of 1 on the later release, +30% against the median "
        "3.7 s of 1 on the earlier release; not judged: fewer than 5 passing runs on the "
        "earlier release")
    assert flags(across(before(DB, 3.0, 3.0, 3.0, 3.0) + after(DB, 30.0))) == {DB: FEW_RUNS}
    assert ("1 drill across the upgrade: 0 regressed, 0 improved, 0 same, 1 too few runs, "
            "0 not run before, 0 not run after") in comparison.lines()


def test_with_enough_runs_before_the_spread_of_those_runs_widens_the_margin() -> None:
    # median 10 s, MAD 2 s: 3 x 1.4826 x 2 = 8.9 s beyond it, wider than 25% (2.5 s)
    spread = before(MQ, 8.0, 10.0, 12.0, 10.0, 14.0, 6.0)
    assert flags(across(spread + after(MQ, 15.0))) == {MQ: SAME}
    comparison = across(spread + after(MQ, 19.5))
    assert flags(comparison) == {MQ: REGRESSED}
    assert "limit 18.9 s (median + 8.9 s; MAD 2.0 s)" in comparison.rows[0].why


def test_a_drill_that_passes_again_or_recovers_faster_improved() -> None:
    assert flags(across(before(DB, None, result="failed") + after(DB, 3.0))) == {DB: IMPROVED}
    steady = before(DB, 10.0, 10.0, 10.0, 10.0, 10.0)
    assert flags(across(steady + after(DB, 7.0))) == {DB: IMPROVED}
    assert flags(across(steady + after(DB, 8.0))) == {DB: SAME}


def test_a_drill_failing_on_both_releases_is_the_same() -> None:
    comparison = across(before(DB, None, result="failed") + after(DB, None, result="failed"))
    assert flags(comparison) == {DB: SAME}
    assert comparison.rows[0].why == "did not pass on either release"


def test_the_latest_verdict_on_each_release_decides() -> None:
    flaky = [on("33.0.2", DB, 1, None, "failed"), on("33.0.2", DB, 2, 3.0)]
    fixed = [on("34.0.0", DB, 20, None, "failed"), on("34.0.0", DB, 21, 3.0)]
    broken = [on("34.0.0", DB, 20, 3.0), on("34.0.0", DB, 21, None, "failed")]
    assert flags(across(flaky + fixed)) == {DB: FEW_RUNS}
    assert flags(across(flaky + broken)) == {DB: REGRESSED}


def test_times_from_another_kind_of_moment_are_not_compared() -> None:
    later = [on("34.0.0", DB, 20, 60.0, measured_from=PROCEDURE)]
    comparison = across(before(DB, 10.0, 10.0) + later)
    assert flags(comparison) == {DB: SAME}
    assert "no time to recover timed from the same kind of moment" in comparison.rows[0].why


def test_a_drill_run_on_one_release_only_is_listed_as_such() -> None:
    comparison = across(before(DB, 3.0) + before(MQ, 20.0) + after(MQ, 21.0)
                        + after("the controller reboots", 60.0))
    assert flags(comparison) == {DB: NOT_AFTER, MQ: FEW_RUNS,
                                 "the controller reboots": NOT_BEFORE}
    assert not comparison.regressed


def test_an_error_is_no_verdict() -> None:
    comparison = across(before(DB, 3.0) + before(MQ, 20.0) + after(MQ, 21.0)
                        + after(DB, None, result="error"))
    assert flags(comparison) == {DB: NOT_AFTER, MQ: FEW_RUNS}
    row = next(row for row in comparison.rows if row.scenario == DB)
    assert row.line("nova 33", "nova 34").endswith(
        f"{DB} on lab: not run after: nova 33 passed in 3.0 s; median 3.0 s; 1 of 1 passed "
        f"-> nova 34 no verdict")


def test_records_without_versions_are_left_out() -> None:
    unnamed = [on(None, DB, 25, None, "failed"), on(None, "the controller reboots", 26, 9.0)]
    comparison = across(before(DB, 3.0) + after(DB, 3.1) + unnamed)
    assert flags(comparison) == {DB: FEW_RUNS}
    assert comparison.unnamed == 2
    assert "2 run(s) naming no single nova release left out" in comparison.heading()


def test_the_two_newest_releases_are_compared_in_version_order() -> None:
    records = [on("10.0.0", DB, 1, 3.0), on("9.1.0", DB, 2, 3.0),
               on("11.0.0", DB, 3, None, "failed")]
    comparison = across(records)
    assert (comparison.before.label, comparison.after.label) == ("nova 10", "nova 11")
    assert flags(comparison) == {DB: REGRESSED}
    chosen = across(records, ["nova 9", "10.0.0"])
    assert (chosen.before.label, chosen.after.label) == ("nova 9", "nova 10")
    assert flags(chosen) == {DB: FEW_RUNS}
    with pytest.raises(ReportError, match=r"release '12': no run recorded on it \(the history "
                                          r"has: nova 9, nova 10, nova 11\)"):
        across(records, ["10", "12"])


def test_fewer_than_two_releases_are_refused() -> None:
    with pytest.raises(ReportError, match=r"fewer than two OpenStack releases in the drill "
                                          r"history \(nova releases recorded: nova 34\)"):
        across([*after(DB, 3.0), on(None, DB, 1, 2.0)])


# -- the command line ---------------------------------------------------------------------------
def report(tmp_path: Path, records: list[dict[str, Any]], *argv: str) -> int:
    history = write_history(tmp_path / "history.jsonl", records)
    return cli.main(["report", "--releases", "--history", str(history), *argv])


def test_report_releases_exits_1_on_a_regression(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert report(tmp_path, before(DB, 3.0) + after(DB, 3.1)) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "REGRESSION" not in out
    assert out.splitlines()[0].startswith("before and after the upgrade: nova 33 (33.0.2; 1 run")
    assert "1 drill across the upgrade: 0 regressed, 0 improved, 0 same, 1 too few runs" in out

    steady = before(DB, 3.0, 3.0, 3.0, 3.0, 3.0)
    assert report(tmp_path, steady + after(DB, 30.0)) == cli.EXIT_FAILED
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("REGRESSION")] == [
        f"REGRESSION: features/control_plane/controller.feature: {DB}: across the upgrade "
        f"nova 33 -> nova 34: time to recover: median 30.0 s of 1 on the later release, +900% "
        f"against the median 3.0 s of 5 on the earlier release, limit 4.0 s (median + 1.0 s; "
        f"MAD 0.0 s)"]
    assert "rule: a drill has regressed across the upgrade" in out


def test_report_releases_refuses_a_single_release_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report(tmp_path, after(DB, 3.0, 3.1)) == cli.EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.err.startswith("stackdrill: error: fewer than two OpenStack releases")


def test_report_releases_as_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = before(DB, 3.0) + after(DB, None, result="failed") + after(MQ, 20.0)
    assert report(tmp_path, records, "--markdown") == cli.EXIT_FAILED
    lines = capsys.readouterr().out.splitlines()
    assert "| feature | scenario | nova 33 | nova 34 | across the upgrade |" in lines
    assert (f"| `control_plane/controller` | {DB} | passed in 3.0 s; median 3.0 s; 1 of 1 passed "
            f"| failed; 0 of 1 passed | **REGRESSED**: passed on nova 33, failed on nova 34 |"
            in lines)
    assert f"| `control_plane/controller` | {MQ} | no passed or failed run" in "\n".join(lines)


def test_compare_needs_releases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = write_history(tmp_path / "history.jsonl", before(DB, 3.0) + after(DB, 3.0))
    assert cli.main(["report", "--history", str(history), "--compare", "33", "34"]) == 2
    assert capsys.readouterr().err == "stackdrill: error: --compare: only with --releases\n"


# -- the HTML report ----------------------------------------------------------------------------
def html_of(tmp_path: Path, records: list[dict[str, Any]]) -> tuple[str, list[str]]:
    history = write_history(tmp_path / "history.jsonl", records)
    lines = write_report(history, tmp_path / "drills.html")
    return (tmp_path / "drills.html").read_text(), lines


def test_the_html_report_compares_the_releases_only_when_it_spans_two(tmp_path: Path) -> None:
    html, lines = html_of(tmp_path / "one", [*after(DB, 3.0, 3.1), on(None, DB, 1, 2.0)])
    assert "Before and after the upgrade" not in html
    assert not any("across the upgrade" in line for line in lines)

    html, lines = html_of(tmp_path / "two", before(DB, 3.0) + after(DB, None, result="failed"))
    section = html[html.index('<section class="card" id="releases">'):]
    assert "<h2>Before and after the upgrade</h2>" in section
    assert "<th>nova 33</th><th>nova 34</th>" in section
    assert '<span class="flag">REGRESSED</span>' in section
    assert ('<p class="regression">Regression across the upgrade (nova 33 -&gt; nova 34) in '
            f"{DB}: passed on nova 33, failed on nova 34</p>") in html
    assert ("nova 33 -> nova 34: 1 drill across the upgrade: 1 regressed, 0 improved, 0 same, "
            "0 too few runs, 0 not run before, 0 not run after "
            "(stackdrill report --releases)") in lines
