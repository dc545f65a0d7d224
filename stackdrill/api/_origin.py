"""Where a fault's or a recovery's class was loaded from, so that ``stackdrill recover --pending``
can undo, in a fresh process, what a class from a ``conftest.py`` or a plugin module did.

The journal records the class's module, its qualified name and the module's file. Loading
imports the module by name when that name finds the same file; otherwise it runs the file
itself, and only a regular file that root or the current user owns and that others cannot
write. Whether a name finds the file is decided without running anything but stackdrill's own
packages. A built-in journalled under a former module name (:mod:`stackdrill.api._former_names`)
is imported from its module now."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from stackdrill.api._former_names import current_module
from stackdrill.api._registry import Registries
from stackdrill.core.errors import HarnessError

__all__ = ["Origin", "OriginError", "current_origin", "load_class", "origin_of"]

_OWN_PACKAGE = "stackdrill"


class OriginError(HarnessError):
    """A journalled class cannot be loaded; one line naming its file (or module)."""


@dataclass(frozen=True)
class Origin:
    """Where a journalled fault's or recovery's class was loaded from: its module, its
    qualified name, and the module's file (None for a module without one)."""

    module: str
    qualname: str
    file: str | None = None  # None: a module without a file, imported by name

    def to_json(self) -> dict[str, str]:
        return {"module": self.module, "qualname": self.qualname,
                **({"file": self.file} if self.file is not None else {})}

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> Origin:
        module, qualname, file = (record.get(key) for key in ("module", "qualname", "file"))
        if not (isinstance(module, str) and isinstance(qualname, str)
                and (file is None or isinstance(file, str))):
            raise OriginError("an origin is a module and a qualname, and a file if any")
        return cls(module, qualname, file)

    @property
    def where(self) -> str:
        return self.file or self.module


def origin_of(item: type) -> Origin:
    """Where ``item`` can be loaded from in another process."""
    file = getattr(sys.modules.get(item.__module__), "__file__", None)
    return Origin(item.__module__, item.__qualname__,
                  str(Path(file).resolve()) if isinstance(file, str) else None)


def load_class(origin: Origin, kind: str, name: str) -> type[Any]:
    """The ``kind`` (fault or recovery) a run journalled as ``name``, from its recorded
    module: by its qualified name, else from the module's ``pytest_stackdrill_register``."""
    origin = current_origin(origin)
    try:
        module = _module(origin)
        found = _by_qualname(module, origin.qualname) or _from_hook(module, kind, name)
    except OriginError as exc:
        raise OriginError(f"cannot load {kind} {name!r} from {origin.where}: {exc}") from exc
    if found is None:
        raise OriginError(f"cannot load {kind} {name!r} from {origin.where}: no "
                          f"{origin.qualname} there, and no hook there registers {name!r}")
    if getattr(found, "name", None) != name:
        raise OriginError(f"cannot load {kind} {name!r} from {origin.where}: "
                          f"{origin.qualname} is named {getattr(found, 'name', None)!r}")
    return found


def current_origin(origin: Origin) -> Origin:
    """``origin``, or for a built-in journalled under a former module name, its module now
    (imported by name: the recorded file may be gone)."""
    module = current_module(origin.module, origin.qualname)
    return origin if module is None else Origin(module, origin.qualname)


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def _module(origin: Origin) -> ModuleType:
    if origin.file is not None and not _name_finds(origin.module, Path(origin.file)):
        return _load_file(Path(origin.file))
    try:
        return importlib.import_module(origin.module)
    except Exception as exc:  # the module's own code may raise anything
        raise OriginError(f"import {origin.module}: {_one_line(exc)}") from exc


def _name_finds(name: str, file: Path) -> bool:
    """Whether importing ``name`` loads ``file``. A module of stackdrill's own is looked up by
    importlib, its parent packages imported (they may extend their ``__path__``, as
    ``stackdrill.builtin`` does to the checkout's folders); any other only from its top-level
    package, and nothing of it runs."""
    if name == _OWN_PACKAGE or name.startswith(_OWN_PACKAGE + "."):
        return _own_name_finds(name, file)
    top, _, rest = name.partition(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):  # ValueError: a __main__ without a spec
        return False
    if spec is None:
        return False
    if not rest:
        return spec.origin is not None and Path(spec.origin).resolve() == file
    tail = Path(*rest.split("."))
    candidates = [Path(location) / path for location in spec.submodule_search_locations or ()
                  for path in (tail.with_name(tail.name + ".py"), tail / "__init__.py")]
    return any(candidate.resolve() == file for candidate in candidates)


def _own_name_finds(name: str, file: Path) -> bool:
    try:
        spec = importlib.util.find_spec(name)
    except Exception:  # a parent package that fails to import finds nothing
        return False
    return spec is not None and spec.origin is not None and Path(spec.origin).resolve() == file


def _load_file(path: Path) -> ModuleType:
    name = "_stackdrill_journalled_" + hashlib.sha256(str(path).encode()).hexdigest()[:16]
    if name in sys.modules:
        return sys.modules[name]
    source = _trusted_source(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:
        raise OriginError("not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        exec(compile(source, str(path), "exec"), module.__dict__)  # noqa: S102 (checked file)
    except Exception as exc:  # the module's own code may raise anything
        del sys.modules[name]
        raise OriginError(_one_line(exc)) from exc
    return module


def _trusted_source(path: Path) -> bytes:
    """The file's bytes, read from the descriptor whose owner and mode were checked: a regular
    file owned by root or the current user, not writable by others."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise OriginError(str(exc.strerror)) from exc
    try:
        info = os.fstat(fd)
        refusal = _refusal(info)
        if refusal:
            raise OriginError(f"{refusal}, so it is not run")
        with os.fdopen(os.dup(fd), "rb") as stream:
            return stream.read()
    finally:
        os.close(fd)


def _refusal(info: os.stat_result) -> str | None:
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_uid not in (0, os.getuid()):
        return f"owned by uid {info.st_uid}, neither root nor this user (uid {os.getuid()})"
    if info.st_mode & stat.S_IWOTH:
        return "writable by others"
    return None


def _by_qualname(module: ModuleType, qualname: str) -> type[Any] | None:
    found: object = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found if isinstance(found, type) else None


def _from_hook(module: ModuleType, kind: str, name: str) -> type[Any] | None:
    hook = getattr(module, "pytest_stackdrill_register", None)
    if not callable(hook):
        return None
    scratch = Registries()
    try:
        hook(registries=scratch)
    except Exception as exc:  # the module's own code may raise anything
        raise OriginError(f"its pytest_stackdrill_register failed: {_one_line(exc)}") from exc
    registry = scratch.recoveries if kind == "recovery" else scratch.faults
    return registry.get(name) if name in registry else None
