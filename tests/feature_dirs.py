"""A throw-away features directory for tests that run the drill vocabulary on their own
feature text, as an operator's own feature directory would."""

from __future__ import annotations

import subprocess
from pathlib import Path

CONFTEST = 'pytest_plugins = ["stackdrill.builtin.steps.drill_steps"]\n'


def write_feature_dir(directory: Path, name: str, feature: str, conftest: str = CONFTEST) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.feature").write_text(feature)
    (directory / "conftest.py").write_text(conftest)
    (directory / f"test_{name}.py").write_text(
        f"from pytest_bdd import scenarios\n\nscenarios('{name}.feature')\n")
    return directory


def kill_once_injected(proc: subprocess.Popen[str]) -> None:
    """SIGKILL a run once it prints "injected" (a fault of the test's own says so, then holds);
    fails if the run ends before."""
    assert proc.stdout is not None
    words: list[str] = []
    try:
        while "injected" not in words:
            line = proc.stdout.readline()
            assert line, f"the run ended before the injection: {words}"
            words.extend(line.split()[-1:])
    finally:
        proc.kill()
        proc.wait(timeout=30)
