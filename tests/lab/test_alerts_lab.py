"""The alert steps against the lab's own monitoring: with the ``NovaComputeDown`` rule removed
from what the lab's Prometheus loads (and put back after, whatever happens), a drill that
expects the alert fails, saying it never fired; with the rule in place, the same drill sees it
fire and clear, and passes. A run whose inventory names no Alertmanager is refused before
anything is injected."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from stackdrill.core.waiting import poll_until
from stackdrill.lab.cloud.monitoring import PROMETHEUS_PORT, RULES_FILE
from stackdrill.lab.lab import Lab
from tests.feature_dirs import write_feature_dir
from tests.lab.test_bad_input import ROOT, assert_one_line_error, lab_inventory, stackdrill

# Part of the long tier, not of CI: scripts/test -m long tests/lab runs it (README).
pytestmark = pytest.mark.long

FEATURE = """\
@drill
Feature: the lab's monitoring judges a drill
  Scenario: nova-compute stops, and the monitoring pages for it
    Given the canary workload is running
    And a compute host
    And the cloud is in its verified state
    When the fault "stop_service" is injected on the compute host:
      | service | nova-compute |
    Then the fault is confirmed within 10 seconds
    And the alert "NovaComputeDown" fires within {seconds} seconds
    When the recovery "start_services" runs on the compute host:
      | services | nova-compute |
    Then the cloud is back to its verified state within 120 seconds
    And it clears within 90 seconds of the recovery
    And no other critical alert fires
"""


def loaded_alerts(lab: Lab) -> set[str]:
    inventory = yaml.safe_load(lab.paths.inventory.read_text())
    url = inventory["alerts"]["prometheus"] + "/api/v1/rules?type=alert"
    with urllib.request.urlopen(url, timeout=5) as answer:
        groups = json.load(answer)["data"]["groups"]
    return {rule["name"] for group in groups for rule in group["rules"]}


def reload_prometheus(lab: Lab, controller: str, expect: bool) -> None:
    lab.in_host(controller, "systemctl reload prometheus")
    poll_until(lambda: ("NovaComputeDown" in loaded_alerts(lab)) == expect, timeout=60,
               description=f"NovaComputeDown {'loaded' if expect else 'gone'} from "
                           f"Prometheus at :{PROMETHEUS_PORT}", ignore=(OSError,))


@pytest.fixture
def rule_disabled(lab: Lab) -> Iterator[None]:
    """``NovaComputeDown`` removed from the rules the lab's Prometheus loads, put back after
    the test, even when it fails."""
    lab.ensure_up()
    controller = lab.topology.first_controller.name
    rules = lab.paths.merged(controller) / RULES_FILE.lstrip("/")
    original = rules.read_text()
    data = yaml.safe_load(original)
    for group in data["groups"]:
        group["rules"] = [r for r in group["rules"] if r.get("alert") != "NovaComputeDown"]
    rules.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        reload_prometheus(lab, controller, expect=False)
        yield
    finally:
        rules.write_text(original)
        reload_prometheus(lab, controller, expect=True)


def run(tmp_path: Path, inventory: Path, seconds: int) -> tuple[int, str]:
    directory = write_feature_dir(tmp_path / "features", "alerts",
                                  FEATURE.format(seconds=seconds))
    argv = ["run", str(directory), "--inventory", str(inventory),
            "--journal", str(tmp_path / "journal.jsonl"), "--reports", str(tmp_path / "reports"),
            "--", "-c", "/dev/null", "--rootdir", str(directory), "-q", "-p", "no:cacheprovider"]
    result = subprocess.run([sys.executable, "-m", "stackdrill.cli", *argv], cwd=ROOT,
                            env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
                            capture_output=True, text=True, timeout=900, check=False)
    return result.returncode, result.stdout + result.stderr


def test_an_alert_that_never_fires_fails_the_drill(lab: Lab, rule_disabled: None,
                                                    tmp_path: Path) -> None:
    code, output = run(tmp_path, lab.paths.inventory, seconds=60)
    assert code == 1, output
    assert ('the alert "NovaComputeDown" did not fire within 60 s of the injection of fault '
            "stop_service on compute1: never listed by Alertmanager at http://") in output, output


@pytest.mark.long  # the same drill as compute/compute_service, which the main command runs
def test_an_alert_that_fires_and_clears_passes(lab: Lab, tmp_path: Path) -> None:
    lab.ensure_up()
    code, output = run(tmp_path, lab.paths.inventory, seconds=120)
    assert code == 0, output


def test_a_run_without_an_alertmanager_is_refused_before_injection(lab: Lab,
                                                                   tmp_path: Path) -> None:
    lab.ensure_up()
    inventory = lab_inventory(lab, tmp_path)
    data = yaml.safe_load(inventory.read_text())
    del data["alerts"]
    inventory.write_text(yaml.safe_dump(data))
    directory = write_feature_dir(tmp_path / "features", "alerts", FEATURE.format(seconds=60))
    result = stackdrill("run", str(directory), "--inventory", str(inventory),
                        "--journal", str(tmp_path / "journal.jsonl"), "--", "-c", "/dev/null",
                        "--rootdir", str(directory), "-q", "-p", "no:cacheprovider",
                        state=tmp_path / "state")
    assert_one_line_error(result, "the alert steps need the cloud's Alertmanager")
    assert not (tmp_path / "journal.jsonl").exists() or \
        "stop_service" not in (tmp_path / "journal.jsonl").read_text()
