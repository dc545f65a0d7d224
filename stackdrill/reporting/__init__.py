"""Drill history and reports: one JSON line per drill run, and a self-contained HTML report of
the runs (timelines, time to recover against the budget, trends and regressions)."""
