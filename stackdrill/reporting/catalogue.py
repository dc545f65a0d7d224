"""The catalogue of what a drill is written with: every registered fault, recovery and probe (its
description, docstring, parameters, what a fault's confirm proves and what its undo does, the
roles a class declares, where a probe's values go) and the Gherkin steps the built-in step
modules define. ``stackdrill list`` prints one line per item, ``stackdrill describe`` one item
in full, and :func:`markdown` the whole catalogue as one page (docs/reference.md).

The items come from the registries they were registered into and from the classes themselves;
the steps from pytest-bdd's own record of each step definition. Nothing here depends on when or
where it runs, so the same code always gives the same page.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stackdrill.core.errors import BadInput
from stackdrill.core.params import (
    REQUIRED,
    boolean,
    positive_float,
    positive_int,
    signal_name,
    word_list,
)

if TYPE_CHECKING:
    from pytest_bdd.steps import StepFunctionContext

    from stackdrill.api._registry import Registries, Registry

KINDS = ("faults", "recoveries", "probes", "steps")
"""What ``stackdrill list`` lists: the three registries, and the built-in steps."""
STEP_PACKAGE = "stackdrill.builtin.steps"
GENERATED = "stackdrill list --markdown > docs/reference.md"
WIDTH = 100

_TYPES: Mapping[Callable[[str], Any], str] = {
    str: "text", int: "whole number", float: "number", boolean: "yes or no",
    positive_int: "positive whole number", positive_float: "positive number",
    word_list: "comma-separated list", signal_name: "signal name",
}
_STEP_PARSERS = {"string": "text", "re": "regex", "parse": "parse", "cfparse": "cfparse"}
_ROLE_REFERENCE = re.compile(r":[a-z]+:`~?([^`]+)`")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)


class UnknownEntry(BadInput):
    """No fault, recovery or probe is registered under the name; one line."""


@dataclass(frozen=True)
class ParamEntry:
    """One parameter a fault or recovery takes: its type (from its parser), its default (None:
    required) and what it means (the ``Param``'s help)."""

    name: str
    type: str
    default: str | None
    meaning: str


@dataclass(frozen=True)
class Entry:
    """One registered fault, recovery or probe, as the catalogue shows it."""

    kind: str  # fault, recovery or probe
    name: str
    description: str
    where: str  # the class, module and qualified name
    doc: str  # the first paragraph of the class's docstring, else of its module's
    params: tuple[ParamEntry, ...] = ()
    confirm: str | None = None
    undo: str | None = None
    roles: tuple[str, ...] = ()
    values_under: str | None = None  # a probe's: the prefix of its values' paths
    failure_at: str | None = None  # a probe's: the path its failure is recorded under
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepEntry:
    """One Gherkin step definition: Given, When or Then (Step: any), how its text is matched
    (text, regex, parse, cfparse), the text or pattern, its module and its docstring."""

    kind: str
    parser: str
    text: str
    module: str
    doc: str


# -- reading the classes ---------------------------------------------------------------------

def _paragraph(text: str | None) -> str:
    """The first paragraph of a docstring on one line, with Sphinx roles as plain code."""
    if not text:
        return ""
    first = inspect.cleandoc(text).split("\n\n", 1)[0]
    return _ROLE_REFERENCE.sub(r"``\1``", " ".join(first.split()))


def _doc(item: type) -> str:
    own = vars(item).get("__doc__")
    if own:
        return _paragraph(own)
    return _paragraph(getattr(sys.modules.get(item.__module__), "__doc__", None))


def _method_doc(item: type, method: str, contract: type) -> str | None:
    """The docstring of the ``method`` ``item`` runs, unless only the contract's says it."""
    for klass in item.__mro__:
        if method in vars(klass):
            if klass is contract:
                return None
            return _paragraph(getattr(vars(klass)[method], "__doc__", None)) or None
    return None


def type_name(parse: Callable[[str], Any]) -> str:
    """What a parameter's parser takes, in words: ``yes or no``, or the parser's name."""
    known = next((text for parser, text in _TYPES.items() if parser is parse), None)
    if known is not None:
        return known
    name = getattr(parse, "__name__", "")
    return "value" if not name or name.startswith("<") else name.strip("_").replace("_", " ")


def default_text(value: Any) -> str | None:
    """A default as a feature writes it; None for a required parameter."""
    if value is REQUIRED:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or "(empty)"
    return str(value) if value != "" else "(empty)"


def _params(item: type) -> tuple[ParamEntry, ...]:
    params: Mapping[str, Any] = getattr(item, "params", None) or {}
    return tuple(ParamEntry(name, type_name(getattr(param, "parse", str)),
                            default_text(getattr(param, "default", REQUIRED)),
                            " ".join(str(getattr(param, "help", "")).split()))
                 for name, param in params.items())


def _roles(item: type) -> tuple[str, ...]:
    roles = getattr(item, "roles", ())
    if isinstance(roles, list | tuple) and all(isinstance(role, str) for role in roles):
        return tuple(roles)
    return ()


def _probe_paths(item: type) -> tuple[str | None, str | None]:
    """Where a probe's values go, and its failure: a host probe's under ``host:<host>/``, a
    cloud probe's under ``cloud/`` (:mod:`stackdrill.api._probe`)."""
    from stackdrill.api._probe import CloudProbe, Probe

    prefix = ("cloud/" if issubclass(item, CloudProbe)
              else "host:<host>/" if issubclass(item, Probe) else None)
    if prefix is None:
        return None, None
    return prefix, f"{prefix}probe:{getattr(item, 'name', '')}"


def entry(kind: str, item: type) -> Entry:
    """What the catalogue says of ``item``, a ``kind`` (fault, recovery or probe)."""
    from stackdrill.api._fault import Fault

    fault = kind == "fault"
    values_under, failure_at = _probe_paths(item) if kind == "probe" else (None, None)
    rules = tuple(str(rule) for rule in getattr(item, "rules", ())) if kind == "probe" else ()
    return Entry(kind=kind, name=str(getattr(item, "name", "")),
                 description=" ".join(str(getattr(item, "description", "")).split()),
                 where=f"{item.__module__}.{item.__qualname__}", doc=_doc(item),
                 params=_params(item),
                 confirm=_method_doc(item, "confirm", Fault) if fault else None,
                 undo=_method_doc(item, "undo", Fault) if fault else None,
                 roles=_roles(item), values_under=values_under, failure_at=failure_at,
                 rules=rules)


def _registry(registries: Registries, kind: str) -> Registry[Any]:
    found: Mapping[str, Registry[Any]] = {"faults": registries.faults,
                                          "recoveries": registries.recoveries,
                                          "probes": registries.probes}
    if kind not in found:
        raise UnknownEntry(f"no registry of {kind!r} (faults, recoveries or probes)")
    return found[kind]


def entries(registries: Registries, kind: str) -> list[Entry]:
    """Every item of one registry (``faults``, ``recoveries``, ``probes``), by name."""
    registry = _registry(registries, kind)
    return [entry(registry.kind, registry.get(name)) for name in registry]


def find(registries: Registries, name: str) -> list[Entry]:
    """Every fault, recovery and probe registered as ``name``; :class:`UnknownEntry` if none."""
    searched = [_registry(registries, kind) for kind in KINDS[:3]]
    found = [entry(registry.kind, registry.get(name)) for registry in searched
             if name in registry]
    if found:
        return found
    known = [each for registry in searched for each in registry]
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UnknownEntry(f"no fault, recovery or probe is named {name!r}{hint}")


# -- the steps -------------------------------------------------------------------------------

def builtin_steps() -> list[StepEntry]:
    """The steps of every built-in step module (``stackdrill.builtin.steps.*``)."""
    package = importlib.import_module(STEP_PACKAGE)
    modules = sorted(f"{STEP_PACKAGE}.{found.name}"
                     for found in pkgutil.iter_modules(package.__path__))
    for module in modules:
        importlib.import_module(module)
    return steps_of(modules)


def steps_of(modules: Sequence[str]) -> list[StepEntry]:
    """The steps the (imported) ``modules`` define, module by module in the order given, each
    in the order of its source (stacked decorators top first).

    pytest-bdd's ``given``/``when``/``then`` return the function unchanged: what they record
    (the step's type and parser) is a ``StepFunctionContext``, kept in
    ``pytest_bdd.steps.step_function_context_registry`` under the fixture each adds to the
    module, where pytest-bdd's own scenarios look it up."""
    from pytest_bdd.steps import step_function_context_registry

    found: dict[tuple[Any, ...], tuple[int, int, int, StepFunctionContext]] = {}
    for index, context in enumerate(list(step_function_context_registry.values())):
        function = inspect.unwrap(context.step_func)
        module = getattr(context.step_func, "__module__", None)
        if module in modules:
            line = getattr(getattr(function, "__code__", None), "co_firstlineno", 0)
            # a module run again (imported afresh) registers its steps again: once is enough
            same = (module, line, context.type, type(context.parser), context.parser.name)
            found[same] = (modules.index(module), line, -index, context)
    ordered = sorted(found.values(), key=lambda item: item[:3])
    return [_step(context) for *_, context in ordered]


def _step(context: StepFunctionContext) -> StepEntry:
    parser = type(context.parser).__name__
    return StepEntry(kind=(context.type or "step").capitalize(),
                     parser=_STEP_PARSERS.get(parser, parser), text=context.parser.name,
                     module=str(context.step_func.__module__),
                     doc=_paragraph(context.step_func.__doc__))


# -- the command line's text -----------------------------------------------------------------

def list_lines(items: Iterable[Entry]) -> list[str]:
    """One line per item: its name, then its description."""
    listed = list(items)
    width = max((len(item.name) for item in listed), default=0)
    return [f"{item.name:<{width}}  {item.description}".rstrip() for item in listed]


def step_lines(steps: Iterable[StepEntry]) -> list[str]:
    """One line per step: Given/When/Then, how it is matched, its text or pattern."""
    return [f"{step.kind:<5} {step.parser:<5} {step.text}" for step in steps]


def _wrapped(text: str, indent: str = "", first: str = "") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=first or indent, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False) or [first.rstrip()]


