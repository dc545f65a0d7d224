"""Inline SVG charts: a drill run's timeline, its time to recover against the budget, and a
drill's time to recover across runs. Plain SVG text, no scripts, no external references."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from stackdrill.reporting.history import Run
from stackdrill.reporting.trend import Regression, baseline

WIDTH = 1100
HALO = 'stroke="#fff" stroke-width="4" stroke-linejoin="round" paint-order="stroke"'
CHAR = 6.9  # average glyph width at 12px, to keep labels from overlapping
COLORS = {"grey": "#6b7280", "red": "#dc2626", "orange": "#ea580c", "amber": "#d97706",
          "green": "#16a34a", "blue": "#2563eb", "purple": "#7c3aed", "ink": "#1f2937",
          "rule": "#d1d5db", "track": "#e5e7eb"}
# timeline event kinds worth a marker: (label, colour); recovery steps are drawn as bars
KINDS = {
    "baseline": ("verified state recorded", "grey"),
    "fault-injected": ("fault injected", "red"),
    "effect-detected": ("fault confirmed", "orange"),
    "deviation": ("effect seen by the probes", "amber"),
    "verified": ("verified again", "green"),
    "undone": ("fault undone", "grey"),
    "undo-failed": ("undo failed", "red"),
    "refused": ("refused by a guard", "purple"),
}
# what the tenants felt, one lane per API and canary: (label, colour) of each kind of interval
FELT_KINDS = {"unavailable": ("unavailable", "red"), "stall": ("heartbeat stall", "amber"),
              "io-stall": ("volume I/O stall", "orange"), "reboot": ("reboot", "purple")}
LANE_HEIGHT = 18
LANE_CHARS = 27  # a lane's label fits the margin right of the axis


def seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 100 else f"{value:.0f} s"


def tick_step(span: float, most: int = 10) -> float:
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if span / step <= most:
            return float(step)
    return float(math.ceil(span / most))


def ticks(maximum: float, step: float) -> list[float]:
    return [round(n * step, 6) for n in range(int(maximum / step + 1e-9) + 1)]


def _svg(height: float, body: list[str], label: str) -> str:
    return (f'<svg viewBox="0 0 {WIDTH} {height:.0f}" '
            f'role="img" aria-label="{escape(label)}" class="chart">'
            + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, *, color: str = "ink", anchor: str = "start",
          size: int = 12, weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" fill="{COLORS[color]}" font-size="{size}" '
            f'text-anchor="{anchor}" font-weight="{weight}">{escape(text)}</text>')


@dataclass
class _Lanes:
    """Rows of labels: each label goes to the first row where it overlaps nothing, and below
    the label placed before it when the two overlap, so a cluster reads top to bottom in time."""

    gap: float = 12
    rows: list[list[tuple[float, float]]] = field(default_factory=list)
    last: tuple[float, float, int] | None = None

    def place(self, start: float, end: float) -> int:
        lowest = 0
        if self.last is not None and start <= self.last[1] + self.gap and end >= self.last[0]:
            lowest = self.last[2]
        for number, row in enumerate(self.rows):
            if number >= lowest and all(end + self.gap < a or start > b + self.gap
                                        for a, b in row):
                row.append((start, end))
                break
        else:
            number = len(self.rows)
            self.rows.append([(start, end)])
        self.last = (start, end, number)
        return number


@dataclass(frozen=True)
class _Mark:
    at: float
    text: str
    when: str
    color: str
    tooltip: str
    length: float = 0.0  # a recovery step's duration: drawn as a bar


def _marks(run: Run) -> list[_Mark]:
    marks = []
    for event in run.events:
        if event.kind not in KINDS:
            continue
        label, color = KINDS[event.kind]
        text = f"{label}: {event.title}" if event.kind == "fault-injected" else label
        marks.append(_Mark(event.offset, text[:60], f"{event.offset:.1f} s", color,
                           f"+{event.offset:.2f} s  {event.kind}: {event.title}"))
    for number, step in enumerate(run.steps, 1):
        color = "blue" if step.ok else "red"
        text = f"step {number}"  # its title is in the steps table, and the tooltip
        tooltip = f"+{step.offset:.2f} s  {step.title} ({step.duration:.2f} s)" + (
            "" if step.ok else f" failed: {step.error}")
        marks.append(_Mark(step.offset, text, seconds(step.duration), color, tooltip,
                           step.duration))
    return sorted(marks, key=lambda m: m.at)


def timeline(run: Run) -> str:
    """Markers on a time axis from the drill's start: the verified state, the fault, its
    confirmation, the recovery steps (bars as long as they ran), verified again, the undo."""
    marks = _marks(run)
    end = max([run.duration, 1.0, *(m.at + m.length for m in marks)])
    axis = _TimeAxis(30.0, WIDTH - 190.0, end)  # room on the right for the last labels
    track = 56
    body = _time_to_recover_span(run, axis)
    body.append(f'<line x1="{axis.left}" y1="{track}" x2="{axis.x(end):.1f}" y2="{track}" '
                f'stroke="{COLORS["rule"]}" stroke-width="4" stroke-linecap="round"/>')
    first_lane = track + 38
    shapes, labels, rows = _drawn_marks(marks, axis, track, first_lane)
    body += shapes + labels
    bottom = first_lane + 20 * max(rows, 1) - 4
    lanes, bottom = _felt_lanes(run, axis, bottom)
    body += lanes
    body += _time_ticks(axis, bottom)
    return _svg(bottom + 26, body, f"timeline of {run.scenario}")


def _lane_names(run: Run) -> list[str]:
    """The tenant lanes: every subject with a figure or an interval, the APIs first."""
    names = {name.split("/", 1)[0] for name in run.tenant_figures or {}}
    names |= {felt.lane for felt in run.felt}
    return sorted(names, key=lambda name: (not name.startswith("api:"), name))


def _felt_lanes(run: Run, axis: _TimeAxis, top: int) -> tuple[list[str], int]:
    """Below the markers, a lane per API and canary: a grey track over the time its
    observer watched, and a bar for each interval the tenants felt (unavailable, stalled,
    rebooted), its kind and detail in the tooltip; the lane's name right of the axis."""
    names = _lane_names(run)
    if not names:
        return [], top
    watched = [e.offset for e in run.events if e.kind == "tenant-watch"]
    stopped = [e.offset for e in run.events if e.kind == "tenant-watch-stopped"]
    start, end = (watched[0] if watched else 0.0), (stopped[-1] if stopped else axis.end)
    body: list[str] = []
    y = top + 16
    for name in names:
        body.append(f'<line x1="{axis.x(start):.1f}" y1="{y:.1f}" x2="{axis.x(end):.1f}" '
                    f'y2="{y:.1f}" stroke="{COLORS["track"]}" stroke-width="6"/>')
        own = [felt for felt in run.felt if felt.lane == name]
        for felt in own:
            label, color = FELT_KINDS.get(felt.kind, (felt.kind, "grey"))
            x0 = axis.x(felt.offset)
            width = max(3.0, axis.x(min(felt.offset + felt.duration, axis.end)) - x0)
            tooltip = f"+{felt.offset:.1f} s {name} {label} for {seconds(felt.duration)}" + (
                f": {felt.detail}" if felt.detail else "")
            body.append(f'<rect x="{x0:.1f}" y="{y - 6:.1f}" width="{width:.1f}" height="12" '
                        f'rx="2" fill="{COLORS[color]}"><title>{escape(tooltip)}</title></rect>')
        text = f"{name} · {len(own)} felt" if own else name
        body.append(_text(axis.right + 10, y + 4, text[:LANE_CHARS],
                          color="ink" if own else "grey", size=11))
        y += LANE_HEIGHT
    return body, y


