"""A throw-away features directory for tests that run the drill vocabulary on their own
feature text, as an operator's own feature directory would."""

from __future__ import annotations

from pathlib import Path

CONFTEST = 'pytest_plugins = ["stackdrill.builtin.steps.drill_steps"]\n'


def write_feature_dir(directory: Path, name: str, feature: str, conftest: str = CONFTEST) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.feature").write_text(feature)
    (directory / "conftest.py").write_text(conftest)
    (directory / f"test_{name}.py").write_text(
        f"from pytest_bdd import scenarios\n\nscenarios('{name}.feature')\n")
    return directory