def _plain(text: str) -> str:
    return text


def facts(item: Entry, literal: Callable[[str], str] = _plain) -> list[tuple[str, str]]:
    """The labelled facts after the parameters: what a fault's confirm proves and its undo
    does, the roles, a probe's paths and default tolerance rules, the class. ``literal``
    renders a name or a path (as a code span, for Markdown)."""
    pairs = [("confirm", item.confirm or "(not documented)") if item.kind == "fault" else None,
             ("undo", item.undo or "(not documented)") if item.kind == "fault" else None,
             ("roles", ", ".join(map(literal, item.roles))) if item.roles else None,
             ("paths", f"values under {literal(item.values_under)}, a failure under "
                       f"{literal(item.failure_at or '')}") if item.values_under else None,
             ("default rules", "; ".join(map(literal, item.rules))) if item.rules else None,
             ("class", literal(item.where))]
    return [pair for pair in pairs if pair is not None]


def param_summary(param: ParamEntry) -> str:
    default = "required" if param.default is None else f"default {param.default}"
    return f"{param.type}, {default}"


def describe_lines(item: Entry) -> list[str]:
    """``item`` in full, for the terminal."""
    lines = _wrapped(item.description, "  ", f"{item.kind} {item.name}: ")
    if item.doc:
        lines += ["", *_wrapped(item.doc)]
    lines += ["", "parameters:" if item.params else "parameters: none"]
    for param in item.params:
        lines += [f"  {param.name}: {param_summary(param)}",
                  *_wrapped(param.meaning, "      ")]
    for label, text in facts(item):
        lines += _wrapped(text, "  ", f"{label}: ")
    return lines


