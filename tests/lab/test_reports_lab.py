"""A real drill run leaves its record in the history, JUnit XML for CI, and a report naming it;
a later pytest run in the checkout leaves that run's evidence as it was."""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import sys
from pathlib import Path

from stackdrill.core.waiting import WaitTimeout, poll_until
from stackdrill.lab.lab import Lab

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = "the database stops on the controller"
BUSY = "is being drilled by"


def stackdrill(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stackdrill.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


def run_when_free(*args: str, wait: float = 1800) -> subprocess.CompletedProcess[str]:
    """The lab is shared: while another run holds its drill lock, try again until the deadline."""
    results: list[subprocess.CompletedProcess[str]] = []

    def ran() -> bool:
        results.append(stackdrill(*args))
        return BUSY not in results[-1].stderr

    with contextlib.suppress(WaitTimeout):
        poll_until(ran, timeout=wait, interval=15, max_interval=15,
                   description="the lab's drill lock free")
    return results[-1]


def test_a_drill_run_is_recorded_and_reported(lab: Lab, tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    reports = tmp_path / "reports"
    result = run_when_free("run", "features/control_plane", "--lab", "--history", str(history),
                           "--reports", str(reports), "--", "-k", "database", "-q",
                           "-p", "no:cacheprovider")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output

    records = [json.loads(line) for line in history.read_text().splitlines()]
    assert len(records) == 1, records
    record = records[0]
    assert record["drill"] == f"features/control_plane/controller.feature: {SCENARIO}"
    assert record["result"] == "passed", record["reason"]
    assert record["time_to_recover"] > 0
    assert record["time_to_recover"] <= record["budget"]
    assert record["cloud"] == "stackdrill-lab"
    assert record["openstack_api_versions"]["compute"].startswith("2.")
    # the releases the lab installs, as the hosts' own commands report them
    pins = dict(line.split("==") for line in
                (ROOT / "stackdrill/lab/cloud/openstack.in").read_text().splitlines()
                if "==" in line)
    releases = record["openstack_versions"]
    for service, package in (("keystone", "keystone"), ("nova", "nova"), ("cinder", "cinder"),
                             ("glance", "glance"), ("placement", "openstack-placement"),
                             ("neutron", "neutron"), ("swift", "swift")):
        assert releases[service] == pins[package], (service, releases)
    kinds = [event["kind"] for event in record["events"]]
    for kind in ("baseline", "fault-injected", "effect-detected", "recovery-step", "verified"):
        assert kind in kinds, kinds
    assert record["recoveries"][0]["recovery"] == "restart_database"
    assert all(step["duration"] > 0 for step in record["recoveries"][0]["steps"])
    run = (reports / "latest").resolve()  # the run's own directory
    assert record["run"] == run.name
    assert (run / "junit.xml").is_file()
    assert any((run / "allure-results").glob("*-result.json"))
    assert f"drill report: {run / 'drills.html'}" in result.stdout
    assert SCENARIO in (run / "drills.html").read_text()

    html = tmp_path / "d.html"
    report = stackdrill("report", "--history", str(history), "--output", str(html), timeout=60)
    assert report.returncode == 0, report.stdout + report.stderr
    assert SCENARIO in report.stdout
    assert SCENARIO in html.read_text()
    assert "<svg" in html.read_text()

    evidence = contents(run)
    later_pytest_run(reports)
    assert contents(run) == evidence, "a later pytest run changed this run's evidence"
    assert (reports / "latest").resolve() != run
    again = stackdrill("report", run.name, "--reports", str(reports), "--history", str(history),
                       "--output", str(tmp_path / "again.html"), timeout=60)
    assert again.returncode == 0, again.stdout + again.stderr
    assert SCENARIO in (tmp_path / "again.html").read_text()


def contents(directory: Path) -> dict[str, str]:
    """Every file under ``directory``: its path and a digest of its bytes."""
    return {str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.rglob("*")) if path.is_file()}


def later_pytest_run(reports: Path) -> None:
    """A unit test file run afterwards in the checkout, with the same reports directory and
    without one: neither touches an earlier run's directory."""
    for extra in (["--reports", str(reports)], []):
        later = subprocess.run([sys.executable, "-m", "pytest", "tests/unit/test_accounts.py",
                                "-q", "-p", "no:cacheprovider", *extra], cwd=ROOT,
                               capture_output=True, text=True, timeout=300, check=False)
        assert later.returncode == 0, later.stdout[-3000:] + later.stderr[-3000:]