@dataclass(frozen=True)
class _TimeAxis:
    """A timeline's horizontal scale: seconds from the drill's start (up to ``end``) to x."""

    left: float
    right: float
    end: float

    def x(self, offset: float) -> float:
        return self.left + (self.right - self.left) * max(0.0, offset) / self.end


def _time_to_recover_span(run: Run, axis: _TimeAxis) -> list[str]:
    """A bracket from the fault to verified again, labelled with the time to recover (dashed
    and red, to the end, when the drill did not recover)."""
    fault = next((e.offset for e in run.events if e.kind == "fault-injected"), None)
    verified = next((e.offset for e in run.events if e.kind == "verified"), None)
    if fault is None:
        return []
    stop = verified if verified is not None else axis.end
    ok = verified is not None
    color = COLORS["green" if ok else "red"]
    dash = "" if ok else ' stroke-dasharray="5 4"'
    label = (f"time to recover {seconds(run.time_to_recover)}"
             if ok and run.time_to_recover is not None else "not recovered")
    middle = (axis.x(fault) + axis.x(stop)) / 2
    middle = min(max(middle, axis.left + CHAR * len(label) / 2),
                 axis.right - CHAR * len(label) / 2)
    return [f'<path d="M{axis.x(fault):.1f} 30 v-8 H{axis.x(stop):.1f} v8" fill="none" '
            f'stroke="{color}" stroke-width="1.5"{dash}/>',
            _text(middle, 15, label, color="green" if ok else "red", anchor="middle",
                  weight="600")]


