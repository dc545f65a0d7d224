"""What the tenants felt, in the reports: the history keeps the figures and intervals, the HTML
report shows them beside the time to recover ("—" where nothing measured them, never 0) and
draws a lane per API and canary, and a figure that regressed is called like a slower time to
recover."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stackdrill.reporting.charts import timeline
from stackdrill.reporting.drill_runs import group
from stackdrill.reporting.history import Run
from stackdrill.reporting.report import summary
from stackdrill.reporting.tenant_figures import HEADLINES, cell, felt_line
from tests.unit.test_reporting import record, render


def felt(scenario: str, day: int, compute: float, reboots: int = 0) -> dict[str, Any]:
    return {**record(scenario, day, 20.0), "tenant": {
        "figures": {"api:compute/unavailable_s": compute, "api:identity/unavailable_s": 1.0,
                    "canary:compute1/reboots": reboots, "canary:compute1/stall_s": 0.4,
                    "canary:compute1/silent_s": 0.2, "canary:compute1/lost_writes": 0},
        "outages": [{"lane": "api:compute", "kind": "unavailable", "offset": 3.0,
                     "duration": compute, "detail": "4 failed samples: 4 x HTTP 503"},
                    {"lane": "canary:compute1", "kind": "reboot", "offset": 9.0,
                     "duration": 0.0, "detail": "boot 3"}]}}


def test_the_history_keeps_what_the_tenants_felt() -> None:
    run = Run.from_record(felt("RabbitMQ stops", 1, 4.2, reboots=1))
    assert run.tenant_figures is not None
    assert run.tenant_figures["api:compute/unavailable_s"] == 4.2
    assert [(f.lane, f.kind, f.offset, f.duration) for f in run.felt] == [
        ("api:compute", "unavailable", 3.0, 4.2), ("canary:compute1", "reboot", 9.0, 0.0)]
    assert [cell(run, h) for h in HEADLINES] == ["4.2 s (compute)", "0.4 s (compute1)", "—",
                                                 "1 (compute1)", "0"]
    older = Run.from_record(record("RabbitMQ stops", 1, 20.0))
    assert older.tenant_figures is None and felt_line(older) == "—"
    assert [cell(older, h) for h in HEADLINES] == ["—"] * len(HEADLINES)


def test_the_report_shows_the_figures_beside_the_time_to_recover(tmp_path: Path) -> None:
    html, _ = render(tmp_path, [record("the database stops", 1, 3.0),
                                felt("RabbitMQ stops", 1, 4.2)])
    assert ("<td class=\"felt\">API unavailable 4.2 s (compute) · heartbeat stall 0.4 s "
            "(compute1) · reboots 0 · lost writes 0</td>") in html
    assert '<td class="felt">—</td>' in html  # the drill no observer watched
    assert "Not measured: no tenant observer ran in this drill." in html
    assert "<td>compute</td>" in html and "<td>compute1</td>" in html
    assert "4 failed samples: 4 x HTTP 503" in html


def test_the_timeline_has_a_lane_per_api_and_canary() -> None:
    run = Run.from_record(felt("RabbitMQ stops", 1, 4.2))
    svg = timeline(run)
    assert ">api:compute · 1 felt</text>" in svg
    assert ">api:identity</text>" in svg  # watched, nothing felt
    assert ">canary:compute1 · 1 felt</text>" in svg
    assert "api:compute unavailable for 4.2 s: 4 failed samples: 4 x HTTP 503" in svg
    assert "canary:compute1 reboot for 0.0 s: boot 3" in svg
    assert ">api:" not in timeline(Run.from_record(record("RabbitMQ stops", 1, 20.0)))


def test_a_tenant_figure_that_regressed_is_called(tmp_path: Path) -> None:
    runs = [felt("RabbitMQ stops", day, value) for day, value in
            [(1, 60.0), (2, 62.0), (3, 61.0), (4, 59.0), (5, 60.5), (6, 95.0)]]
    html, lines = render(tmp_path, runs)
    regression = [line for line in lines if line.startswith("REGRESSION")]
    assert regression == [
        "REGRESSION: features/control_plane/controller.feature: RabbitMQ stops: API unavailable "
        "95.0 s is 57% above the median 60.5 s of the 5 previous passing runs that reported "
        "it, beyond their limit 75.6 s"]
    assert "Regression: API unavailable 95.0 s" in html
    steady = group([Run.from_record(r) for r in runs[:-1]])
    assert not [line for line in summary(steady) if line.startswith("REGRESSION")]
