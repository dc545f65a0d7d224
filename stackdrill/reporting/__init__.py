"""Drill history and reports: one JSON line per drill run, and a self-contained HTML report of
the runs (timelines, time to recover against the budget and what the tenants felt, trends and
regressions), each run's directory under ``reports/``, and notifications; and the catalogue of
the faults, recoveries, probes and steps (docs/reference.md). May import every layer below it
(``core`` to ``engine``); never ``lab`` or the front doors, which hand it what it reports."""

from __future__ import annotations

from stackdrill.core.errors import HarnessError


class ReportError(HarnessError):
    """No report can be made (no history, nothing in it, no such run); one line. The root of
    the reporting errors."""