def _drawn_marks(marks: list[_Mark], axis: _TimeAxis, track: int, first_lane: int
                 ) -> tuple[list[str], list[str], int]:
    """Each mark on the track with a line down to its label, the labels (drawn last, over the
    lines), and how many rows of labels there are."""
    lanes = _Lanes()
    shapes: list[str] = []
    labels: list[str] = []
    for mark in marks:
        mx = axis.x(mark.at)
        shapes.append(_mark_shape(mark, axis, track))
        span = CHAR * (len(mark.text) + len(mark.when) + 3)
        start, anchor = (mx - 4, "start") if mx + span < WIDTH - 10 else (mx + 4, "end")
        lane = lanes.place(start, start + span) if anchor == "start" else \
            lanes.place(start - span, start)
        y = first_lane + 20 * lane
        shapes.append(f'<line x1="{mx:.1f}" y1="{track + 9}" x2="{mx:.1f}" y2="{y - 12}" '
                      f'stroke="{COLORS[mark.color]}" stroke-width="1" stroke-opacity="0.6"/>')
        labels.append(_mark_label(mark, start, y, anchor))
    return shapes, labels, len(lanes.rows)


def _mark_shape(mark: _Mark, axis: _TimeAxis, track: int) -> str:
    """A recovery step as a bar as long as it ran; anything else as a dot."""
    mx = axis.x(mark.at)
    color = COLORS[mark.color]
    if mark.length:
        width = max(3.0, axis.x(mark.at + mark.length) - mx)
        return (f'<rect x="{mx:.1f}" y="{track - 8}" width="{width:.1f}" height="16" '
                f'rx="2" fill="{color}" fill-opacity="0.8" stroke="#fff"><title>'
                f'{escape(mark.tooltip)}</title></rect>')
    return (f'<circle cx="{mx:.1f}" cy="{track}" r="6" fill="{color}" '
            f'stroke="#fff" stroke-width="2"><title>{escape(mark.tooltip)}</title>'
            f'</circle>')


def _mark_label(mark: _Mark, start: float, y: int, anchor: str) -> str:
    return (f'<text x="{start:.1f}" y="{y}" font-size="12" text-anchor="{anchor}" '
            f'fill="{COLORS["ink"]}" {HALO}>{escape(mark.text)}<tspan fill="'
            f'{COLORS["grey"]}"> · {escape(mark.when)}</tspan><title>'
            f'{escape(mark.tooltip)}</title></text>')


