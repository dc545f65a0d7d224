"""The public API is one door, ``stackdrill.api``: its ``__all__`` is the written list below, so
that a change to it is deliberate; every name in it, and every public method and property of its
classes, says what it is for; nothing else in the package looks public; and the project
``stackdrill init`` writes, like the code docs/your-own-drills.md shows, imports stackdrill only
through that door."""

from __future__ import annotations

import ast
import functools
import inspect
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import stackdrill.api
from stackdrill.cli.scaffold import project_files

ROOT = Path(__file__).resolve().parents[2]
DOOR = "stackdrill.api"

PUBLIC = [
    "CloudContext",
    "CloudProbe",
    "CommandFailed",
    "CommandResult",
    "Fault",
    "FaultError",
    "HostError",
    "Param",
    "ParamError",
    "Probe",
    "ProbeFailed",
    "ProbeOutput",
    "Recovery",
    "RecoveryContext",
    "RecoveryFailed",
    "Registries",
    "Registry",
    "ResourceFailed",
    "RunbookStep",
    "Service",
    "ServiceStatus",
    "Target",
    "Targets",
    "boolean",
    "cloud_path",
    "host_path",
    "positive_float",
    "positive_int",
    "run_calls",
    "signal_name",
    "wait",
    "word_list",
]
"""The public API. Adding a name here promises to keep it; removing or renaming one breaks the
drills of every user who imports it."""


def own_doc(item: Any) -> str:
    """``item``'s own docstring: not one inherited from a base class, nor the signature a
    dataclass writes when it has none."""
    doc = item.__dict__.get("__doc__") if isinstance(item, type) else item.__doc__
    if not isinstance(doc, str):
        return ""
    if isinstance(item, type) and doc.startswith(f"{item.__name__}("):
        return ""
    return doc.strip()


def public_members(cls: type) -> Iterator[tuple[str, str]]:
    """``(qualified name, docstring)`` of every public method and property ``cls`` has, from
    itself and from its stackdrill base classes."""
    seen: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("stackdrill"):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            member = value.__func__ if isinstance(value, classmethod | staticmethod) else value
            if isinstance(member, property | functools.cached_property) \
                    or inspect.isfunction(member):
                seen.add(name)
                yield f"{klass.__name__}.{name}", (member.__doc__ or "").strip()


def test_the_door_exports_exactly_the_written_list() -> None:
    assert stackdrill.api.__all__ == PUBLIC
    assert sorted(PUBLIC) == PUBLIC


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_exists_and_says_what_it_is_for(name: str) -> None:
    item = getattr(stackdrill.api, name)
    assert len(own_doc(item)) > 20, f"{DOOR}.{name} has no docstring"


def test_every_public_method_and_property_has_a_docstring() -> None:
    classes = [getattr(stackdrill.api, name) for name in PUBLIC]
    undocumented = sorted({qualname for cls in classes if isinstance(cls, type)
                           for qualname, doc in public_members(cls) if not doc})
    assert undocumented == []


def test_nothing_else_in_the_package_looks_public() -> None:
    """The package's modules are private (a leading ``_``), and its namespace holds the public
    names and nothing else (``annotations`` is the ``__future__`` import; pytest's assertion
    rewriting, which a pytest plugin's modules get, adds names that are not identifiers)."""
    modules = [info.name for info in pkgutil.iter_modules(stackdrill.api.__path__)]
    assert modules, "no modules found inside stackdrill.api"
    assert [name for name in modules if not name.startswith("_")] == []
    visible = {name for name in vars(stackdrill.api)
               if name.isidentifier() and not name.startswith("_")}
    assert visible - {"annotations"} == set(PUBLIC)


def test_the_probe_paths_are_the_snapshots() -> None:
    assert stackdrill.api.host_path("compute1", "unit:dbus/active") == \
        "host:compute1/unit:dbus/active"
    assert stackdrill.api.host_path("compute1") == "host:compute1"
    assert stackdrill.api.host_path("compute1", "ssh") == "host:compute1/ssh"
    assert stackdrill.api.cloud_path("server:canary/status") == "cloud/server:canary/status"
    assert stackdrill.api.cloud_path("probe:nova_db") == "cloud/probe:nova_db"


def stackdrill_imports(source: str) -> list[str]:
    """Every module of stackdrill that ``source`` imports, as ``module`` or ``module.name``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
    return [name for name in found if name == "stackdrill" or name.startswith("stackdrill.")]


def scaffold_sources() -> dict[str, str]:
    return {str(path): text for path, text in project_files(Path("memcached")).items()
            if path.suffix == ".py"}


def docs_blocks() -> dict[str, str]:
    page = (ROOT / "docs" / "your-own-drills.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```$", page, flags=re.MULTILINE | re.DOTALL)
    return {f"docs/your-own-drills.md, python block {number}": block
            for number, block in enumerate(blocks, 1)}


@pytest.mark.parametrize("sources", [scaffold_sources, docs_blocks],
                         ids=["scaffold", "your-own-drills"])
def test_user_code_imports_stackdrill_only_through_the_door(sources: Any) -> None:
    found = sources()
    assert found, "no Python code found"
    wrong = {name: names for name, text in found.items()
             if (names := [m for m in stackdrill_imports(text) if m != DOOR])}
    assert wrong == {}
    assert any(DOOR in stackdrill_imports(text) for text in found.values())
