"""A Tempest step's regex against the tests Tempest lists, before anything runs: with a fake
Tempest virtualenv, a regex that selects no test is refused at collection (exit 2, one line,
by ``stackdrill run`` and ``stackdrill plan``), one that selects tests is accepted, Tempest is
listed once however many steps there are, and a listing that fails refuses with one line.
Without Tempest installed the plan passes, and a run is refused before anything is injected,
naming ``stackdrill tempest install``."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackdrill import cli
from stackdrill.cloud.tempest import TempestError
from stackdrill.cloud.tempest.install import TempestVenv
from stackdrill.cloud.tempest.listing import TestList, list_tests
from stackdrill.cloud.tempest.selection import selection_problem
from stackdrill.engine.tempest_check import run_venv
from tests.unit.fake_cloud import Ran, events, fake_project, run_args, service_scenario, stackdrill
from tests.unit.tempest_fakes import LISTED, VERSION, fake_venv, inits, listings
from tests.unit.test_feature_input_refused import plan_args

NOTHING = "tempest\\.api\\.nothing"
SMOKE = "\\bsmoke\\b"


def feature(*regexes: str) -> str:
    """A drill on the fake cloud (a fault injected, confirmed and recovered), then a Tempest
    step per regex, each in a scenario of its own."""
    text = "Feature: Tempest after a drill\n"
    for number, regex in enumerate(regexes):
        text += service_scenario(f"drill {number}", "canary", "other")
        text += f'    And Tempest\'s "{regex}" tests pass\n'
    return text


def tempest_line(text: str, regex: str) -> int:
    """The line of the Tempest step of ``regex`` in ``text``."""
    return next(number for number, line in enumerate(text.splitlines(), 1)
                if f'Tempest\'s "{regex}"' in line)


def one_line(ran: Ran) -> str:
    lines = [line for line in ran.stderr.splitlines() if line.strip()]
    assert ran.code == cli.EXIT_BAD_INPUT, ran
    assert len(lines) == 1, ran
    assert "Traceback" not in ran.stdout + ran.stderr, ran
    return lines[0]


def command(tmp_path: Path, name: str, features: Path, inventory: Path,
            venv: TempestVenv | None) -> list[str]:
    """``stackdrill run`` or ``plan`` of ``features``, with ``--tempest-venv`` when given."""
    extra = ("--tempest-venv", str(venv.path)) if venv is not None else ()
    if name == "run":
        return run_args(tmp_path, features, inventory, pytest_args=extra)
    return [*plan_args(features, inventory), *extra]


@pytest.mark.parametrize("name", ["run", "plan"])
def test_a_regex_that_selects_no_test_is_refused_at_collection(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], name: str) -> None:
    text = feature(NOTHING)
    features, inventory = fake_project(tmp_path, text)
    venv = fake_venv(tmp_path)
    line = one_line(stackdrill(command(tmp_path, name, features, inventory, venv), tmp_path,
                               capfd))
    assert line.endswith(f"drills.feature:{tempest_line(text, NOTHING)}: Tempest's regex "
                         f"\"{NOTHING}\" selects no test of Tempest {VERSION} "
                         f"({len(LISTED)} tests listed)"), line
    assert events(features) == []  # nothing injected
    assert not (venv.path / "call.json").exists()  # Tempest never ran a selection


def test_a_regex_that_selects_tests_is_accepted(tmp_path: Path,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = fake_project(tmp_path, feature(SMOKE))
    venv = fake_venv(tmp_path)
    ran = stackdrill(command(tmp_path, "plan", features, inventory, venv), tmp_path, capfd)
    assert ran.code == cli.EXIT_OK, ran
    assert len(listings(venv)) == 1


def test_a_run_whose_regex_selects_tests_goes_on_to_the_drill(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Accepted at collection, the drill runs; the step then fails only for want of a cloud."""
    features, inventory = fake_project(tmp_path, feature(SMOKE))
    venv = fake_venv(tmp_path)
    ran = stackdrill(command(tmp_path, "run", features, inventory, venv), tmp_path, capfd)
    assert ran.code == cli.EXIT_FAILED, ran
    assert "the Tempest step needs a cloud" in ran.stdout, ran
    assert events(features)[:1] == ["inject compute1/canary"]


