"""The tree shows the architecture: layers that import only downwards, no import cycle, the lab
reached only from the front doors, built-ins that borrow only from the library, one exception
root, small modules and functions, and a docstring on every package saying what lives there."""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILTIN_FOLDERS = ("faults", "recovery", "probes", "steps")
LAYERS = ("core", "inventory", "hosts", "hostkit", "cloud", "api", "engine", "reporting", "lab",
          "cli", "pytest_plugin")
"""Bottom to top: a package imports only its own layer and those before it, except the lab,
which only ``cli`` and ``pytest_plugin`` import."""
FRONT_DOORS = ("cli", "pytest_plugin")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60


def product_files() -> Iterator[Path]:
    for top in ("stackdrill", *BUILTIN_FOLDERS):
        for path in sorted((ROOT / top).rglob("*.py")):
            if "inhost" not in path.parts:
                yield path


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] in BUILTIN_FOLDERS:
        parts.insert(0, "stackdrill.builtin")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def runtime_imports(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for every import that runs, at module level or in a function; the
    names a ``from X import a`` brings are counted as ``X.a`` when ``X.a`` is a module."""
    tree = ast.parse(path.read_text())
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skip: set[int] = set()
    for node in ast.walk(tree):
        if _type_checking_only(node):
            skip.update(id(child) for child in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            for alias in node.names:
                yield node.lineno, _submodule_or_base(base, alias.name)


def _submodule_or_base(base: str, name: str) -> str:
    candidate = f"{base}.{name}"
    return candidate if _is_product_module(candidate) else base


def _is_product_module(name: str) -> bool:
    return name in ALL_MODULES


ALL_MODULES = {module_name(path) for path in product_files()}


def layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "stackdrill" or len(parts) < 2:
        return None
    return parts[1]


def imports_of_product() -> dict[str, list[tuple[int, str]]]:
    graph: dict[str, list[tuple[int, str]]] = {}
    for path in product_files():
        found = [(line, name) for line, name in runtime_imports(path)
                 if name.startswith(("stackdrill", *BUILTIN_FOLDERS))]
        graph[module_name(path)] = found
    return graph


def test_every_package_imports_only_downwards() -> None:
    wrong = []
    for module, imports in imports_of_product().items():
        mine = layer(module)
        if mine not in LAYERS:
            continue
        for line, name in imports:
            theirs = layer(name)
            if theirs not in LAYERS or theirs == mine:
                continue
            if theirs == "lab":
                allowed = mine in FRONT_DOORS
            else:
                allowed = LAYERS.index(theirs) <= LAYERS.index(mine) or (
                    mine in FRONT_DOORS and theirs in FRONT_DOORS)
            if not allowed:
                wrong.append(f"{module}:{line} ({mine}) imports {name} ({theirs})")
    assert wrong == []


def test_builtins_borrow_only_from_the_library() -> None:
    """A built-in imports stackdrill's packages and its own folder (relatively), never another
    built-in folder and never its own folder by a top-level name."""
    wrong = []
    for module, imports in imports_of_product().items():
        if not module.startswith("stackdrill.builtin."):
            continue
        own = module.split(".")[2]
        for line, name in imports:
            top = name.split(".")[0]
            if top in BUILTIN_FOLDERS:
                wrong.append(f"{module}:{line} imports {name} by a top-level name")
            elif name.startswith("stackdrill.builtin.") and name.split(".")[2] != own:
                wrong.append(f"{module}:{line} borrows from {name}")
    assert wrong == []


def test_no_import_cycle() -> None:
    graph = {module: {name for _, name in imports if name in ALL_MODULES and name != module}
             for module, imports in imports_of_product().items()}
    cycles = [cycle for cycle in _cycles(graph)]
    assert cycles == []


def _cycles(graph: dict[str, set[str]]) -> Iterator[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    yield from components


def test_modules_and_functions_stay_small() -> None:
    long_modules = [f"{module_name(p)}: {n} lines" for p in product_files()
                    if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES]
    long_functions = []
    for path in product_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_FUNCTION_LINES:
                    long_functions.append(f"{module_name(path)}.{node.name}: {size} lines")
    assert long_modules + long_functions == []


def test_every_package_says_what_lives_there() -> None:
    missing = [str(init.relative_to(ROOT)) for init in sorted((ROOT / "stackdrill").rglob(
        "__init__.py")) if "inhost" not in init.parts and not ast.get_docstring(
            ast.parse(init.read_text()))]
    assert missing == []


def _product_modules() -> Iterator[object]:
    for path in product_files():
        if path.name != "__main__.py":
            yield importlib.import_module(module_name(path))


def test_every_exception_derives_from_the_one_root() -> None:
    """Every error class is a StackdrillError. An interruption is not an error: the drill
    window's end is a KeyboardInterrupt, so that it passes every ``except Exception`` as Ctrl-C
    does and the run's teardown undoes every fault."""
    from stackdrill.core.errors import StackdrillError

    outside = []
    for module in _product_modules():
        for name, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, Exception)
                    and value.__module__ == getattr(module, "__name__", None)
                    and not issubclass(value, StackdrillError)):
                outside.append(f"{value.__module__}.{name}")
    assert outside == []


@pytest.mark.parametrize("folder", BUILTIN_FOLDERS)
def test_builtins_load_under_the_stackdrill_namespace(folder: str) -> None:
    module = importlib.import_module(f"stackdrill.builtin.{folder}")
    assert Path(module.__file__ or "").parent == ROOT / folder


BUILTIN_RAISES_ALLOWED = frozenset({"NotImplementedError", "KeyboardInterrupt", "SystemExit"})
"""Built-in exceptions product code may raise itself: an abstract method's ``NotImplementedError``,
and the interruptions, which are no errors."""
BUILTIN_RAISES_EXEMPT = frozenset({
    # The lab's FUSE filesystem answers the kernel with an errno, which FUSE reads from an
    # OSError; no stackdrill error would reach the kernel.
    ("stackdrill.lab.cloud.swift_eiofs", "OSError"),
})


def test_product_code_raises_stackdrill_errors() -> None:
    """A ``raise`` names a stackdrill error, never a built-in exception class (a re-raise of a
    caught exception, ``raise`` or ``raise exc``, names no class and passes)."""
    import builtins

    names = {name for name, value in vars(builtins).items()
             if inspect.isclass(value) and issubclass(value, BaseException)}
    wrong = []
    for path in product_files():
        module = module_name(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if (isinstance(raised, ast.Name) and raised.id in names
                    and raised.id not in BUILTIN_RAISES_ALLOWED
                    and (module, raised.id) not in BUILTIN_RAISES_EXEMPT):
                wrong.append(f"{module}:{node.lineno} raises {raised.id}")
    assert wrong == []