def describe(registries: Registries, name: str) -> list[str]:
    """Every fault, recovery and probe named ``name`` in full, a blank line between them."""
    lines: list[str] = []
    for item in find(registries, name):
        if lines:
            lines.append("")
        lines += describe_lines(item)
    return lines


# -- the Markdown page -----------------------------------------------------------------------

def _escape(text: str) -> str:
    """Text outside code spans, with what Markdown would read as markup escaped."""
    text = text.replace("\\", "\\\\")
    text = re.sub(r"([*<>\[\]])", r"\\\1", text)
    return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)


def _inline(text: str) -> str:
    """Prose as Markdown: its code spans kept, the rest escaped."""
    parts, at = [], 0
    for span in _CODE_SPAN.finditer(text):
        parts += [_escape(text[at:span.start()]), span.group(0)]
        at = span.end()
    return "".join([*parts, _escape(text[at:])])


def code(text: str) -> str:
    """``text`` as one code span, fenced by more backticks than it holds."""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _row(*cells: str) -> str:
    """A table row; a pipe in a cell, in a code span too, is escaped as tables need."""
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _entry_markdown(item: Entry) -> list[str]:
    lines = [f"### `{item.name}`", "", _inline(item.description)]
    if item.doc:
        lines += ["", _inline(item.doc)]
    if item.params:
        lines += ["", "| parameter | type | default | meaning |", "|---|---|---|---|"]
        lines += [_row(code(p.name), p.type, "required" if p.default is None
                       else code(p.default), _inline(p.meaning)) for p in item.params]
    lines.append("")
    lines += [f"- **{label}:** {_inline(text)}" for label, text in facts(item, code)]
    return [*lines, ""]


