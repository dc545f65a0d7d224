"""Tempest's results, test by test, from the JUnit XML ``subunit2junitxml`` makes of its subunit
stream (a real sample: ``data/tempest``), and the verdict of the step: it passes only when at
least one test ran and none failed, before the deadline, with no error of Tempest's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackdrill.cloud.tempest import TempestError
from stackdrill.cloud.tempest.results import TempestReport, TestResult, parse_junit

DATA = Path(__file__).parent / "data" / "tempest"
SAMPLE = (DATA / "sample.xml").read_text()
EMPTY = '<testsuite errors="0" failures="0" name="" tests="0" time="0.000">\n</testsuite>\n'


def report(results: tuple[TestResult, ...], exit_code: int | None = 0, *,
           no_match: bool = False, stderr_tail: str = "") -> TempestReport:
    return TempestReport(regex="tempest.api", results=results, junit_xml="", exit_code=exit_code,
                         deadline=600.0, no_match=no_match, stderr_tail=stderr_tail)


PASSED = TestResult("tempest.api.X.test_a", "passed", 1.5)
FAILED = TestResult("tempest.api.X.test_b", "failed", 2.0,
                    "Traceback (most recent call last):\n  File ...\nException: volume went to "
                    "error\n\n")
SKIPPED = TestResult("setUpClass (tempest.api.Y)", "skipped", 0.0, "Neutron is not available")


def test_the_sample_gives_every_test_its_status_reason_and_id() -> None:
    results = {r.test_id: r for r in parse_junit(SAMPLE)}
    flavor = ("sample_api.FlavorsTestJSON.test_get_flavor"
              "[id-1f12046b-753d-40d2-abb6-d8eb8b30cb2f,smoke]")
    volume = ("sample_api.VolumesGetTestJSON.test_volume_create_get_delete"
              "[id-54a01030-c7fc-447c-86ee-c1182beae638]")
    snapshot = ("sample_api.VolumesGetTestJSON.test_volume_snapshot"
                "[id-2a8abe3a-1fe9-4d9e-9dff-2a9bdd69a8c9]")
    assert len(results) == 6
    assert results[flavor].status == "passed"
    assert results[volume].status == "failed"
    assert results[volume].reason() == ("Exception: Volume abc failed to reach available status "
                                        "(current error) within the required time (300 s).")
    assert results[snapshot].status == "skipped"
    assert results[snapshot].reason() == "Cinder volume snapshots are disabled"
    # a class Tempest skips as a whole is one test, with its reason
    whole = results["setUpClass (sample_api.ServersNegativeTestJSON)"]
    assert (whole.status, whole.message) == ("skipped", "Neutron is not available")
    # an expected failure is no failure
    assert [r.status for r in results.values()].count("passed") == 3


def test_the_sample_fails_the_step_naming_its_first_failure() -> None:
    verdict = report(parse_junit(SAMPLE)).verdict()
    assert verdict == ("Tempest's \"tempest.api\" tests: 1 of 4 failed (first: sample_api."
                       "VolumesGetTestJSON.test_volume_create_get_delete[id-54a01030-c7fc-447c-"
                       "86ee-c1182beae638]: Exception: Volume abc failed to reach available "
                       "status (current error) within the required time (300 s).)")


def test_passes_when_one_ran_and_none_failed_skips_aside() -> None:
    assert report((PASSED, SKIPPED)).verdict() is None
    assert report((PASSED, SKIPPED)).summary() == (
        "Tempest's \"tempest.api\" tests: 1 passed, 0 failed, 1 skipped in 0.0 s (exit 0)")


def test_a_failure_fails_whatever_passed() -> None:
    verdict = report((PASSED, FAILED, SKIPPED)).verdict()
    assert verdict == ("Tempest's \"tempest.api\" tests: 1 of 2 failed (first: tempest.api.X."
                       "test_b: Exception: volume went to error)")


def test_only_skips_is_no_pass() -> None:
    assert report((SKIPPED,)).verdict() == (
        "Tempest's \"tempest.api\" tests: none ran, 1 skipped (first: setUpClass (tempest.api.Y):"
        " Neutron is not available)")


@pytest.mark.parametrize(("exit_code", "no_match"), [(1, True), (0, False)])
def test_a_regex_that_selects_nothing_fails_saying_so(exit_code: int, no_match: bool) -> None:
    verdict = report(parse_junit(EMPTY), exit_code, no_match=no_match).verdict()
    assert verdict == "Tempest's \"tempest.api\" tests: the regex selects no Tempest test"


def test_tempest_failing_before_any_test_says_what_it_wrote() -> None:
    verdict = report((), 1, stderr_tail="oslo_config.cfg.ConfigFileParseError: bad").verdict()
    assert verdict == ("Tempest's \"tempest.api\" tests: Tempest exited 1 with 0 tests run: "
                       "oslo_config.cfg.ConfigFileParseError: bad")


def test_an_error_exit_fails_even_when_the_tests_passed() -> None:
    assert report((PASSED,), 2).verdict() == (
        "Tempest's \"tempest.api\" tests: Tempest exited 2 with 1 tests run: nothing on stderr")


def test_the_deadline_fails_the_step_with_what_had_run() -> None:
    cut = TestResult("tempest.api.X.test_c", "failed", 0.0, "")
    verdict = report((PASSED, cut), None).verdict()
    assert verdict == ("Tempest's \"tempest.api\" tests did not finish within 600 s: 1 passed, "
                       "1 failed or cut short before the deadline")
    assert report((PASSED,), None).summary().endswith("(killed at its deadline)")


def test_xml_that_is_not_xml_is_one_line() -> None:
    with pytest.raises(TempestError, match=r"^Tempest's results are not JUnit XML: "):
        parse_junit("stdout/The specified regex doesn't match")


def test_a_long_message_is_shortened() -> None:
    long = TestResult("t", "failed", 0.0, "x" * 1000)
    assert len(long.reason()) == 300
    assert long.reason().endswith("...")