def _time_ticks(axis: _TimeAxis, y: int) -> list[str]:
    """The time axis at ``y``, a tick and its seconds at each step."""
    body = [f'<line x1="{axis.left}" y1="{y}" x2="{axis.right}" y2="{y}" '
            f'stroke="{COLORS["rule"]}"/>']
    for tick in ticks(axis.end, tick_step(axis.end)):
        tx = axis.x(tick)
        body.append(f'<line x1="{tx:.1f}" y1="{y}" x2="{tx:.1f}" y2="{y + 5}" '
                    f'stroke="{COLORS["grey"]}"/>')
        body.append(_text(tx, y + 18, f"{tick:g} s", color="grey", anchor="middle", size=11))
    return body


def budget_bar(ttr: float | None, budget: float | None) -> str:
    """The time to recover as a bar against the budget (the grey track, its end marked)."""
    full = max(budget or 0.0, ttr or 0.0) or 1.0
    scale = (WIDTH - 2) / full
    body = [f'<rect x="1" y="6" width="{WIDTH - 2}" height="18" rx="3" '
            f'fill="{COLORS["track"]}"/>']
    if ttr is not None:
        color = COLORS["green" if budget is None or ttr <= budget else "red"]
        body.append(f'<rect x="1" y="6" width="{max(3.0, ttr * scale):.1f}" height="18" rx="3" '
                    f'fill="{color}"/>')
    elif budget is not None:
        body.append(f'<rect x="1" y="6" width="{WIDTH - 2}" height="18" rx="3" '
                    f'fill="{COLORS["red"]}" fill-opacity="0.25"/>')
    if budget is not None:
        bx = min(WIDTH - 2.0, 1 + budget * scale)
        body.append(f'<line x1="{bx:.1f}" y1="2" x2="{bx:.1f}" y2="28" '
                    f'stroke="{COLORS["ink"]}" stroke-width="2"/>')
    return _svg(30, body, "time to recover against the budget")


def trend(runs: Sequence[Run], found: Regression | None) -> str:
    """Time to recover of each run, oldest to newest; the budget and the regression limit
    (:mod:`stackdrill.reporting.trend`, from the runs before the latest) as dashed lines; runs
    that did not recover as red crosses along the top."""
    frame = _trend_frame(runs)
    body = _trend_scale(frame)
    points = [(frame.x(i), frame.y(run.time_to_recover)) for i, run in enumerate(runs)
              if run.time_to_recover is not None]
    if len(points) > 1:
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        body.append(f'<polyline points="{path}" fill="none" stroke="{COLORS["blue"]}" '
                    f'stroke-width="2"/>')
    every = math.ceil(len(runs) / 10)
    for index, run in enumerate(runs):
        latest = index == len(runs) - 1
        when = run.started.strftime("%m-%d %H:%M")
        body += _trend_run(frame, index, run, when, found, latest)
        if index % every == 0 or latest:
            body.append(_text(frame.x(index), frame.bottom + 20, when, color="grey",
                              anchor="middle", size=11))
    body.append(f'<line x1="{frame.left}" y1="{frame.bottom}" x2="{frame.right}" '
                f'y2="{frame.bottom}" stroke="{COLORS["grey"]}"/>')
    return _svg(frame.height, body, "time to recover across runs")


@dataclass(frozen=True)
class _TrendFrame:
    """A trend's scales (run number to x, seconds up to ``ymax`` to y) and its lines: the
    latest budget and the regression limit, None when there is none."""

    count: int
    ymax: float
    step: float
    budget: float | None
    limit: float | None
    left: float = 64.0
    right: float = WIDTH - 190.0
    top: float = 24.0
    bottom: float = 176.0
    height: int = 212

    def y(self, value: float) -> float:
        return self.bottom - (self.bottom - self.top) * value / self.ymax

    def x(self, index: int) -> float:
        return (self.left + self.right) / 2 if self.count == 1 else \
            self.left + (self.right - self.left) * index / (self.count - 1)


