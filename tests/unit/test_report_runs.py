"""Each run's evidence in its own directory, never cleaned by another run; a report of one run
that calls regressions for its drills alone; the README's drill table from the history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from stackdrill import cli
from stackdrill.reporting import ReportError
from stackdrill.reporting.report import write_report
from stackdrill.reporting.runs import RunError, create_run_dir, evidence
from tests.unit.test_reporting import FEATURE_FILE, SLOWER, STABLE, record, write_history

ROOT = Path(__file__).resolve().parents[2]
PASSING = "def test_one():\n    pass\n\n\ndef test_two():\n    pass\n"


def project(directory: Path) -> Path:
    """A project with this checkout's pytest settings (addopts included) and two tests."""
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    addopts = settings["ini_options"]["addopts"]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pytest.ini").write_text(f"[pytest]\naddopts = {addopts}\n")
    (directory / "test_plain.py").write_text(PASSING)
    return directory


def pytest_in(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                            cwd=directory, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_a_later_pytest_run_leaves_earlier_evidence_alone(tmp_path: Path) -> None:
    directory = project(tmp_path / "p")
    kept = [directory / "reports" / "allure-results" / "drill-result.json",
            directory / "reports" / "20260101T000000Z" / "allure-results" / "drill-result.json"]
    for path in kept:
        path.parent.mkdir(parents=True)
        path.write_text("{}")
    pytest_in(directory)  # as `pytest tests/unit` after a drill run
    assert all(path.is_file() for path in kept)
    assert sorted(p.name for p in (directory / "reports").iterdir()) == [
        "20260101T000000Z", "allure-results"]


def test_each_pytest_session_with_reports_has_a_directory_of_its_own(tmp_path: Path) -> None:
    directory = project(tmp_path / "p")
    pytest_in(directory, "--reports", "reports", "--run-id", "first")
    pytest_in(directory, "--reports", "reports", "--run-id", "first")
    reports = directory / "reports"
    assert sorted(p.name for p in reports.iterdir()) == ["first", "first-2", "latest"]
    assert (reports / "latest").resolve() == (reports / "first-2").resolve()
    for run in ("first", "first-2"):
        found = evidence(reports / run)
        assert (found.allure, found.junit) == (2, 2), run
        assert len(found.lines()) == 1


def test_a_plan_or_a_collection_makes_no_run_directory(tmp_path: Path) -> None:
    directory = project(tmp_path / "p")
    pytest_in(directory, "--reports", "reports", "--collect-only")
    assert not (directory / "reports").exists()


def test_run_directories_never_share_a_name(tmp_path: Path) -> None:
    first = create_run_dir(tmp_path, "20260101T000000Z")
    second = create_run_dir(tmp_path, "20260101T000000Z")
    assert (first.name, second.name) == ("20260101T000000Z", "20260101T000000Z-2")
    assert (tmp_path / "latest").readlink() == Path(second.name)  # relative: the tree can move


def test_missing_evidence_is_said(tmp_path: Path) -> None:
    (tmp_path / "allure-results").mkdir()
    for n in range(18):
        (tmp_path / "allure-results" / f"{n}-result.json").write_text("{}")
    (tmp_path / "junit.xml").write_text(
        "<testsuites><testsuite>" + "<testcase name='t'/>" * 22 + "</testsuite></testsuites>")
    assert evidence(tmp_path).lines()[1] == (
        f"WARNING: {tmp_path}: 18 Allure results but 22 tests in junit.xml: evidence is missing")


# -- one run's report ---------------------------------------------------------------------------
def in_run(records: list[dict[str, Any]], run: str) -> list[dict[str, Any]]:
    return [{**r, "run": run} for r in records]


def test_report_reads_any_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reports = tmp_path / "reports"
    old, new = create_run_dir(reports, "20250506T100000Z"), create_run_dir(reports, "20250601T0")
    history = write_history(tmp_path / "h.jsonl", [
        *in_run(SLOWER, old.name), *in_run([record("the database stops", 30, 3.2)], new.name)])
    assert cli.main(["report", old.name, "--reports", str(reports), "--history",
                     str(history)]) == 0
    out = capsys.readouterr().out
    assert "REGRESSION: " in out and "RabbitMQ stops" in (old / "drills.html").read_text()
    assert cli.main(["report", "latest", "--reports", str(reports), "--history",
                     str(history)]) == 0
    out = capsys.readouterr().out
    assert "REGRESSION" not in out and "RabbitMQ" not in out  # not a drill of that run
    assert f"evidence: {new}: no Allure results, no junit.xml" in out
    assert "the database stops" in (new / "drills.html").read_text()
    assert "RabbitMQ" not in (new / "drills.html").read_text()
    assert cli.main(["report", "nosuch", "--reports", str(reports)]) == cli.EXIT_BAD_INPUT
    assert f"no run directory at {reports}/nosuch" in capsys.readouterr().err


def test_a_run_reports_regressions_of_its_own_drills_only(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    history = write_history(tmp_path / "h.jsonl", in_run(SLOWER, "20250506T100000Z"))

    def one_drill(argv: list[str]) -> int:  # the run drills the database, and nothing else
        run = next(a for a in argv if a.startswith("--run-id=")).removeprefix("--run-id=")
        with history.open("a") as stream:
            stream.write(json.dumps({**record("the database stops", 20, 3.0), "run": run}) + "\n")
        return 0

    monkeypatch.setattr(pytest, "main", one_drill)
    assert cli.main(["run", "features", "--reports", str(tmp_path / "r"), "--history",
                     str(history)]) == 0
    out = capsys.readouterr().out
    assert "REGRESSION" not in out  # RabbitMQ regressed in an earlier run, not in this one
    html = (tmp_path / "r" / "latest" / "drills.html").read_text()
    assert "the database stops" in html and "RabbitMQ" not in html


# -- the README's drill table -------------------------------------------------------------------
MACHINE = {"hostname": "drillbox", "nproc": 2, "memory_bytes": 8 * 2**30}


def table_history(path: Path) -> Path:
    runs = [{**r, "machine": MACHINE} for r in STABLE + SLOWER]
    runs.append(record("RabbitMQ stops", 7, None, "failed", "not back within 240s"))
    runs.append({**record("the controller is reset", 8, 60.0), "machine": MACHINE,
                 "events": [{"offset": 0.0, "kind": "fault-injected",
                             "title": "reboot_host on controller", "detail": ""}],
                 "recoveries": [{"recovery": "after_controller_reboot", "steps": []}],
                 "tenant": {"figures": {"api:compute/unavailable_s": 58.2,
                                        "api:identity/unavailable_s": 41.0,
                                        "canary:compute1/reboots": 0},
                            "outages": []}})
    return write_history(path, runs)


def test_markdown_drill_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = table_history(tmp_path / "h.jsonl")
    assert cli.main(["report", "--markdown", "--history", str(history), "--last", "5"]) == 0
    first = capsys.readouterr().out
    assert first.splitlines() == [
        "10 runs of 3 drills, recorded 2025-05-01 to 2025-05-08 (UTC), on cloud lab, the "
        "harness on `drillbox` (2 CPUs, 8.0 GiB); an unrecorded machine. Time to recover: from "
        "the moment each record measures it from (the first fault's injection; in a drill "
        "without a fault, the start of its first procedure) to the first snapshot matching the "
        "verified state; the median and range are over the passing runs among each drill's "
        "latest 5 timed from the same kind of moment as its latest pass. What the tenants felt "
        "is from that latest pass: the longest outage of any API sampled (and which), the "
        "longest heartbeat and volume I/O stall of any canary, and their reboots and lost "
        "acknowledged writes; — where nothing measured it.",
        "",
        "| feature | scenario | fault | recovery (runbook) | time to recover, latest pass | "
        "median (range) of the passing runs | API unavailable, longest | heartbeat stall, "
        "longest | volume I/O stall, longest | guest reboots | lost writes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        "| `control_plane/controller` | RabbitMQ stops | `stop_service` on controller | "
        "`restart_database` | 30.0 s | 22.5 s (21.0 s to 30.0 s), 4 of 5 passed "
        "| — | — | — | — | — |",
        "| `control_plane/controller` | the controller is reset | `reboot_host` on controller | "
        "`after_controller_reboot` | 60.0 s | 60.0 s (60.0 s to 60.0 s), 1 of 1 passed "
        "| 58.2 s (compute) | — | — | 0 | — |",
        "| `control_plane/controller` | the database stops | `stop_service` on controller | "
        "`restart_database` | 3.4 s | 3.3 s (3.1 s to 3.5 s), 4 of 4 passed "
        "| — | — | — | — | — |",
    ]
    assert FEATURE_FILE.endswith("control_plane/controller.feature")
    assert cli.main(["report", "--markdown", "--history", str(history), "--last", "5"]) == 0
    assert capsys.readouterr().out == first  # the same history, the same text


def test_a_refused_run_leaves_latest_at_the_last_real_run(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    real = create_run_dir(reports, "20250101T000000Z")
    (real / "junit.xml").write_text("<testsuites><testcase name='t'/></testsuites>")
    result = subprocess.run(
        [sys.executable, "-m", "stackdrill.cli", "run", str(tmp_path / "nosuch"), "--reports",
         str(reports), "--history", str(tmp_path / "h.jsonl")],
        cwd=tmp_path, env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == cli.EXIT_BAD_INPUT, result.stdout + result.stderr
    assert (reports / "latest").resolve() == real.resolve()
    assert sorted(p.name for p in reports.iterdir()) == ["20250101T000000Z", "latest"]


def test_run_errors_are_report_errors() -> None:
    assert issubclass(RunError, ReportError)


# -- what the time to recover runs from ---------------------------------------------------------
def timed(scenario: str, day: int, ttr: float, since: str | None,
          fault: bool = True) -> dict[str, Any]:
    """A passing run timed from ``since`` (None: a record older than ``measured_from``); without
    ``fault``, a drill that injected none."""
    found = record(scenario, day, ttr)
    if not fault:
        found["events"] = [e for e in found["events"] if e["kind"] != "fault-injected"]
    return {**found, "measured_from": since} if since else found


PROCEDURE = "the start of procedure planned_compute_maintenance on compute1"
INJECTION = "the injection of fault stop_service on controller"


def regressions(tmp_path: Path, records: list[dict[str, Any]]) -> list[str]:
    history = write_history(tmp_path / "h.jsonl", records)
    return [line for line in write_report(history, tmp_path / "drills.html")
            if line.startswith("REGRESSION")]


def test_a_procedure_timed_whole_is_not_compared_with_final_checks(tmp_path: Path) -> None:
    checks = [timed("maintenance", day, 3.0, None, fault=False) for day in range(1, 7)]
    assert regressions(tmp_path / "a", [*checks, timed("maintenance", 7, 60.0, PROCEDURE,
                                                       fault=False)]) == []
    whole = [timed("maintenance", day, 60.0, PROCEDURE, fault=False) for day in range(7, 12)]
    assert len(regressions(tmp_path / "b", [*checks, *whole, timed(
        "maintenance", 12, 90.0, PROCEDURE, fault=False)])) == 1  # against the 5 whole ones


def test_older_records_of_a_drill_with_a_fault_count_as_timed_from_the_injection(
        tmp_path: Path) -> None:
    older = [timed("RabbitMQ stops", day, 20.0, None) for day in range(1, 6)]
    found = regressions(tmp_path, [*older, timed("RabbitMQ stops", 6, 40.0, INJECTION)])
    assert found and "of the 5 previous passing runs" in found[0]


def test_markdown_medians_are_over_runs_timed_alike(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    history = write_history(tmp_path / "h.jsonl", [
        *(timed("maintenance", day, 3.0, None, fault=False) for day in (1, 2, 3)),
        timed("maintenance", 4, 60.0, PROCEDURE, fault=False),
        timed("maintenance", 5, 62.0, PROCEDURE, fault=False)])
    assert cli.main(["report", "--markdown", "--history", str(history)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].endswith("| 62.0 s | 61.0 s (60.0 s to 62.0 s), 5 of 5 passed, 3 timed "
                              "from another start left out | — | — | — | — | — |")
    assert "from the moment each record measures it from (the first fault's injection; in a " \
           "drill without a fault, the start of its first procedure)" in lines[0]


def test_the_fault_column_names_the_hosts_without_the_events_remarks() -> None:
    """Records of 2026-12-06 carry "<fault> on <host> (injecting took 0.05s)" as the event's
    title; the table names the fault and its hosts only."""
    import datetime as dt

    from stackdrill.reporting.history import Run
    from stackdrill.reporting.markdown import faults

    when = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    run = Run("d", "f.feature", "s", "c", when, when, "passed", None, 1.0, 10.0, (), (), None,
              {}, faults=("power_off_host on compute1 (injecting took 0.05s)",
                          "power_off_host on compute2 (injecting took 0.04s)"))
    assert faults(run) == "`power_off_host` on compute1, compute2"
