"""What the plugin reads of a collected scenario: its template, its steps as they will run,
the step definitions that match them, its raised role limits, and whether it may change the
cloud."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from stackdrill.engine.guards import (
    LIMIT_MARK,
    LIMIT_TAG_PREFIX,
    marked_as_changing,
)
from stackdrill.engine.preflight import NAMED


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_apply_tag(tag: str, function: Callable[..., object]) -> object:
    """``@allow_down_<role>_<n>`` becomes ``allow_down(tag)``: one registered marker, checked
    at collection, rather than a marker per role and count."""
    if not tag.startswith(LIMIT_TAG_PREFIX):
        return None
    getattr(pytest.mark, LIMIT_MARK)(tag)(function)
    return True


def limit_tags(item: pytest.Item) -> list[str]:
    return [str(mark.args[0]) for mark in item.iter_markers(LIMIT_MARK) if mark.args]


def scenario_template(item: pytest.Item) -> Any:
    from pytest_bdd.scenario import scenario_wrapper_template_registry

    function = getattr(item, "obj", None)
    return scenario_wrapper_template_registry.get(function) if callable(function) else None


def scenario_steps(item: pytest.Item) -> tuple[str, list[Any]] | None:
    template = scenario_template(item)
    if template is None:
        return None
    return template.feature.rel_filename, template.steps


def rendered_steps(item: pytest.Item) -> list[Any] | None:
    """The scenario's steps with its example's values, as they will run; None for a test that
    is not a scenario."""
    template = scenario_template(item)
    if template is None:
        return None
    callspec = getattr(item, "callspec", None)
    example = callspec.params.get("_pytest_bdd_example", {}) if callspec is not None else {}
    return list(template.render(example or {}).steps)


def step_definitions(step: Any, item: pytest.Item) -> list[Callable[..., object]]:
    """The step functions whose parsers match ``step``, as seen from ``item``."""
    from pytest_bdd.scenario import find_fixturedefs_for_step
    from pytest_bdd.steps import step_function_context_registry

    manager = getattr(item.session, "_fixturemanager", None)
    if manager is None:
        return []
    found = []
    for fixturedef in find_fixturedefs_for_step(step, manager, item):
        context = step_function_context_registry.get(fixturedef.func)
        if context is not None:
            found.append(context.step_func)
    return found


def scenario_changes_the_cloud(item: pytest.Item) -> bool:
    """Whether running ``item`` may change the cloud, so that a production inventory refuses
    it without ``--confirm``: a ``@drill``, or a scenario with a step that names a fault, a
    recovery or a procedure, or whose definition is marked with
    :func:`stackdrill.engine.guards.changes_the_cloud`."""
    if item.get_closest_marker("drill"):
        return True
    steps = rendered_steps(item)
    if steps is None:
        return False
    return any(NAMED.search(step.name) is not None
               or any(marked_as_changing(f) for f in step_definitions(step, item))
               for step in steps)


def undefined_steps(item: pytest.Item, location: str) -> list[str]:
    """Steps no step definition matches, found now rather than in the middle of a drill."""
    from pytest_bdd.scenario import find_fixturedefs_for_step

    template = scenario_template(item)
    manager = getattr(item.session, "_fixturemanager", None)
    steps = rendered_steps(item)
    if template is None or manager is None or steps is None:
        return []
    if not steps:
        return [f"{location}:{template.line_number}: scenario {template.name!r} has no steps"]
    return [f"{location}:{step.line_number}: no step definition matches "
            f"'{step.keyword.strip()} {step.name}'"
            for step in steps
            if not any(True for _ in find_fixturedefs_for_step(step, manager, item))]
