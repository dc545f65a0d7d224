"""The drill report as a person sees it: rendered by headless Chromium from a history the lab
recorded (tests/unit/data/lab_history.jsonl), its figures read off the page and checked against
the JSON records they come from."""

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


def latest_records() -> dict[str, tuple[dict[str, Any], int]]:
    """Each scenario's latest record and how many runs it has."""
    found: dict[str, tuple[dict[str, Any], int]] = {}
    for line in HISTORY.read_text().splitlines():
        record = json.loads(line)
        previous = found.get(record["scenario"])
        count = previous[1] + 1 if previous else 1
        if previous is None or record["started"] > previous[0]["started"]:
            found[record["scenario"]] = (record, count)
        else:
            found[record["scenario"]] = (previous[0], count)
    return found


def section(page: Any, scenario: str) -> Any:
    return page.locator("section.card", has=page.locator("h2", has_text=scenario))


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
        figure = newest.locator(".ttr .figure").inner_text()
        assert figure == f"{ttr:.1f} s of {budget:.0f} s ({round(100 * ttr / budget)}% of the " \
                         f"budget)", scenario
        timeline = newest.locator("svg.chart").first.text_content()
        assert f"time to recover {ttr:.1f} s" in timeline
        row = page.locator("table tr", has=page.locator(f'a:text-is("{scenario}")'))
        cells = row.locator("td").all_inner_texts()
        assert cells[2:6] == [str(count), "passed", f"{ttr:.1f} s", f"{budget:.0f} s"], cells


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

        expected = [line for e in record["events"] if e["kind"] == "deviation"
                    for line in e["detail"].splitlines()]
        checks = newest.locator("table.checks tr").all()[1:]
        assert len(checks) == 1
        cells = checks[0].locator("td").all_inner_texts()
        assert cells[2] == str(len(expected))
        assert cells[3].splitlines() == expected

        versions = newest.locator("table.versions tr").all()[1:]
        shown = dict(tuple(row.locator("td").all_inner_texts()) for row in versions)
        assert shown.pop("stackdrill") == record["stackdrill_version"]
        assert shown == {f"OpenStack {k} API": v
                         for k, v in record["openstack_api_versions"].items()}


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
