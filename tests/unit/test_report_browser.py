"""The drill report as a person sees it: rendered by headless Chromium from a history the lab
recorded (tests/unit/data/lab_history.jsonl: three runs each of three drills, in the record's
current form, with its commands, deviations and versions), its figures read off the page and
checked against the JSON records they come from."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackdrill.reporting.report import write_report

HISTORY = Path(__file__).parent / "data" / "lab_history.jsonl"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# as root on a machine without a network: no sandbox, and nothing fetched in the background
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package")


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    output = tmp_path_factory.mktemp("report") / "drills.html"
    write_report(HISTORY, output)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            opened = browser.new_page(viewport={"width": 1280, "height": 900})
            opened.goto(output.as_uri())
            yield opened
        finally:
            browser.close()


def runs_by_scenario() -> dict[str, list[dict[str, Any]]]:
    """Each scenario's records, oldest first."""
    found: dict[str, list[dict[str, Any]]] = {}
    for line in HISTORY.read_text().splitlines():
        record = json.loads(line)
        found.setdefault(record["scenario"], []).append(record)
    return {name: sorted(runs, key=lambda r: r["started"]) for name, runs in found.items()}


def latest_records() -> dict[str, tuple[dict[str, Any], int]]:
    """Each scenario's latest record and how many runs it has."""
    return {name: (runs[-1], len(runs)) for name, runs in runs_by_scenario().items()}


def seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 100 else f"{value:.0f} s"


def section(page: Any, scenario: str) -> Any:
    return page.locator("section.card", has=page.locator("h2", has_text=scenario))


def test_the_history_is_in_the_records_current_form() -> None:
    runs = runs_by_scenario()
    assert len(runs) == 3 and all(len(r) >= 3 for r in runs.values())
    for record in (r for found in runs.values() for r in found):
        assert list(record) == [
            "schema", "drill", "feature", "scenario", "cloud", "stackdrill_version",
            "openstack_api_versions", "openstack_versions", "started", "ended",
            "time_to_recover", "budget", "result", "reason", "events", "recoveries",
            "commands", "deviations"]
        assert record["commands"] and record["deviations"] and record["openstack_versions"]


def test_each_drill_shows_its_latest_time_to_recover_against_its_budget(page: Any) -> None:
    records = latest_records()
    assert len(records) == 3
    for scenario, (record, count) in records.items():
        ttr, budget = record["time_to_recover"], record["budget"]
        card = section(page, scenario)
        assert card.count() == 1, scenario
        runs = f"{count} run" + ("" if count == 1 else "s")
        assert card.locator("p.feature").inner_text().endswith(runs)
        newest = card.locator("details.run").first
        assert newest.get_attribute("open") is not None
        figure = newest.locator(".ttr .figure")
        assert figure.is_visible()
        assert figure.inner_text() == (f"{seconds(ttr)} of {seconds(budget)} "
                                       f"({round(100 * ttr / budget)}% of the budget)"), scenario
        timeline = newest.locator("svg.chart").first.text_content()
        assert f"time to recover {seconds(ttr)}" in timeline
        row = page.locator("table tr", has=page.locator(f'a:text-is("{scenario}")'))
        cells = row.locator("td").all_inner_texts()
        assert cells[2:6] == [str(count), "passed", seconds(ttr), seconds(budget)], cells


def test_each_drill_draws_its_trend_across_runs(page: Any) -> None:
    for scenario, records in runs_by_scenario().items():
        card = section(page, scenario)
        chart = card.locator(":scope > svg.chart")
        assert chart.count() == 1 and chart.is_visible(), scenario
        assert card.locator(":scope > p.legend").is_visible()
        points = chart.locator("circle")
        titles = [title.split(": ")[-1] for title in
                  points.locator("title").all_text_contents()]
        assert titles == [seconds(r["time_to_recover"]) for r in records], scenario
        line = chart.locator("polyline")
        assert line.count() == 1 and line.is_visible()
        assert len(line.get_attribute("points").split()) == len(records)
        # a longer time to recover is drawn higher (smaller y), each run right of the last
        boxes_ = [box for box in (p.bounding_box() for p in points.all()) if box]
        assert len(boxes_) == len(records)
        assert [b["x"] for b in boxes_] == sorted(b["x"] for b in boxes_)
        by_height = sorted(zip(boxes_, records, strict=True), key=lambda p: p[0]["y"])
        ttrs = [r["time_to_recover"] for _, r in by_height]
        assert ttrs == sorted(ttrs, reverse=True), scenario
        budget = records[-1]["budget"]
        assert f"budget {seconds(budget)}" in chart.text_content()


