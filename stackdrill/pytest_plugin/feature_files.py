"""Feature files collected as drills without a test module written for them.

pytest-bdd 9 has no collector for ``.feature`` files. Its public way to turn a feature into
tests is :func:`pytest_bdd.scenarios`, which adds a ``test_<scenario>`` function for each
scenario to the namespace of the module that calls it (it finds that namespace through the
caller's frame). So a feature file is collected as a module generated in memory whose only code
is ``scenarios(<the file>)``, and pytest's own module collector makes the items from it, exactly
as from a hand-written ``test_<name>.py`` beside the feature: the same test names, Examples
parameters and tags. Their node ids are ``<dir>/<name>.feature::test_<scenario>``.

Which feature files:

- Only in a run that uses stackdrill: one that names a cloud (``--inventory``, which
  ``STACKDRILL_INVENTORY`` sets, or ``--lab``), a dry run (``--stackdrill-plan``), every
  ``stackdrill run`` and ``stackdrill plan``, or one whose ini file says
  ``stackdrill_features = true``. Plain pytest on a project that merely has stackdrill
  installed collects no ``.feature`` file it did not collect before (a behave project's, say).
- Only where no test module binds them: a directory holding a file that pytest collects as a
  test module (``python_files``: ``test_*.py``, ``*_test.py``) binds its features itself, as
  the checkout's ``features/<area>/test_*.py`` do, and none of its features is collected
  directly; their node ids stay the modules'.
- A scenario that a test module elsewhere binds as well (a ``tests/test_drills.py`` calling
  ``scenarios("../features")``) runs once, as the module's test: its direct copy is deselected.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from stackdrill.pytest_plugin.options import planning
from stackdrill.pytest_plugin.scenarios import scenario_template

INI = "stackdrill_features"

_SOURCE = ("from pytest_bdd import scenarios\n\n"
           "scenarios(FEATURE_FILE, features_base_dir=BASE_DIR)\n")
"""The generated module's code: fixed text, the file's path handed in as a global."""

_BOUND = pytest.StashKey[dict[Path, bool]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(INI, type="bool", default=False,
                  help="collect .feature files that no test module binds as stackdrill drills "
                       "(on anyway with --inventory, --lab or a dry run)")


def collects_features(config: pytest.Config) -> bool:
    """Whether this run collects feature files directly (see the module's docstring)."""
    return bool(config.getini(INI) or config.getoption("inventory", None)
                or config.getoption("lab", False) or planning(config))


def bound_in(directory: Path, config: pytest.Config) -> bool:
    """Whether ``directory`` holds a file pytest collects as a test module."""
    known = config.stash.setdefault(_BOUND, {})
    if directory not in known:
        patterns = [str(p) for p in config.getini("python_files")]
        known[directory] = any(
            fnmatch.fnmatch(entry.name, pattern)
            for entry in directory.iterdir() if entry.is_file() for pattern in patterns)
    return known[directory]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix != ".feature" or not collects_features(parent.config):
        return None
    if bound_in(file_path.parent, parent.config):
        return None
    collector: FeatureFile = FeatureFile.from_parent(parent, path=file_path)
    return collector


class FeatureFile(pytest.Module):
    """A feature file no test module binds, collected as the module ``scenarios(file)``
    makes."""

    def _getobj(self) -> ModuleType:
        return feature_module(self.path)


def feature_module(path: Path) -> ModuleType:
    """The module a ``test_<name>.py`` holding ``scenarios("<name>.feature")`` would be, made in
    memory: pytest-bdd's ``scenarios`` adds each scenario's test function to it."""
    module = ModuleType(f"{path.stem}_feature", f"The scenarios of {path}.")
    module.__file__ = str(path)
    module.__dict__.update(FEATURE_FILE=str(path), BASE_DIR=str(path.parent))
    code = compile(_SOURCE, f"<stackdrill: the scenarios of {path}>", "exec")
    exec(code, module.__dict__)  # noqa: S102 (the fixed text above; the path is a global)
    return module


def _direct(item: pytest.Item) -> bool:
    return item.getparent(FeatureFile) is not None


def _scenario_key(item: pytest.Item) -> tuple[str, str, str] | None:
    template: Any = scenario_template(item)
    if template is None:
        return None
    callspec = getattr(item, "callspec", None)
    return template.feature.filename, template.name, callspec.id if callspec else ""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A scenario a test module binds runs as the module's test: its direct copy is
    deselected (before the plugin's checks read the items)."""
    if not any(_direct(item) for item in items):
        return
    bound = {key for item in items if not _direct(item)
             if (key := _scenario_key(item)) is not None}
    twice = [item for item in items if _direct(item) and _scenario_key(item) in bound]
    if twice:
        config.hook.pytest_deselected(items=twice)
        dropped = set(map(id, twice))
        items[:] = [item for item in items if id(item) not in dropped]
