"""The dry run (``--stackdrill-plan``): each scenario's plan printed when collection ends,
and nothing run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from stackdrill.engine.guards import limits_from_tags
from stackdrill.pytest_plugin.options import planning
from stackdrill.pytest_plugin.scenarios import (
    limit_tags,
    scenario_changes_the_cloud,
    scenario_template,
)
from stackdrill.pytest_plugin.session import registries, resolve_inventory


def _planned(item: pytest.Item, rootpath: Path) -> Any:
    from stackdrill.engine.plan import PlannedScenario

    template = scenario_template(item)
    if template is None:
        return None
    callspec = getattr(item, "callspec", None)
    example = callspec.params.get("_pytest_bdd_example", {}) if callspec is not None else {}
    scenario = template.render(example or {})
    filename = Path(template.feature.filename)
    try:
        location = str(filename.relative_to(rootpath))
    except ValueError:
        location = str(filename)
    return PlannedScenario(location=f"{location}:{template.line_number}", name=scenario.name,
                           steps=scenario.steps, limits=limits_from_tags(limit_tags(item)),
                           changes_the_cloud=scenario_changes_the_cloud(item),
                           nodeid=item.nodeid)


def print_plan(session: pytest.Session, items: list[pytest.Item] | None = None,
               skipped: list[str] | None = None) -> None:
    """The plan of ``items`` (every collected scenario by default); ``skipped`` are the reasons
    of the scenarios left out, which its header counts."""
    from stackdrill.engine.plan import render_plan

    config = session.config
    chosen = session.items if items is None else items
    scenarios = [p for p in (_planned(item, config.rootpath) for item in chosen) if p]
    if not scenarios and not skipped:
        return
    text = render_plan(scenarios, resolve_inventory(config), registries(config),
                       config.getoption("confirm"), config.getoption("seed", None),
                       skipped=skipped or ())
    sys.stdout.write(text)
    sys.stdout.flush()


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    """In a dry run nothing runs: the plan was printed when collection finished."""
    if not planning(session.config):
        return None
    if session.testsfailed:
        raise session.Interrupted(f"{session.testsfailed} errors during collection")
    return True
