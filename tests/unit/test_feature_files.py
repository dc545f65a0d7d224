"""A directory of feature files is a drill directory: the plugin loads the built-in steps and
registers the drills' markers itself, and collects a feature file that no test module binds,
from any working directory. The checkout's features keep their modules and node ids, and plain
pytest on a project that merely has stackdrill installed collects no feature file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stackdrill import cli
from stackdrill.pytest_plugin.vocabulary import MARKERS, step_modules
from tests.unit.fake_cloud import CANARY_SCENARIO, CONFTEST, events, fake_project, run_args

ROOT = Path(__file__).resolve().parents[2]
CITED = "features/compute/test_compute_drills.py::test_libvirtd_is_killed_with_sigkill_and_its_" \
        "guests_survive"


def python(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(home / "state")}
    env.pop("STACKDRILL_INVENTORY", None)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def collected(output: str) -> list[str]:
    return [line for line in output.splitlines() if "::" in line]


def test_the_step_modules_are_every_builtin_one_and_the_checkout_conftest_lists_none() -> None:
    folder = sorted(f"stackdrill.builtin.steps.{path.stem}"
                    for path in (ROOT / "steps").glob("*.py") if path.stem != "__init__")
    assert step_modules() == folder
    assert {f"stackdrill.builtin.steps.{name}" for name in
            ("cloud_steps", "drill_steps", "tenant_steps", "upgrade_steps")} <= set(folder)
    assert "pytest_plugins" not in (ROOT / "conftest.py").read_text()


def test_the_checkout_features_are_collected_once_with_their_modules_node_ids(
        tmp_path: Path) -> None:
    """As ``stackdrill run features`` collects them (feature files collected directly too)."""
    result = python("-m", "pytest", "features", "--collect-only", "-q", "-p", "no:randomly",
                    "-p", "no:cacheprovider", "-o", "stackdrill_features=true", "--seed", "1",
                    cwd=ROOT, home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    ids = collected(result.stdout)
    assert CITED in ids
    assert len(ids) == len(set(ids)) >= 25
    assert all(node.startswith("features/") and ".py::test_" in node for node in ids), ids


def test_plain_pytest_on_another_project_leaves_its_feature_files_alone(tmp_path: Path) -> None:
    """A behave project's features (steps pytest-bdd never heard of) are not collected unless
    the run uses stackdrill."""
    (tmp_path / "features").mkdir()
    (tmp_path / "features" / "x.feature").write_text(
        "Feature: behave's\n  Scenario: y\n    Given a step only behave knows\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_ok.py").write_text("def test_ok():\n    pass\n")
    plain = python("-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                   cwd=tmp_path, home=tmp_path)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "1 passed" in plain.stdout
    drilling = python("-m", "pytest", "-q", "-p", "no:cacheprovider", "-o",
                      "stackdrill_features=true", cwd=tmp_path, home=tmp_path)
    assert drilling.returncode == 4, drilling.stdout + drilling.stderr
    assert "features/x.feature:3: no step definition matches 'Given a step only behave " \
           "knows'" in drilling.stderr


def test_a_directory_of_features_alone_runs_from_another_working_directory(
        tmp_path: Path) -> None:
    """No test module and no ``pytest_plugins`` line; tags checked with ``--strict-markers``
    and no ini file (``-c /dev/null``)."""
    features, inventory = fake_project(tmp_path, "@lab @compute\nFeature: own drills\n"
                                       + CANARY_SCENARIO)
    (features / "test_drills.py").unlink()
    (features / "conftest.py").write_text(
        CONFTEST.replace('pytest_plugins = ["stackdrill.builtin.steps.drill_steps"]\n', ""))
    assert "pytest_plugins" not in (features / "conftest.py").read_text()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = python("-m", "stackdrill.cli",
                    *run_args(tmp_path, features, inventory,
                              pytest_args=("-rA", "--strict-markers")),
                    cwd=elsewhere, home=tmp_path)
    assert result.returncode == cli.EXIT_OK, result.stdout + result.stderr
    assert "PASSED ../features/drills.feature::test_the_canary_stops" in result.stdout
    assert events(features) == ["inject compute1/canary", "recover compute1/canary",
                                "undo compute1/canary"]


def test_a_scenario_a_module_elsewhere_binds_runs_once_as_the_modules_test(
        tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "features").mkdir(parents=True)
    (project / "features" / "one.feature").write_text(
        "Feature: one\n  Scenario: a compute host\n    Given a compute host\n")
    (project / "test_bound.py").write_text(
        "from pytest_bdd import scenarios\n\nscenarios('features')\n")
    result = python("-m", "pytest", str(project), "--collect-only", "-q", "-c", "/dev/null",
                    "--rootdir", str(project), "-p", "no:cacheprovider", "-o",
                    "stackdrill_features=true", cwd=tmp_path, home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert collected(result.stdout) == ["test_bound.py::test_a_compute_host"]
    assert "1/2 tests collected (1 deselected)" in result.stdout


def test_the_drills_markers_are_registered_once(tmp_path: Path) -> None:
    """Outside the checkout from the plugin; in the checkout its pyproject.toml's stay."""
    outside = python("-m", "pytest", "--markers", "-c", "/dev/null", "-p", "no:cacheprovider",
                     cwd=tmp_path, home=tmp_path)
    inside = python("-m", "pytest", "--markers", "-p", "no:cacheprovider", cwd=ROOT,
                    home=tmp_path)
    for result in (outside, inside):
        assert result.returncode == 0, result.stdout + result.stderr
        for name in MARKERS:
            assert sum(line.startswith(f"@pytest.mark.{name}:")
                       for line in result.stdout.splitlines()) == 1, (name, result.stdout)
    assert "@pytest.mark.lab: needs the embedded lab" in inside.stdout