def _trend_frame(runs: Sequence[Run]) -> _TrendFrame:
    """A scale up to the highest time to recover, the regression limit, and the budget unless
    it is far above them."""
    ttrs = [run.time_to_recover for run in runs]
    base = baseline([t if run.result == "passed" else None for t, run in zip(ttrs, runs,
                                                                               strict=True)])
    limit = base.limit if base is not None else None
    known = [t for t in ttrs if t is not None]
    budgets = [run.budget for run in runs if run.budget is not None]
    budget = budgets[-1] if budgets else None
    peak = max([*known, limit or 0.0, 0.0])
    if budget is not None and (not known or budget <= 3 * peak):
        peak = max(peak, budget)
    step = tick_step(peak * 1.1 or 1.0, most=5)
    ymax = step * math.ceil((peak * 1.1 or 1.0) / step)
    return _TrendFrame(count=len(runs), ymax=ymax, step=step, budget=budget, limit=limit)


def _trend_scale(frame: _TrendFrame) -> list[str]:
    """The seconds grid, and the budget and the regression limit as dashed lines (a budget
    above the scale as an arrow at its top)."""
    left, right = frame.left, frame.right
    body: list[str] = []
    for tick in ticks(frame.ymax, frame.step):
        body.append(f'<line x1="{left}" y1="{frame.y(tick):.1f}" x2="{right}" '
                    f'y2="{frame.y(tick):.1f}" stroke="{COLORS["track"]}"/>')
        body.append(_text(left - 8, frame.y(tick) + 4, f"{tick:g} s", color="grey",
                          anchor="end", size=11))
    for value, label, color in ((frame.budget, "budget", "ink"),
                                (frame.limit, "regression limit", "amber")):
        if value is None or value > frame.ymax:
            continue
        body.append(f'<line x1="{left}" y1="{frame.y(value):.1f}" x2="{right}" '
                    f'y2="{frame.y(value):.1f}" stroke="{COLORS[color]}" '
                    f'stroke-dasharray="6 4"/>')
        body.append(_text(right + 10, frame.y(value) + 4, f"{label} {seconds(value)}",
                          color=color, size=11))
    if frame.budget is not None and frame.budget > frame.ymax:
        body.append(_text(right + 10, frame.top + 4, f"budget {seconds(frame.budget)} ↑",
                          color="grey", size=11))
    return body


def _trend_run(frame: _TrendFrame, index: int, run: Run, when: str,
               found: Regression | None, latest: bool) -> list[str]:
    """One run: a dot at its time to recover (the latest larger, red if it regressed, with its
    time beside it), or a red cross along the top when it did not recover."""
    x = frame.x(index)
    if run.time_to_recover is None:
        cx, cy = x, frame.top - 12  # above the scale: no time to plot
        return [f'<path d="M{cx - 5:.1f} {cy - 5:.1f} l10 10 m0 -10 l-10 10" '
                f'stroke="{COLORS["red"]}" stroke-width="2.5"><title>{escape(when)} '
                f'{escape(run.result)}: {escape(run.reason or "")}</title></path>']
    y = frame.y(run.time_to_recover)
    color = COLORS["red" if latest and found else "blue"]
    body = [f'<circle cx="{x:.1f}" cy="{y:.1f}" '
            f'r="{6 if latest else 4}" fill="{color}" stroke="#fff" '
            f'stroke-width="1.5"><title>{escape(when)}: '
            f'{seconds(run.time_to_recover)}</title></circle>']
    if latest:
        body.append(_text(x - 10, y - 10, seconds(run.time_to_recover),
                          color="red" if found else "blue", anchor="end", weight="600"))
    return body
