"""The alert steps through the plugin, on the fake cloud with a fake Alertmanager served on the
loopback: a drill passes when its alert fires and clears, fails with one line when it never
fires, and is refused before anything is injected (exit 2, one line) when the inventory names
no Alertmanager or the step names an alert no rule defines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackdrill import cli
from tests.unit.alert_fakes import fake_alertmanager
from tests.unit.fake_cloud import HOSTS, events, fake_project, run_args, stackdrill
from tests.unit.test_feature_input_refused import plan_args

SCENARIO = """\
Feature: alerts on the fake cloud
  Scenario: the canary stops and the monitoring pages for it
    Given a compute host
    And the cloud is in its verified state
    And the verified state tolerates:
      | rule                     |
      | host:*/svc:other ignore  |
    When the fault "fake_stop" is injected on the compute host:
      | service | canary |
    And the verified state from now on tolerates:
      | rule                     |
      | host:*/svc:canary ignore |
    Then the fault is confirmed within 5 seconds
    And the alert "{name}" fires within {seconds} seconds
    When the recovery "fake_start" runs on the compute host:
      | service | canary |
    Then the cloud is back to its verified state within 5 seconds
    And it clears within 10 seconds of the recovery
    And no other critical alert fires
"""
RULES = {"groups": [{"name": "fake", "rules": [
    {"alert": "ServiceStopped", "expr": "fake == 0", "labels": {"severity": "critical"}}]}]}


def project(tmp_path: Path, alerts: dict[str, Any] | None, name: str = "ServiceStopped",
            seconds: int = 10) -> tuple[Path, Path]:
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(RULES))
    inventory: dict[str, Any] = {"cloud": "unit", "hosts": HOSTS}
    if alerts is not None:
        inventory["alerts"] = {**alerts, "rule_files": [str(rules)]}
    return fake_project(tmp_path, SCENARIO.format(name=name, seconds=seconds),
                        inventory=inventory)


def one_line_refusal(ran: Any, *fragments: str) -> None:
    lines = [line for line in ran.stderr.splitlines() if line.strip()]
    assert ran.code == cli.EXIT_BAD_INPUT, ran
    assert len(lines) == 1, ran
    assert "Traceback" not in ran.stdout + ran.stderr
    for fragment in fragments:
        assert fragment in lines[0], ran


def test_a_run_without_an_alertmanager_is_refused_before_injection(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = project(tmp_path, None)
    ran = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    one_line_refusal(ran, "drills.feature:14: the alert steps need the cloud's Alertmanager")
    assert events(features) == []
    planned = stackdrill(plan_args(features, inventory), tmp_path, capfd)
    assert planned.code == cli.EXIT_OK, planned


@pytest.mark.parametrize("command", ["run", "plan"])
def test_an_alert_no_rule_defines_is_refused_at_collection(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], command: str) -> None:
    features, inventory = project(tmp_path, {"alertmanager": "http://192.0.2.1:9093"},
                                  name="NovaComputeDwon")
    argv = (run_args(tmp_path, features, inventory) if command == "run"
            else plan_args(features, inventory))
    ran = stackdrill(argv, tmp_path, capfd)
    one_line_refusal(ran, 'drills.feature:14: no alerting rule defines the alert '
                          '"NovaComputeDwon" (1 alerts in', "ServiceStopped)")
    assert events(features) == []


def test_an_alertmanager_that_is_no_http_url_is_refused_at_load(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = project(tmp_path, {"alertmanager": "am.example:9093"})
    ran = stackdrill(plan_args(features, inventory), tmp_path, capfd)
    one_line_refusal(ran, "alerts.alertmanager: expected http:// or https:// URL without query "
                          "or whitespace, got 'am.example:9093'")


def test_an_inventory_naming_no_rule_file_is_refused_at_load(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = project(tmp_path, {"alertmanager": "http://192.0.2.1:9093"})
    data = yaml.safe_load(inventory.read_text())
    data["alerts"]["rule_files"] = ["missing.yml"]
    inventory.write_text(yaml.safe_dump(data))
    ran = stackdrill(plan_args(features, inventory), tmp_path, capfd)
    one_line_refusal(ran, f"alerts.rule_files[0]: no such file: {tmp_path / 'missing.yml'}")


def attachments(base: Path) -> dict[str, str]:
    """Every attachment of the run's results and fixtures (teardowns), by name."""
    found: dict[str, str] = {}

    def visit(node: dict[str, Any]) -> None:
        for attachment in node.get("attachments", []):
            found[attachment["name"]] = (base / attachment["source"]).read_text()
        for child in (*node.get("steps", []), *node.get("befores", []),
                      *node.get("afters", [])):
            visit(child)

    for path in (*base.glob("*-result.json"), *base.glob("*-container.json")):
        visit(json.loads(path.read_text()))
    return found


def test_an_alert_that_fires_and_clears_passes(tmp_path: Path,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    features, _ = project(tmp_path, None)
    with fake_alertmanager(features / "state.json") as url:
        features, inventory = project(tmp_path, {"alertmanager": url})
        ran = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_OK, ran
    found = attachments(tmp_path / "reports" / "latest" / "allure-results")
    assert "ServiceStopped{service=\"compute1/canary\"} critical, firing since" in \
        found["alerts seen"]
    assert "cleared by" in found["alerts seen"]
    timeline = json.loads(found["timeline.json"])
    assert [e["kind"] for e in timeline if e["kind"].startswith("alert-")] == \
        ["alert-watch", "alert-firing", "alert-cleared"]


def test_an_alert_that_never_fires_fails_the_drill(tmp_path: Path,
                                                   capfd: pytest.CaptureFixture[str]) -> None:
    features, _ = project(tmp_path, None)
    with fake_alertmanager(features / "state.json", silent=True) as url:
        features, inventory = project(tmp_path, {"alertmanager": url}, seconds=3)
        ran = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_FAILED, ran
    assert ('the alert "ServiceStopped" did not fire within 3 s of the injection of fault '
            f"fake_stop on compute1: never listed by Alertmanager at {url}") in ran.stdout
    assert events(features) == ["inject compute1/canary", "undo compute1/canary"]