def test_tempest_is_listed_once_for_several_steps(tmp_path: Path,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    text = feature(SMOKE, "tempest\\.api\\.compute", "test_list_users", NOTHING)
    features, inventory = fake_project(tmp_path, text)
    venv = fake_venv(tmp_path)
    line = one_line(stackdrill(command(tmp_path, "plan", features, inventory, venv), tmp_path,
                               capfd))
    assert f"drills.feature:{tempest_line(text, NOTHING)}: " in line and "(and" not in line
    assert len(listings(venv)) == 1 and len(inits(venv)) == 1
    # and once per process: a second collection in the same process lists nothing again
    features, inventory = fake_project(tmp_path / "again", feature(SMOKE, "test_list_users"))
    ran = stackdrill(command(tmp_path, "plan", features, inventory, venv), tmp_path, capfd)
    assert ran.code == cli.EXIT_OK, ran
    assert len(listings(venv)) == 1


def test_each_step_that_selects_nothing_is_counted(tmp_path: Path,
                                                   capfd: pytest.CaptureFixture[str]) -> None:
    text = feature(NOTHING, SMOKE, "tempest\\.api\\.none")
    features, inventory = fake_project(tmp_path, text)
    line = one_line(stackdrill(command(tmp_path, "plan", features, inventory,
                                       fake_venv(tmp_path)), tmp_path, capfd))
    assert f"drills.feature:{tempest_line(text, NOTHING)}: " in line
    assert line.endswith(" (and 1 more)"), line


def test_the_listing_runs_in_a_workspace_tempest_init_made_and_removed(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = fake_project(tmp_path, feature(SMOKE))
    venv = fake_venv(tmp_path)
    stackdrill(command(tmp_path, "plan", features, inventory, venv), tmp_path, capfd)
    [init] = inits(venv)
    [listed_in] = listings(venv)
    assert init[0] == "init" and init[-1] == listed_in
    registry = Path(init[init.index("--workspace-path") + 1])
    assert registry.parent == Path(listed_in).parent  # not ~/.tempest/workspace.yaml
    assert not Path(listed_in).parent.exists()


def test_the_virtualenv_the_environment_names_is_the_one_listed(
        tmp_path: Path, capfd: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    features, inventory = fake_project(tmp_path, feature(NOTHING))
    venv = fake_venv(tmp_path)
    monkeypatch.setenv("STACKDRILL_TEMPEST_VENV", str(venv.path))
    assert run_venv(None).path == venv.path
    line = one_line(stackdrill(command(tmp_path, "plan", features, inventory, None), tmp_path,
                               capfd))
    assert "selects no test of Tempest" in line and len(listings(venv)) == 1


@pytest.mark.parametrize("name", ["run", "plan"])
def test_a_listing_that_fails_is_refused_with_one_line(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], name: str) -> None:
    text = feature(SMOKE)
    features, inventory = fake_project(tmp_path, text)
    venv = fake_venv(tmp_path, listing="crash")
    line = one_line(stackdrill(command(tmp_path, name, features, inventory, venv), tmp_path,
                               capfd))
    assert line.endswith(f"drills.feature:{tempest_line(text, SMOKE)}: listing Tempest's tests "
                         f"failed: `tempest run --list-tests` exited 1: ImportError: cannot "
                         f"import name 'clients' from 'tempest'"), line
    assert events(features) == []


def test_a_listing_of_no_test_is_a_failure(tmp_path: Path) -> None:
    with pytest.raises(TempestError, match=r"listing Tempest's tests failed: `tempest run "
                                           r"--list-tests` from .* listed no test"):
        list_tests(fake_venv(tmp_path, listing="empty"))


def test_without_tempest_the_plan_passes(tmp_path: Path,
                                         capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = fake_project(tmp_path, feature(NOTHING))
    ran = stackdrill(command(tmp_path, "plan", features, inventory, None), tmp_path, capfd)
    assert ran.code == cli.EXIT_OK, ran


def test_without_tempest_a_run_is_refused_before_anything_is_injected(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    text = feature(SMOKE)
    features, inventory = fake_project(tmp_path, text)
    missing = tmp_path / "no-venv"
    line = one_line(stackdrill(command(tmp_path, "run", features, inventory,
                                       TempestVenv(missing)), tmp_path, capfd))
    assert line.endswith(f"drills.feature:{tempest_line(text, SMOKE)}: the Tempest step cannot "
                         f"run: Tempest is not installed in {missing}: run `stackdrill tempest "
                         f"install --venv {missing}`"), line
    assert events(features) == []


def test_a_run_without_a_tempest_step_needs_no_tempest(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = fake_project(
        tmp_path, "Feature: no Tempest\n" + service_scenario("a drill", "canary", "other"))
    ran = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_OK, ran


def test_a_regex_is_matched_as_stestr_matches_it() -> None:
    tests = TestList(LISTED, VERSION, Path("/venv"))
    assert tests.selected(SMOKE) == 2
    assert tests.selected("^tempest\\.api\\.(compute|identity)") == 3
    assert tests.selected("id-c285bb37") == 1  # re.search: anywhere in the id
    assert selection_problem("test_list_users", tests) is None
    assert selection_problem("^api", tests) == (
        f"Tempest's regex \"^api\" selects no test of Tempest {VERSION} (5 tests listed)")
    assert "the Tempest of /venv" in str(
        selection_problem("^api", TestList(LISTED, None, Path("/venv"))))
