"""The boot-check steps name the host they boot on by its role: a role no inventory knows, or
one no earlier step chose a host of, is refused when the features are collected (exit 2, one
line, nothing run), as for a fault's or a recovery's host."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackdrill import cli
from tests.unit.fake_cloud import CONFTEST, Ran, fake_project, stackdrill

STEPS = ('pytest_plugins = ["stackdrill.builtin.steps.drill_steps"]',
         'pytest_plugins = ["stackdrill.builtin.steps.drill_steps",'
         ' "stackdrill.builtin.steps.cloud_steps"]')
BOOT = "Then a server booted on the {role} host becomes ACTIVE within 5 seconds"


def plan(tmp_path: Path, capfd: pytest.CaptureFixture[str], *steps: str) -> Ran:
    feature = ("Feature: the boot check\n  Scenario: a server is booted\n"
               + "".join(f"    {step}\n" for step in steps))
    features, inventory = fake_project(tmp_path, feature)
    (features / "conftest.py").write_text(CONFTEST.replace(*STEPS))
    return stackdrill(["plan", str(features), "--inventory", str(inventory), "--", "-c",
                       "/dev/null", "--rootdir", str(features), "--import-mode=importlib"],
                      tmp_path, capfd)



@pytest.mark.parametrize(("steps", "line", "fragment"), [
    ((BOOT.format(role="gpu"),), 3, "unknown role 'gpu'"),
    ((BOOT.format(role="compute"),), 3,
     "the step acts on the compute host, but no earlier step 'Given a compute host' chooses "
     "one"),
])
def test_a_boot_on_a_host_no_step_chose_is_refused(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], steps: tuple[str, ...], line: int,
        fragment: str) -> None:
    ran = plan(tmp_path, capfd, *steps)
    lines = [text for text in ran.stderr.splitlines() if text.strip()]
    assert ran.code == cli.EXIT_BAD_INPUT, ran
    assert len(lines) == 1 and f"drills.feature:{line}:" in lines[0] and fragment in lines[0]


def test_a_boot_on_the_chosen_host_is_planned(tmp_path: Path,
                                              capfd: pytest.CaptureFixture[str]) -> None:
    ran = plan(tmp_path, capfd, "Given a compute host", BOOT.format(role="compute"))
    assert ran.code == cli.EXIT_OK, ran
