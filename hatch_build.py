"""Ships the top-level built-in folders inside the wheel as ``stackdrill.builtin.*``.

Only standard wheels and sdists get the copies: an editable install reads them from the
checkout (``stackdrill/builtin/__init__.py``), so an edit never meets a stale copy.
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

BUILTIN_FOLDERS = ("faults", "recovery", "probes", "steps")


class BuiltinFoldersHook(BuildHookInterface):  # type: ignore[misc]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        for folder in BUILTIN_FOLDERS:
            build_data["force_include"][folder] = f"stackdrill/builtin/{folder}"
