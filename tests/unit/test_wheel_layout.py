"""The wheel ships the built-in folders inside ``stackdrill.builtin``, the drills' feature files
in ``stackdrill/builtin/features/``, and nothing under a generic top-level name: the build
hook's mapping, read without building anything (test_installed_wheel.py builds and installs)."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
import types
from typing import Any

import pytest

from tests.unit.test_architecture import BUILTIN_FOLDERS, ROOT


class _HookInterface:
    """Stands in for hatchling's ``BuildHookInterface``: only what the hook reads."""

    target_name = "wheel"
    root = str(ROOT)


def _hook(monkeypatch: pytest.MonkeyPatch) -> Any:
    interface = types.ModuleType("hatchling.builders.hooks.plugin.interface")
    interface.BuildHookInterface = _HookInterface  # type: ignore[attr-defined]
    for name in ("hatchling", "hatchling.builders", "hatchling.builders.hooks",
                 "hatchling.builders.hooks.plugin"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, interface.__name__, interface)
    spec = importlib.util.spec_from_file_location("_hatch_build_under_test",
                                                  ROOT / "hatch_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BuiltinFoldersHook()


def test_a_wheel_maps_each_builtin_folder_into_stackdrill_builtin(
        monkeypatch: pytest.MonkeyPatch) -> None:
    hook = _hook(monkeypatch)
    build_data: dict[str, Any] = {"force_include": {}}
    hook.initialize("standard", build_data)
    features = {str(path.relative_to(ROOT)) for path in (ROOT / "features").rglob("*.feature")}
    assert features
    assert build_data["force_include"] == {
        **{folder: f"stackdrill/builtin/{folder}" for folder in BUILTIN_FOLDERS},
        **{feature: f"stackdrill/builtin/{feature}" for feature in features}}
    for folder in BUILTIN_FOLDERS:
        assert (ROOT / folder / "__init__.py").is_file()


def test_an_editable_install_reads_the_checkout_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = _hook(monkeypatch)
    build_data: dict[str, Any] = {"force_include": {}}
    hook.initialize("editable", build_data)
    assert build_data["force_include"] == {}


def test_the_wheel_packages_only_stackdrill() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == ["stackdrill"]
    assert "custom" in wheel["hooks"]
    sdist = project["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    assert {*BUILTIN_FOLDERS, "features", "stackdrill", "hatch_build.py"} <= set(sdist)
    plugins = project["project"]["entry-points"]["stackdrill.plugins"]
    assert not [target for target in plugins.values()
                if target.split(".")[0] in BUILTIN_FOLDERS]