def test_each_drill_shows_its_steps_deviations_and_versions(page: Any) -> None:
    for scenario, (record, _) in latest_records().items():
        newest = section(page, scenario).locator("details.run").first
        steps = [s for r in record["recoveries"] for s in r["steps"]]
        table = newest.locator("table", has=page.locator("th", has_text="recovery step"))
        rows = table.locator("tr").all()[1:]
        assert len(rows) == len(steps)
        for row, step in zip(rows, steps, strict=True):
            cells = row.locator("td").all_inner_texts()
            assert cells[1:5] == [step["title"], f"+{step['offset']:.1f} s",
                                  f"{step['duration']:.2f} s", "ok"], cells

        checks = newest.locator("table.checks tr").all()[1:]
        assert len(checks) == len(record["deviations"]) >= 1
        for row, check in zip(checks, record["deviations"], strict=True):
            assert row.is_visible()
            cells = row.locator("td").all_inner_texts()
            assert cells[1:3] == [check["label"], str(check["count"])], cells
            assert cells[3].splitlines() == check["deviations"], scenario

        versions = newest.locator("table.versions tr").all()[1:]
        assert all(row.is_visible() for row in versions)
        shown = dict(tuple(row.locator("td").all_inner_texts()) for row in versions)
        assert shown.pop("stackdrill") == record["stackdrill_version"]
        assert shown == {
            **{f"OpenStack {k}": v for k, v in record["openstack_versions"].items()},
            **{f"OpenStack {k} API": v for k, v in record["openstack_api_versions"].items()}}


def test_each_run_lists_its_commands_with_their_output(page: Any) -> None:
    for scenario, (record, _) in latest_records().items():
        newest = section(page, scenario).locator("details.run").first
        commands = newest.locator("details.cmd")
        assert commands.count() == len(record["commands"]) >= 1, scenario
        for item, text in zip(commands.all(), record["commands"], strict=True):
            first, _, rest = text.partition("\n")
            status, _, output = rest.partition("\n")
            summary = item.locator("summary")
            assert summary.is_visible()
            assert summary.locator("code").inner_text() == first
            assert summary.locator(".exit").inner_text() == status
            shown = item.locator("pre")
            assert not shown.is_visible()  # closed until opened
            summary.click()
            assert shown.is_visible()
            assert shown.inner_text().strip() == (output.strip() or "(no output)")


def boxes(locator: Any) -> list[dict[str, float]]:
    return [box for box in (item.bounding_box() for item in locator.all()) if box]


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    """Whether the glyphs of two labels overlap: their boxes less the line's leading (a
    quarter of the box's height above and below)."""
    inset = a["height"] / 4
    return (a["x"] < b["x"] + b["width"] - 1 and b["x"] < a["x"] + a["width"] - 1
            and a["y"] + inset < b["y"] + b["height"] - inset
            and b["y"] + inset < a["y"] + a["height"] - inset)


def test_the_page_fits_its_width_and_no_timeline_labels_collide(page: Any) -> None:
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for scenario in latest_records():
        newest = section(page, scenario).locator("details.run").first
        chart = newest.locator("svg.chart").first
        box = chart.bounding_box()
        assert box is not None and box["width"] > 600 and box["height"] > 100
        labels = boxes(chart.locator("text[paint-order]"))
        assert len(labels) >= 5, scenario
        for index, label in enumerate(labels):
            assert label["x"] >= box["x"] - 1
            assert label["x"] + label["width"] <= box["x"] + box["width"] + 1, scenario
            assert not any(overlap(label, other) for other in labels[index + 1:]), scenario
