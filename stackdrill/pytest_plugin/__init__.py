"""The stackdrill pytest plugin: options, pre-flight checks, fixtures, and crash-safe undo.

pytest loads this package through the ``stackdrill`` entry point; the modules it lists in
``pytest_plugins`` hold the hooks and fixtures, one concern each: :mod:`.options`,
:mod:`.session` (the session's state, setup and teardown), :mod:`.scenarios` (what a collected
scenario says), :mod:`.collection` (the checks before anything runs), :mod:`.dry_run`,
:mod:`.drills` (a drill's fixtures), :mod:`.reports` (what the session leaves behind),
:mod:`.cloud_fixtures` and :mod:`.tenant_fixtures` (a drill's tenant observers),
:mod:`.alert_fixtures` (its watch on the cloud's alerts),
:mod:`.vocabulary` (the markers the drills' tags become), :mod:`.feature_files` (feature files
no test module binds); the reporting and engine modules after them add their own options and
hooks. The names below are the ones the command line and other callers use. The package is a
front door: it may import every layer, the lab included.

The built-in step modules (``stackdrill.builtin.steps.*``, :func:`.vocabulary.step_modules`) are
listed last: pytest loads this package through its ``pytest11`` entry point in every run of an
environment where stackdrill is installed, and registers the step modules with it. A directory
of drills then needs only its feature files, and a ``conftest.py`` for its own registrations if
any; no ``pytest_plugins`` line. Loading them always is what the plugin does with everything
else: its fixtures and its hooks are registered in every run, and it acts only on what a run
collects (a scenario that is a drill or changes the cloud needs an inventory; anything else is
left alone). A step definition is an inert fixture until a scenario's step text matches it, and
a ``conftest.py`` or test module that defines the same text wins. ``-p no:stackdrill`` leaves
the whole plugin out, ``-p no:stackdrill.builtin.steps.<module>`` one step module. Feature
files, which plain pytest would not collect, are collected directly only in runs that use
stackdrill (:mod:`.feature_files`).
"""

from __future__ import annotations

from stackdrill.engine.state_dir import default_state_dir
from stackdrill.pytest_plugin.collection import collect_problem
from stackdrill.pytest_plugin.drills import never_confirmed, terminal_line
from stackdrill.pytest_plugin.options import planning
from stackdrill.pytest_plugin.reports import aborted_drills
from stackdrill.pytest_plugin.scenarios import limit_tags, scenario_changes_the_cloud
from stackdrill.pytest_plugin.session import (
    ABORTED,
    INVENTORY,
    LIVE_DRILLS,
    LOCK,
    REGISTRIES,
    registries,
    resolve_inventory,
    version_settings,
)
from stackdrill.pytest_plugin.vocabulary import step_modules

# hooks of the same priority run in the reverse order of registration: the plugin's own
# modules come first, so that the reporting and engine hooks run before theirs (the plugin's
# teardown last), and its options open the option group the others add to; the built-in step
# modules come last (their fixtures after the plugin's, as when a conftest.py loaded them)
pytest_plugins = ["stackdrill.pytest_plugin.options", "stackdrill.pytest_plugin.session",
                  "stackdrill.pytest_plugin.scenarios", "stackdrill.pytest_plugin.collection",
                  "stackdrill.pytest_plugin.dry_run", "stackdrill.pytest_plugin.drills",
                  "stackdrill.pytest_plugin.reports",
                  "stackdrill.pytest_plugin.cloud_fixtures",
                  "stackdrill.pytest_plugin.tenant_fixtures",
                  "stackdrill.pytest_plugin.alert_fixtures",
                  "stackdrill.pytest_plugin.vocabulary", "stackdrill.pytest_plugin.feature_files",
                  "stackdrill.reporting.outcome",
                  "stackdrill.reporting.redacted", "stackdrill.reporting.runs",
                  "stackdrill.engine.schedule", "stackdrill.reporting.notify",
                  "stackdrill.engine.upgrade", *step_modules()]

__all__ = [
    "ABORTED",
    "INVENTORY",
    "LIVE_DRILLS",
    "LOCK",
    "REGISTRIES",
    "aborted_drills",
    "collect_problem",
    "default_state_dir",
    "limit_tags",
    "never_confirmed",
    "planning",
    "registries",
    "resolve_inventory",
    "scenario_changes_the_cloud",
    "terminal_line",
    "version_settings",
]
