"""The drill history and its report: the record the ``drill`` fixture appends when a scenario
ends, the regression rule, and the self-contained HTML, from synthetic history records."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stackdrill import cli
from stackdrill.reporting.report import write_report
from stackdrill.reporting.trend import regression
from tests.unit.drill_fakes import CONFTEST

# -- the record written at teardown -------------------------------------------------------------

FEATURE = '''Feature: synthetic drills
  Scenario: it recovers
    Given a drill that recovers

  Scenario: its check fails
    Given a drill whose check fails

  Scenario: the harness breaks
    Given a drill that breaks

  Scenario: it is interrupted
    Given a drill that is interrupted
'''

STEPS = '''
import time

import pytest
from pytest_bdd import given, scenarios

from stackdrill.hosts.ssh import CommandResult
from stackdrill.api._runbook import RunbookRecord, StepRecord

scenarios("drills.feature")


@given("a drill that recovers")
def recovers(drill):
    for listener in drill.targets.listeners:  # as a host target reports each command it ran
        listener(CommandResult("c1", 'mysql -e "SELECT 1"', 0, "1\\n" + "x" * 9000, "", 0.0, 0.1))
        listener(CommandResult("c1", "systemctl start db", 1, "", "pw s3cr3t-pw", 0.0, 0.2))
    drill.evidence.attach_text("state difference: during the fault",
                               "host:c1/unit:db/active: 'active' -> 'inactive' (exact)")
    drill.evidence.attach_text("state difference: unchanged paths", "no deviations")
    drill.timeline.add("fault-injected", "stop_service on c1")
    drill.result.recoveries.append(RunbookRecord("restart", "c1", [
        StepRecord("start the service", started=time.time(), duration=0.5, ok=True)]))
    drill.result.time_to_recover = 1.25
    drill.result.budget = 60.0
    drill.timeline.add("verified", "verified state restored")


@given("a drill whose check fails")
def fails(drill):
    drill.timeline.add("deviation", "DSN mysql://nova:s3cr3t-pw@db/nova", "detail s3cr3t-pw")
    pytest.fail("not back within 60s: password s3cr3t-pw\\nsecond line", pytrace=False)


@given("a drill that breaks")
def breaks(drill):
    raise RuntimeError("boom")


@given("a drill that is interrupted")
def interrupted(drill):
    raise KeyboardInterrupt
'''


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], str]:
    """Four scenarios, each ending differently, in a pytest run of their own; their records."""
    directory = tmp_path_factory.mktemp("drills")
    (directory / "conftest.py").write_text(CONFTEST)
    (directory / "drills.feature").write_text(FEATURE)
    (directory / "test_drills.py").write_text(STEPS)
    history = directory / "state" / "history.jsonl"
    result = subprocess.run([sys.executable, "-m", "pytest", "-c", "/dev/null", "--rootdir",
                             str(directory), "-p", "no:cacheprovider", "--history", str(history),
                             str(directory)], cwd=directory, capture_output=True, text=True,
                            timeout=120, check=False)
    output = result.stdout + result.stderr
    assert history.is_file(), output
    return [json.loads(line) for line in history.read_text().splitlines()], output


def test_each_scenario_appends_one_record_when_it_ends(
        synthetic: tuple[list[dict[str, Any]], str]) -> None:
    found, output = synthetic
    by_scenario = {record["scenario"]: record for record in found}
    assert list(by_scenario) == ["it recovers", "its check fails", "the harness breaks",
                                 "it is interrupted"], output

    passed = by_scenario["it recovers"]
    assert passed["drill"].endswith("drills.feature: it recovers")
    assert passed["feature"].endswith("drills.feature")
    assert passed["cloud"] == "testcloud"
    assert passed["stackdrill_version"]
    assert passed["openstack_api_versions"] is None  # no cloud API here: not invented
    assert passed["openstack_versions"] is None  # no host to read them from: not invented
    assert passed["started"].endswith("Z") and passed["ended"] >= passed["started"]
    assert {r["run"] for r in found} == {passed["run"]} != {None}  # one session, one run
    assert passed["machine"]["nproc"] >= 1 and passed["machine"]["memory_bytes"] > 0
    assert passed["machine"]["hostname"]
    assert (passed["result"], passed["reason"]) == ("passed", None)
    assert (passed["time_to_recover"], passed["budget"]) == (1.25, 60.0)
    assert [e["kind"] for e in passed["events"]] == ["fault-injected", "verified"]
    assert passed["events"][0]["title"] == "stop_service on c1"
    step = passed["recoveries"][0]["steps"][0]
    assert (step["title"], step["duration"], step["ok"]) == ("start the service", 0.5, True)
    assert step["offset"] >= 0
    first, second = passed["commands"]
    assert first.startswith('[c1] $ mysql -e "SELECT 1"\n(exit 0, 0.10s)\n1\n')
    assert "characters left out" in first and len(first) < 4100
    assert second == "[c1] $ systemctl start db\n(exit 1, 0.20s)\nstderr:\npw ***"
    assert passed["deviations"] == [
        {"label": "during the fault", "count": 1,
         "deviations": ["host:c1/unit:db/active: 'active' -> 'inactive' (exact)"]},
        {"label": "unchanged paths", "count": 0, "deviations": []}]

    failed = by_scenario["its check fails"]
    assert failed["result"] == "failed"
    assert failed["reason"] == "not back within 60s: password ***"
    assert failed["time_to_recover"] is None
    assert by_scenario["the harness breaks"]["result"] == "error"
    assert by_scenario["the harness breaks"]["reason"] == "RuntimeError: boom"
    assert by_scenario["it is interrupted"]["result"] == "aborted"


def test_no_secret_reaches_the_history(synthetic: tuple[list[dict[str, Any]], str]) -> None:
    found, _ = synthetic
    text = json.dumps(found)
    assert "s3cr3t-pw" not in text
    deviation = next(e for r in found for e in r["events"] if e["kind"] == "deviation")
    assert deviation == {**deviation, "title": "DSN mysql://nova:***@db/nova",
                         "detail": "detail ***"}


# -- the regression rule ------------------------------------------------------------------------
STEADY = [10.0] * 5
SPREAD = [6.0, 12.0, 7.0, 11.0, 8.0]  # median 8, MAD 2: the drill varies this much by itself


@pytest.mark.parametrize(("ttrs", "regressed"), [
    ([*STEADY, 12.6], True),           # above median + 25% (MAD 0)
    ([*STEADY, 12.5], False),          # exactly at the limit: not beyond it
    ([10.0] * 4 + [20.0], False),      # four earlier runs: too few to call anything
    ([8.5, 11.7], False),              # one earlier run (the storage-node reboot of issue 17)
    ([*SPREAD, 14.0], False),          # 75% above the median, within 3 scaled MADs (16.9 s)
    ([*SPREAD, 17.0], True),           # beyond them
    ([10.0, None, 10.0, 10.0, 10.0, 13.0], False),  # a run that did not pass is not history
    ([10.0, None, 10.0, 10.0, 10.0, 10.0, 13.0], True),  # ... a fifth passing run is
    ([*STEADY, None], False),          # the latest did not recover: a failure, not a slower run
    ([2.0] * 5 + [2.9], False),        # within 1 s, however steady the drill
    ([2.0] * 5 + [3.1], True),
    ([100.0] * 5 + [10.0] * 20 + [13.0], True),  # the latest 20 earlier runs make the limit
])
def test_regression_rule(ttrs: list[float | None], regressed: bool) -> None:
    assert (regression(ttrs) is not None) is regressed


def test_a_regression_says_by_how_much_and_against_what() -> None:
    found = regression([*SPREAD, 20.0])
    assert found is not None
    assert (found.median, found.previous) == (8.0, 5)
    assert found.describe() == ("time to recover 20.0 s is 150% above the median 8.0 s of the "
                                "5 previous passing runs, beyond their limit 16.9 s (median + "
                                "8.9 s; MAD 2.0 s)")


# -- the HTML report ----------------------------------------------------------------------------
FEATURE_FILE = "features/control_plane/controller.feature"


def record(scenario: str, day: int, ttr: float | None, result: str = "passed",
           reason: str | None = None) -> dict[str, Any]:
    return {
        "schema": 1, "drill": f"{FEATURE_FILE}: {scenario}", "feature": FEATURE_FILE,
        "scenario": scenario, "cloud": "lab", "stackdrill_version": "0.1.0",
        "openstack_api_versions": {"compute": "2.104"},
        "started": f"2025-05-{day:02d}T10:00:00.000Z", "ended": f"2025-05-{day:02d}T10:00:30.000Z",
        "time_to_recover": ttr, "budget": 240.0, "result": result, "reason": reason,
        "events": [
            {"offset": 1.0, "kind": "baseline", "title": "verified state recorded", "detail": ""},
            {"offset": 2.0, "kind": "fault-injected", "title": "stop_service on controller",
             "detail": ""},
            {"offset": 2.5, "kind": "effect-detected", "title": "mariadb inactive", "detail": ""},
            *([{"offset": 2.0 + ttr, "kind": "verified", "title": "back", "detail": ""}]
              if ttr is not None else []),
        ],
        "recoveries": [{"recovery": "restart_database", "target": "controller", "ok": True,
                        "steps": [{"title": "start mariadb", "offset": 3.0, "duration": 1.5,
                                   "ok": True, "error": None}]}],
    }


def write_history(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + "{cut short\n")
    return path


STABLE = [record("the database stops", day, ttr) for day, ttr in
          [(1, 3.1), (2, 3.5), (3, 3.3), (4, 3.4)]]
SLOWER = [record("RabbitMQ stops", day, ttr) for day, ttr in
          [(1, 20.0), (2, 22.0), (3, 21.0), (4, 23.0), (5, 22.0), (6, 30.0)]]
FAILED = [record("the controller reboots", 1, None, "failed",
                 "not back to the verified state within 300s")]


def render(tmp_path: Path, records: list[dict[str, Any]]) -> tuple[str, list[str]]:
    history = write_history(tmp_path / "history.jsonl", records)
    lines = write_report(history, tmp_path / "out" / "drills.html")
    return (tmp_path / "out" / "drills.html").read_text(), lines


def test_the_report_is_one_self_contained_file(tmp_path: Path) -> None:
    html, lines = render(tmp_path, STABLE + SLOWER + FAILED)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert html.count("<svg") >= 3 * len(STABLE + SLOWER + FAILED) // 2
    for name in ("the database stops", "RabbitMQ stops", "the controller reboots"):
        assert name in html
    assert "start mariadb" in html and "not back to the verified state within 300s" in html
    assert "skipped 1 unreadable line(s)" in lines[-2]


def test_a_regression_is_flagged_only_when_there_is_one(tmp_path: Path) -> None:
    html, lines = render(tmp_path / "a", STABLE + FAILED)
    assert "Regression" not in html
    assert not any(line.startswith("REGRESSION") for line in lines)

    html, lines = render(tmp_path / "b", STABLE + SLOWER)
    assert html.count('class="regression"') == 2  # the banner and the drill's own section
    assert "time to recover 30.0 s is 36% above the median 22.0 s" in html
    assert [line for line in lines if line.startswith("REGRESSION")] == [
        f"REGRESSION: {FEATURE_FILE}: RabbitMQ stops: time to recover 30.0 s is 36% above the "
        f"median 22.0 s of the 5 previous passing runs, beyond their limit 27.5 s (median + "
        f"5.5 s; MAD 1.0 s)"]
    assert "at least 5, the latest 20" in html  # the report says how it is decided


def test_last_keeps_each_drills_latest_runs(tmp_path: Path) -> None:
    history = write_history(tmp_path / "history.jsonl", SLOWER)
    write_report(history, tmp_path / "drills.html", last=2)
    html = (tmp_path / "drills.html").read_text()
    assert "2 runs" in html and "Regression" not in html  # one earlier run: too few
    write_report(history, tmp_path / "drills.html", last=6)
    assert "6 runs" in (tmp_path / "drills.html").read_text()


# -- the command line ---------------------------------------------------------------------------
def test_report_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = write_history(tmp_path / "history.jsonl", STABLE + SLOWER)
    output = tmp_path / "drills.html"
    assert cli.main(["report", "--history", str(history), "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert "REGRESSION: " in out and f"report: {output}" in out
    assert output.is_file()
    assert cli.main(["report", "--history", str(tmp_path / "none.jsonl")]) == cli.EXIT_BAD_INPUT
    assert "no drill history at" in capsys.readouterr().err


def test_run_writes_junit_xml_into_the_reports_directory(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(pytest, "main", lambda argv: seen.append(argv) or 0)
    history = tmp_path / "h.jsonl"
    reports = tmp_path / "reports"
    assert cli.main(["run", "features", "--reports", str(reports), "--history",
                     str(history)]) == 0
    run = (reports / "latest").resolve()
    assert f"--junitxml={run / 'junit.xml'}" in seen[-1]
    assert f"--alluredir={run / 'allure-results'}" in seen[-1]
    assert f"--run-id={run.name}" in seen[-1]
    assert seen[-1][seen[-1].index("--history") + 1] == str(history)
    elsewhere = tmp_path / "elsewhere.xml"
    cli.main(["run", "features", "--reports", str(reports), "--history", str(history), "--",
              f"--junitxml={elsewhere}"])
    assert [a for a in seen[-1] if a.startswith("--junitxml")] == [f"--junitxml={elsewhere}"]
    assert not list(run.iterdir())  # no history yet: no drill report
    assert len([d for d in reports.iterdir() if d.name != "latest"]) == 2  # a directory each
    write_history(history, [{**r, "run": "20250510T100000Z"} for r in STABLE])
    cli.main(["run", "features", "--reports", str(reports), "--history", str(history)])
    run = (reports / "latest").resolve()
    assert not (run / "drills.html").exists()  # this run recorded no drill


def test_allure_environment_and_categories(tmp_path: Path) -> None:
    from stackdrill.reporting.allure_files import write_allure_files

    write_allure_files(tmp_path, cloud="prod-east", stackdrill="0.1.0",
                       openstack={"compute": "2.104", "identity": "3.14"})
    env = (tmp_path / "environment.properties").read_text().splitlines()
    assert "cloud=prod-east" in env
    assert "openstack.compute=2.104" in env
    assert "stackdrill=0.1.0" in env
    names = [c["name"] for c in json.loads((tmp_path / "categories.json").read_text())]
    assert names == ["aborted by safeguard", "fault not confirmed", "recovery failed",
                     "budget exceeded",
                     "refused to start", "harness error"]


def test_a_run_shows_its_commands_and_each_comparison(tmp_path: Path) -> None:
    run = record("the database stops", 5, 3.0)
    run["commands"] = ['[controller] $ mysql -e "SELECT COUNT(*) FROM nova.instances"\n'
                       "(exit 0, 0.05s)\n2\n", "[controller] $ systemctl start mariadb\n"
                       "(exit 1, 0.30s)\nstderr:\nJob failed <see journal>\n"]
    run["deviations"] = [{"label": "during the fault", "count": 3,
                          "deviations": ["host:controller/unit:mariadb/active: 'active' -> "
                                         "'inactive' (exact)"]}]
    html, _ = render(tmp_path, [run])
    assert ('<summary><code>[controller] $ mysql -e &quot;SELECT COUNT(*) FROM nova.instances'
            '&quot;</code><span class="exit small">(exit 0, 0.05s)</span></summary>'
            '<pre>2\n</pre>') in html
    assert '<span class="exit flag">(exit 1, 0.30s)</span>' in html
    assert "Job failed &lt;see journal&gt;" in html
    assert ("<td>during the fault</td><td class=\"num\">3</td><td><pre>host:controller/unit:"
            "mariadb/active: &#x27;active&#x27; -&gt; &#x27;inactive&#x27; (exact)\n... 2 more"
            "</pre>") in html


def test_an_older_record_shows_the_deviations_of_its_timeline(tmp_path: Path) -> None:
    run = record("the database stops", 5, 3.0)
    run["events"].append({"offset": 2.6, "kind": "deviation", "title": "2 deviation(s)",
                          "detail": "a: 1 -> 2 (exact)\nb: 1 -> <absent> (exact)"})
    html, _ = render(tmp_path, [run])
    assert "No command was recorded." in html
    assert ("<td>during the fault</td><td class=\"num\">2</td><td><pre>a: 1 -&gt; 2 (exact)\n"
            "b: 1 -&gt; &lt;absent&gt; (exact)</pre>") in html


def test_a_post_upgrade_run_shows_what_changed(tmp_path: Path) -> None:
    from stackdrill.reporting.history import UPGRADE_CHANGES, evidence_record

    found = evidence_record([(UPGRADE_CHANGES, "compute API 2.95 -> 2.96\n"),
                             ("state difference: against the pre-upgrade state",
                              "canary on compute1 (server 5e1f) is gone")])
    assert found == {"commands": [], "changes": ["compute API 2.95 -> 2.96"], "deviations": [
        {"label": "against the pre-upgrade state", "count": 1,
         "deviations": ["canary on compute1 (server 5e1f) is gone"]}]}
    run = {**record("the cloud matches its pre-upgrade state", 6, None, "failed"), **found}
    html, _ = render(tmp_path, [run])
    assert ('<h3>Changed since the pre-upgrade record</h3><ul class="changes"><li>compute API '
            '2.95 -&gt; 2.96</li></ul>') in html
    assert "<td>against the pre-upgrade state</td>" in html
    html, _ = render(tmp_path / "plain", [record("the database stops", 6, 3.0)])
    assert "pre-upgrade" not in html
