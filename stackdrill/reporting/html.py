"""The drill report as one HTML file: inline CSS and SVG, no scripts, nothing fetched."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

from stackdrill.cloud.tenant_view import API_PREFIX, CANARY_PREFIX
from stackdrill.reporting import charts, release_comparison
from stackdrill.reporting.drill_runs import DrillRuns
from stackdrill.reporting.history import Run
from stackdrill.reporting.release_comparison import IMPROVED, REGRESSED, Comparison, Side
from stackdrill.reporting.tenant_figures import (
    API_COLUMNS,
    CANARY_COLUMNS,
    NONE,
    felt_line,
    subjects,
)
from stackdrill.reporting.trend import MIN_HISTORY, RULE, previous_median

CSS = """
:root { --ink:#1f2937; --grey:#6b7280; --rule:#e5e7eb; --red:#dc2626; --green:#16a34a;
        --amber:#b45309; --bg:#f9fafb; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 24px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 0; }
h3 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--grey);
     margin: 18px 0 6px; }
.meta, .feature { color: var(--grey); margin: 2px 0 0; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--rule);
         vertical-align: top; }
th { font-size: 12px; color: var(--grey); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
a { color: inherit; }
.card { background: #fff; border: 1px solid var(--rule); border-radius: 8px; padding: 16px 20px;
        margin-top: 20px; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px;
        font-weight: 600; color: #fff; }
.passed { background: var(--green); } .failed { background: var(--red); }
.aborted { background: var(--grey); } .error { background: #7c3aed; }
.regression { background: #fef2f2; border: 1px solid #fca5a5; color: #991b1b;
              border-radius: 6px; padding: 8px 12px; margin: 10px 0 0; font-weight: 600; }
.ok { color: var(--green); font-weight: 600; }
.flag { color: var(--red); font-weight: 700; }
.reason { background: #fef2f2; border-left: 4px solid var(--red); padding: 6px 10px;
          margin: 8px 0 0; }
svg.chart { display: block; width: 100%; height: auto; }
details.run { border-top: 1px solid var(--rule); padding: 10px 0 4px; }
details.run > summary { cursor: pointer; font-weight: 600; }
details.run > summary .when { font-variant-numeric: tabular-nums; }
details.run > summary span + span { margin-left: 10px; }
.ttr { display: flex; align-items: center; gap: 14px; }
.ttr svg { flex: 1; }
.ttr .figure { white-space: nowrap; font-weight: 600; min-width: 230px; }
.small { font-size: 12px; color: var(--grey); }
.legend b { margin: 0 2px 0 12px; } .legend b:first-child { margin-left: 0; }
.blue { color: #2563eb; } .red { color: var(--red); } .amber { color: #d97706; }
pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; background: var(--bg);
      border: 1px solid var(--rule); border-radius: 4px; padding: 8px 10px; margin: 4px 0 8px;
      white-space: pre-wrap; overflow-wrap: anywhere; max-height: 360px; overflow-y: auto; }
details.cmd > summary { cursor: pointer; padding: 2px 0; overflow-wrap: anywhere; }
details.cmd > summary .exit { margin-left: 8px; }
table.versions { width: auto; min-width: 320px; }
table.felt { width: auto; min-width: 420px; margin-bottom: 8px; }
td.felt { font-size: 12px; }
"""

LEGEND = ('<p class="small legend"><b class="blue">●</b> time to recover of a run '
          '<b class="red">✕</b> a run that did not recover <b>- -</b> budget '
          '<b class="amber">- -</b> regression limit: the median of the earlier passing runs '
          '+ the largest of 3 scaled MADs, 25% and 1 s</p>')


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ttr(run: Run) -> str:
    if run.time_to_recover is None:
        return "—"
    return charts.seconds(run.time_to_recover)


def _budget_text(run: Run) -> str:
    ttr, budget = run.time_to_recover, run.budget
    since = f", measured from {run.measured_from}" if run.measured_from else ""
    if ttr is None:
        return (f"not recovered within {charts.seconds(budget)}{since}" if budget is not None
                else "not measured: the drill did not reach verification")
    if budget is None:
        return charts.seconds(ttr) + since
    return (f"{charts.seconds(ttr)} of {charts.seconds(budget)} ({ttr / budget:.0%} of the "
            f"budget){since}")


def _steps(run: Run) -> str:
    if not run.steps:
        return '<p class="small">No recovery step ran.</p>'
    rows = "".join(
        f'<tr><td class="num">{number}</td><td>{_e(step.title)}</td>'
        f'<td class="num">+{step.offset:.1f} s</td><td class="num">{step.duration:.2f} s</td>'
        f'<td>{"ok" if step.ok else "<span class=flag>failed</span> " + _e(step.error or "")}'
        f"</td></tr>"
        for number, step in enumerate(run.steps, 1))
    return ('<table><tr><th class="num">#</th><th>recovery step</th><th class="num">started</th>'
            f'<th class="num">duration</th><th>result</th></tr>{rows}</table>')


def _checks(run: Run) -> str:
    """Each comparison with the verified state: when, how many deviations, which."""
    if not run.checks:
        return '<p class="small">No comparison with the verified state was recorded.</p>'
    rows = []
    for number, check in enumerate(run.checks, 1):
        shown = "\n".join(check.deviations)
        more = check.count - len(check.deviations)
        listing = (f"<pre>{_e(shown)}{_e(f'{chr(10)}... {more} more') if more > 0 else ''}"
                   "</pre>" if check.deviations else '<span class="ok">none</span>')
        rows.append(f'<tr><td class="num">{number}</td><td>{_e(check.label)}</td>'
                    f'<td class="num">{check.count}</td><td>{listing}</td></tr>')
    return ('<table class="checks"><tr><th class="num">#</th><th>compared</th>'
            '<th class="num">deviations</th><th>path: verified -> observed (rule)</th></tr>'
            + "".join(rows) + "</table>")


def _changes(run: Run) -> str:
    """After an upgrade: what changed as an upgrade may (service versions)."""
    if run.changes is None:
        return ""
    items = "".join(f"<li>{_e(line)}</li>" for line in run.changes)
    return ("<h3>Changed since the pre-upgrade record</h3>"
            + (f'<ul class="changes">{items}</ul>' if items
               else '<p class="small">No service version changed.</p>'))


def _commands(run: Run) -> str:
    """Every recorded command (SQL goes through the mysql client) with its output."""
    if not run.commands:
        return '<p class="small">No command was recorded.</p>'
    items = []
    for text in run.commands:
        first, _, rest = text.partition("\n")
        status, _, output = rest.partition("\n")
        failed = status.startswith("(exit ") and not status.startswith("(exit 0,")
        items.append(f'<details class="cmd"><summary><code>{_e(first)}</code>'
                     f'<span class="exit {"flag" if failed else "small"}">{_e(status)}</span>'
                     f"</summary><pre>{_e(output) or '(no output)'}</pre></details>")
    return "".join(items)


def _figure(name: str, value: float | None) -> str:
    if value is None:
        return NONE
    return charts.seconds(value) if name.endswith("_s") else f"{value:g}"


def _felt(run: Run) -> str:
    """What the tenants felt: each API's and each canary's figures, and every interval."""
    figures = run.tenant_figures
    if figures is None:
        return '<p class="small">Not measured: no tenant observer ran in this drill.</p>'
    parts = []
    for scope, columns, what in ((API_PREFIX, API_COLUMNS, "API"),
                                 (CANARY_PREFIX, CANARY_COLUMNS, "canary")):
        names = subjects(figures, scope)
        if not names:
            continue
        head = "".join(f'<th class="num">{_e(title)}</th>' for _, title in columns)
        rows = "".join(
            f"<tr><td>{_e(name.split(':', 1)[1])}</td>"
            + "".join(f'<td class="num">{_figure(key, figures.get(f"{name}/{key}"))}</td>'
                      for key, _ in columns) + "</tr>" for name in names)
        parts.append(f'<table class="felt"><tr><th>{what}</th>{head}</tr>{rows}</table>')
    if not parts:
        parts.append('<p class="small">The tenant observers reported no figure.</p>')
    if run.felt:
        rows = "".join(f'<tr><td>{_e(f.lane)}</td><td>{_e(f.kind)}</td>'
                       f'<td class="num">+{f.offset:.1f} s</td>'
                       f'<td class="num">{f.duration:.1f} s</td><td>{_e(f.detail)}</td></tr>'
                       for f in run.felt)
        parts.append('<table class="felt-intervals"><tr><th>lane</th><th>felt</th>'
                     '<th class="num">from</th><th class="num">for</th><th>detail</th></tr>'
                     f"{rows}</table>")
    return "".join(parts)


def _versions(run: Run) -> str:
    rows = [("stackdrill", run.stackdrill_version or "unknown")]
    for service, release in run.openstack_versions.items():
        rows += ([(f"OpenStack {service}", release)] if isinstance(release, str) else
                 [(f"OpenStack {service} on {host}", value) for host, value in release.items()])
    rows += [(f"OpenStack {service} API", version)
             for service, version in sorted(run.openstack_api_versions.items())]
    return ('<table class="versions"><tr><th>component</th><th>version</th></tr>'
            + "".join(f"<tr><td>{_e(name)}</td><td>{_e(version)}</td></tr>"
                      for name, version in rows) + "</table>")


def _run(run: Run, is_open: bool) -> str:
    reason = f'<p class="reason">{_e(run.reason)}</p>' if run.reason else ""
    about = [f"{_when(run.started)} to {_when(run.ended)} ({run.duration:.0f} s)",
             f"cloud {_e(run.cloud or 'unnamed')}"]
    return (f'<details class="run"{" open" if is_open else ""}><summary>'
            f'<span class="when">{_when(run.started)}</span>'
            f'<span class="pill {_e(run.result)}">{_e(run.result)}</span>'
            f"<span>time to recover {_ttr(run)}</span></summary>{reason}"
            f"<h3>Timeline</h3>{charts.timeline(run)}"
            f'<h3>Time to recover against the budget</h3><div class="ttr">'
            f'{charts.budget_bar(run.time_to_recover, run.budget)}'
            f'<span class="figure">{_e(_budget_text(run))}</span></div>'
            f"<h3>What the tenants felt</h3>{_felt(run)}"
            f"<h3>Recovery steps</h3>{_steps(run)}"
            f"{_changes(run)}"
            f"<h3>Deviations from the verified state</h3>{_checks(run)}"
            f"<h3>Commands and SQL, with their output</h3>{_commands(run)}"
            f"<h3>Versions</h3>{_versions(run)}"
            f'<p class="small">{" · ".join(about)}</p></details>')


def _drill(number: int, item: DrillRuns) -> str:
    found = item.regression
    flag = f'<p class="regression">Regression: {_e(found.describe())}</p>' if found else ""
    flag += "".join(f'<p class="regression">Regression: {_e(figure.describe())}</p>'
                    for figure in item.figure_regressions)
    where = f" · cloud {_e(item.cloud)}" if item.cloud else ""
    count = len(item.runs)
    chart = (charts.trend(item.runs, found) + LEGEND if count > 1
             else '<p class="small">One run so far: no trend yet.</p>')
    runs = "".join(_run(run, index == 0) for index, run in enumerate(reversed(item.runs)))
    return (f'<section class="card" id="drill-{number}"><h2>{_e(item.scenario)}</h2>'
            f'<p class="feature"><code>{_e(item.feature)}</code>{where} · {count} '
            f'run{"" if count == 1 else "s"}</p>{flag}'
            f"<h3>Time to recover across runs</h3>{chart}"
            f"<h3>Runs, newest first</h3>{runs}</section>")


def _summary(groups: Sequence[DrillRuns]) -> str:
    rows = []
    for number, item in enumerate(groups, 1):
        run = item.latest
        median = previous_median(item.comparable_ttrs)
        trend = _verdict(item)
        rows.append(
            f'<tr><td><a href="#drill-{number}">{_e(item.scenario)}</a><br>'
            f'<span class="small">{_e(item.feature)}</span></td>'
            f"<td>{_e(item.cloud or '')}</td><td class=\"num\">{len(item.runs)}</td>"
            f'<td><span class="pill {_e(run.result)}">{_e(run.result)}</span></td>'
            f'<td class="num">{_ttr(run)}</td>'
            f'<td class="num">{charts.seconds(run.budget) if run.budget is not None else "—"}'
            f'</td><td class="felt">{_e(felt_line(run))}</td>'
            f'<td class="num">{charts.seconds(median) if median is not None else "—"}</td>'
            f"<td>{trend}</td></tr>")
    return ('<table><tr><th>drill</th><th>cloud</th><th class="num">runs</th><th>latest</th>'
            '<th class="num">time to recover</th><th class="num">budget</th>'
            '<th>what the tenants felt</th>'
            '<th class="num">median before</th><th>trend</th></tr>' + "".join(rows) + "</table>")


def _verdict(item: DrillRuns) -> str:
    figures = ", ".join(r.headline.title for r in item.figure_regressions)
    felt = f'<br><span class="flag">regression</span> of {_e(figures)}' if figures else ""
    found = item.regression
    if found is not None:
        change = f" ({found.latest / found.median - 1:+.0%})" if found.median else ""
        return f'<span class="flag">regression</span>{change}{felt}'
    if item.baseline is None:
        return (f'<span class="small">fewer than {MIN_HISTORY} earlier passing runs</span>'
                f"{felt}")
    return f'<span class="ok">ok</span>{felt}'


def _side(side: Side | None) -> str:
    if side is None:
        return '<span class="small">no passed or failed run</span>'
    return (f'<span class="pill {_e(side.latest.result)}">{_e(side.latest.result)}</span> '
            f"{_e(side.spread())}"
            f'<br><span class="small">latest: {_e(side.latest_text())}, '
            f"{_when(side.latest.started)}</span>")


def _flag(flag: str) -> str:
    style = {REGRESSED: "flag", IMPROVED: "ok"}.get(flag, "")
    return f'<span class="{style}">{_e(flag)}</span>' if style else _e(flag)


def _releases(comparison: Comparison) -> str:
    """The section "Before and after the upgrade": a row per drill run on either release."""
    before, after = comparison.before, comparison.after
    more = (f" The history names {len(comparison.found)} releases "
            f"({', '.join(r.label for r in comparison.found)}); the two newest are compared."
            if len(comparison.found) > 2 else "")
    rows = "".join(
        f"<tr><td>{_e(row.scenario)}<br><span class=\"small\">{_e(row.feature)}</span></td>"
        f"<td>{_e(row.cloud or '')}</td><td>{_side(row.before)}</td><td>{_side(row.after)}</td>"
        f'<td>{_flag(row.flag)}<br><span class="small">{_e(row.why)}</span></td></tr>'
        for row in comparison.rows)
    return (f'<section class="card" id="releases"><h2>Before and after the upgrade</h2>'
            f'<p class="meta">{_e(comparison.compared())}.{_e(more)} '
            f"{_e(comparison.count_line())}.</p>"
            f"<table><tr><th>drill</th><th>cloud</th><th>{_e(before.label)}</th>"
            f"<th>{_e(after.label)}</th><th>across the upgrade</th></tr>{rows}</table>"
            f'<p class="small">The rule: {_e(release_comparison.RULE)}.</p></section>')


def _release_section(groups: Sequence[DrillRuns]) -> tuple[str, str]:
    """The banners of the drills that regressed across the upgrade, and the section; empty
    when the runs name fewer than two releases."""
    comparison = release_comparison.across_upgrade(groups)
    if comparison is None:
        return "", ""
    across = f"{comparison.before.label} -> {comparison.after.label}"
    banners = "".join(f'<p class="regression">Regression across the upgrade ({_e(across)}) in '
                      f"{_e(row.scenario)}: {_e(row.why)}</p>" for row in comparison.regressed)
    return banners, _releases(comparison)


def render(groups: Sequence[DrillRuns], source: str, now: dt.datetime | None = None) -> str:
    moment = now or dt.datetime.now(dt.UTC)
    runs = sum(len(g.runs) for g in groups)
    across, releases = _release_section(groups)
    banners = "".join(f'<p class="regression">Regression in {_e(g.scenario)}: '
                      f"{_e(found.describe())}</p>"
                      for g in groups if (found := g.regression) is not None)
    banners += "".join(f'<p class="regression">Regression in {_e(g.scenario)}: '
                       f"{_e(figure.describe())}</p>"
                       for g in groups for figure in g.figure_regressions)
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>stackdrill drill report</title><style>{CSS}</style></head><body><main>"
            f"<h1>Recovery drills</h1><p class=\"meta\">{runs} run{'' if runs == 1 else 's'} "
            f"of {len(groups)} drill{'' if len(groups) == 1 else 's'} from "
            f"<code>{_e(source)}</code>, generated {_when(moment)}. Each drill's latest run is "
            f"checked for a regression: {_e(RULE)}.</p>"
            f'{banners}{across}<section class="card">{_summary(groups)}</section>{releases}'
            + "".join(_drill(number, g) for number, g in enumerate(groups, 1))
            + "</main></body></html>\n")
