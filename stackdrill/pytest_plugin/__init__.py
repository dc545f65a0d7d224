"""The stackdrill pytest plugin: options, pre-flight checks, fixtures, and crash-safe undo.

pytest loads this package through the ``stackdrill`` entry point; the modules it lists in
``pytest_plugins`` hold the hooks and fixtures, one concern each: :mod:`.options`,
:mod:`.session` (the session's state, setup and teardown), :mod:`.scenarios` (what a collected
scenario says), :mod:`.collection` (the checks before anything runs), :mod:`.dry_run`,
:mod:`.drills` (a drill's fixtures), :mod:`.reports` (what the session leaves behind),
:mod:`.cloud_fixtures` and :mod:`.tenant_fixtures` (a drill's tenant observers); the reporting
and engine modules after them add their own options and hooks. The names below are the ones
the command line and other callers use. The package is a front door: it may import every
layer, the lab included.
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

# hooks of the same priority run in the reverse order of registration: the plugin's own
# modules come first, so that the reporting and engine hooks run before theirs (the plugin's
# teardown last), and its options open the option group the others add to
pytest_plugins = ["stackdrill.pytest_plugin.options", "stackdrill.pytest_plugin.session",
                  "stackdrill.pytest_plugin.scenarios", "stackdrill.pytest_plugin.collection",
                  "stackdrill.pytest_plugin.dry_run", "stackdrill.pytest_plugin.drills",
                  "stackdrill.pytest_plugin.reports",
                  "stackdrill.pytest_plugin.cloud_fixtures",
                  "stackdrill.pytest_plugin.tenant_fixtures", "stackdrill.reporting.outcome",
                  "stackdrill.reporting.redacted", "stackdrill.reporting.runs",
                  "stackdrill.engine.schedule", "stackdrill.reporting.notify",
                  "stackdrill.engine.upgrade"]

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
