"""Ships the top-level built-in folders inside the wheel as ``stackdrill.builtin.*``, and the
shipped drills (``features/``) beside them as package data.

Only standard wheels and sdists get the copies: an editable install reads them from the
checkout (``stackdrill/builtin/__init__.py``), so an edit never meets a stale copy.

The drills ship as their ``.feature`` files alone, in their layout under ``features/``:
``features/compute/x.feature`` becomes ``stackdrill/builtin/features/compute/x.feature``. Their
``test_*.py`` binding modules stay behind, since a stackdrill run collects a feature file that
no test module binds by itself; ``stackdrill/builtin/pytest.ini`` makes ``stackdrill/builtin/``
their rootdir, so that each keeps its checkout name, ``features/compute/x.feature``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

BUILTIN_FOLDERS = ("faults", "recovery", "probes", "steps")
FEATURES = "features"


def feature_files(root: Path) -> list[str]:
    """The shipped drills' feature files, relative to the checkout ``root``, in POSIX form."""
    return sorted(path.relative_to(root).as_posix()
                  for path in (root / FEATURES).rglob("*.feature"))


class BuiltinFoldersHook(BuildHookInterface):  # type: ignore[misc]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        for folder in BUILTIN_FOLDERS:
            build_data["force_include"][folder] = f"stackdrill/builtin/{folder}"
        for feature in feature_files(Path(self.root)):
            build_data["force_include"][feature] = f"stackdrill/builtin/{feature}"