def _section(title: str, items: Sequence[Entry]) -> list[str]:
    lines = [f"## {title}", "", "| name | what it does |", "|---|---|"]
    lines += [_row(f"[{code(item.name)}](#{item.name})", _inline(item.description))
              for item in items]
    lines.append("")
    for item in items:
        lines += _entry_markdown(item)
    return lines


def _steps_markdown(steps: Sequence[StepEntry]) -> list[str]:
    lines = ["## Steps", "", "The built-in step modules' Given, When and Then steps: the text a "
             "feature writes, or the regular expression its line must match in full.", ""]
    for module in dict.fromkeys(step.module for step in steps):
        lines += [f"### {code(module.rpartition('.')[2])}", "",
                  "| kind | text or pattern | matched as | what it does |", "|---|---|---|---|"]
        lines += [_row(step.kind, code(step.text), step.parser, _inline(step.doc))
                  for step in steps if step.module == module]
        lines.append("")
    return lines


def markdown(registries: Registries, steps: Sequence[StepEntry]) -> str:
    """The catalogue as one Markdown page; its first line says how it is generated."""
    sections = [("Faults", entries(registries, "faults")),
                ("Recoveries", entries(registries, "recoveries")),
                ("Probes", entries(registries, "probes"))]
    contents = ", ".join(f"[{title}](#{title.lower()}) ({len(items)})"
                         for title, items in sections)
    lines = [f"Generated by `{GENERATED}` from the registered faults, recoveries and probes and "
             "the built-in steps; a unit test fails when this page is out of date.", "",
             "# Faults, recoveries, probes and steps", "",
             f"Contents: {contents}, [Steps](#steps) ({len(steps)}). `stackdrill list KIND` "
             "prints the same one line per item, and `stackdrill describe NAME` one item in "
             "full.", ""]
    for title, items in sections:
        lines += _section(title, items)
    lines += _steps_markdown(steps)
    return "\n".join(lines).rstrip("\n") + "\n"
