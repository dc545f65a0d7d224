"""``Then Tempest's "<regex>" tests pass``: a regex Python cannot compile and an inventory whose
``tempest`` key cannot be right are refused before anything runs (exit 2, one line); a run
through the plugin, on the fake cloud with a fake Tempest, makes each Tempest test a sub-step of
the step in the Allure results, with its status, attaches the JUnit XML, fails the step with
one line, and leaves the admin password in no report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stackdrill import cli
from stackdrill.cloud.tempest.selection import compile_problem, regex_of, step_problems
from tests.unit.fake_cloud import HOSTS, fake_project, run_args, stackdrill
from tests.unit.tempest_fakes import PASSWORD, fake_venv
from tests.unit.test_feature_input_refused import plan_args

SCENARIO = ("Feature: Tempest on the fake cloud\n"
            "  Scenario: Tempest judges the cloud\n"
            "    Given a compute host\n"
            '    Then Tempest\'s "{regex}" tests pass\n')

FAKE_ACCESS = '''

from tests.unit.tempest_fakes import FakeAccess


@pytest.fixture(scope="session")
def cloud_access(redactor):
    return FakeAccess(redactor)
'''


def test_the_step_text_gives_its_regex() -> None:
    assert regex_of('Tempest\'s "tempest\\.api\\.(compute|volume)" tests pass') == \
        "tempest\\.api\\.(compute|volume)"
    assert regex_of("the cloud is back to its verified state within 5 seconds") is None
    assert compile_problem("tempest\\.api") is None


@pytest.mark.parametrize(("regex", "why"), [
    ("tempest\\.api\\.(compute", "missing ), unterminated subpattern at position 14"),
    ("*smoke", "nothing to repeat at position 0"),
    ("tempest[", "unterminated character set at position 7"),
])
def test_a_regex_python_cannot_compile_is_one_line(regex: str, why: str) -> None:
    assert step_problems("f.feature:4", f'Tempest\'s "{regex}" tests pass') == [
        f"f.feature:4: Tempest's regex \"{regex}\" does not compile: {why}"]


@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_bad_regex_is_refused_at_collection(tmp_path: Path, command: str,
                                              capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = fake_project(tmp_path, SCENARIO.format(regex="tempest.api.(compute"))
    argv = (run_args(tmp_path, features, inventory) if command == "run"
            else plan_args(features, inventory))
    ran = stackdrill(argv, tmp_path, capfd)
    lines = [line for line in ran.stderr.splitlines() if line.strip()]
    assert ran.code == cli.EXIT_BAD_INPUT, ran
    assert len(lines) == 1, ran
    assert "drills.feature:4: Tempest's regex \"tempest.api.(compute\" does not compile: " \
           "missing ), unterminated subpattern at position 12" in lines[0]
    assert "Traceback" not in ran.stdout + ran.stderr


def test_a_good_regex_is_planned(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = fake_project(tmp_path, SCENARIO.format(regex="tempest\\.api"))
    ran = stackdrill(plan_args(features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_OK, ran


@pytest.mark.parametrize(("tempest", "line"), [
    ({"concurrency": 0}, "tempest.concurrency: expected integer >= 1, got 0"),
    ({"ssh_validation": True}, "tempest.ssh_validation: needs guest_networking: true"),
    ({"options": {"auth": {"admin_password": "x"}}},
     "tempest.options.auth.admin_password: the admin password comes from the cloud's "
     "clouds.yaml entry, never from the inventory"),
    ({"services": {"dns": True}}, "tempest.services: unknown key 'dns'"),
])
def test_a_tempest_key_that_cannot_be_right_is_refused_at_load(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], tempest: dict[str, Any],
        line: str) -> None:
    features, inventory = fake_project(tmp_path, SCENARIO.format(regex="tempest"), inventory={
        "cloud": "unit", "hosts": HOSTS, "tempest": tempest})
    ran = stackdrill(plan_args(features, inventory), tmp_path, capfd)
    lines = [text for text in ran.stderr.splitlines() if text.strip()]
    assert ran.code == cli.EXIT_BAD_INPUT, ran
    assert len(lines) == 1 and line in lines[0], ran


def allure_results(directory: Path) -> list[dict[str, Any]]:
    found = (directory / "reports" / "latest" / "allure-results").glob("*-result.json")
    return [json.loads(path.read_text()) for path in found]


def test_each_tempest_test_is_a_sub_step_of_the_step(tmp_path: Path,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = fake_project(tmp_path, SCENARIO.format(regex="tempest\\.api"))
    with (features / "conftest.py").open("a") as conftest:
        conftest.write(FAKE_ACCESS)
    venv = fake_venv(tmp_path)
    ran = stackdrill(run_args(tmp_path, features, inventory, pytest_args=(
        "--tempest-venv", str(venv.path), "--api-sample-interval", "0")), tmp_path, capfd)
    assert ran.code == cli.EXIT_FAILED, ran
    assert ("Tempest's \"tempest\\.api\" tests: 1 of 4 failed (first: sample_api."
            "VolumesGetTestJSON.test_volume_create_get_delete") in ran.stdout, ran
    [result] = allure_results(tmp_path)
    [step] = [s for s in result["steps"] if s["name"].startswith("Then Tempest's")]
    assert step["status"] == "failed"
    tests = {sub["name"].split(" (")[0].rsplit(".", 1)[-1]: sub for sub in step["steps"]}
    assert {name: sub["status"] for name, sub in tests.items()} == {
        "test_get_flavor[id-1f12046b-753d-40d2-abb6-d8eb8b30cb2f,smoke]": "passed",
        "test_list_flavors[id-e36c0eaa-dff5-4082-ad1f-3f9a80aa3f59]": "passed",
        "test_known_bug[id-9959ca1d-1aa7-4b7a-a1ea-0fff0499b37e]": "passed",
        "setUpClass": "skipped",
        "test_volume_create_get_delete[id-54a01030-c7fc-447c-86ee-c1182beae638]": "failed",
        "test_volume_snapshot[id-2a8abe3a-1fe9-4d9e-9dff-2a9bdd69a8c9]": "skipped"}
    assert tests["setUpClass"]["statusDetails"]["message"].endswith("Neutron is not available\n")
    failed = tests["test_volume_create_get_delete[id-54a01030-c7fc-447c-86ee-c1182beae638]"]
    assert "failed to reach available status" in failed["statusDetails"]["message"]
    assert [a["name"] for a in failed["attachments"]] == ["failure"]
    names = {a["name"]: a["type"] for a in step["attachments"]}
    assert names["Tempest results (JUnit XML)"] == "application/xml"
    assert "what Tempest was told of the cloud" in names
    for path in (tmp_path / "reports").rglob("*"):
        if path.is_file():
            assert PASSWORD not in path.read_text(errors="replace"), path
    assert PASSWORD not in ran.stdout + ran.stderr


def test_without_a_cloud_the_step_fails_saying_so(tmp_path: Path,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = fake_project(tmp_path, SCENARIO.format(regex="tempest"))
    venv = fake_venv(tmp_path)
    ran = stackdrill(run_args(tmp_path, features, inventory,
                              pytest_args=("--tempest-venv", str(venv.path))), tmp_path, capfd)
    assert ran.code == cli.EXIT_FAILED, ran
    assert "the Tempest step needs a cloud: no clouds.yaml entry for this inventory" \
        in ran.stdout
