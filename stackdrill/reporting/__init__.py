"""Drill history and reports: one JSON line per drill run, and a self-contained HTML report of
the runs (timelines, time to recover against the budget, trends and regressions)."""

from __future__ import annotations

from stackdrill.core.errors import HarnessError


class ReportError(HarnessError):
    """No report can be made (no history, nothing in it, no such run); one line. The root of
    the reporting errors."""
