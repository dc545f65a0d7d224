"""The soak's result: each pass's drills (their result and time to recover, from the pass's drill
history, joined with the leak checks run after each), the leaks each drill left (new since the
check before it), the summary (failure rate, leak count) and its rendering as Markdown. Pure:
it reads the records it is given, nothing else."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from soak_state import Leak

BROKEN_EXITS = frozenset({2, 3, 124, 130})
"""A pass whose run exited so did not run the suite through: refused (2), aborted by a safeguard
(3), stopped at its limit (124) or interrupted (130)."""


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a file (none when it does not exist; a torn last line is skipped)."""
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            found.append(record)
    return found


def drill_result(record: Mapping[str, Any] | None, outcome: str) -> tuple[str, str]:
    """A drill's result and reason: its history record's, else pytest's outcome (a drill that
    never reached its record); a scenario skipped is ``skipped``."""
    if record is None:
        return outcome, ""
    result, reason = str(record.get("result")), str(record.get("reason") or "")
    if result == "aborted" and reason.startswith("skipped:"):
        return "skipped", reason
    return result, reason


def _take(history: list[dict[str, Any]], drill: str) -> dict[str, Any] | None:
    """The first unused history record of ``drill`` (removed from ``history``)."""
    for index, record in enumerate(history):
        if record.get("drill") == drill:
            return history.pop(index)
    return None


def _drill_entry(check: Mapping[str, Any] | None, record: Mapping[str, Any] | None,
                 previous: set[Leak]) -> tuple[dict[str, Any], set[Leak]]:
    outcome = str(check.get("outcome", "passed")) if check is not None else "passed"
    result, reason = drill_result(record, outcome)
    name = check["drill"] if check is not None else str((record or {}).get("drill"))
    entry: dict[str, Any] = {
        "drill": name, "result": result, "reason": reason,
        "time_to_recover": (record or {}).get("time_to_recover"),
        "budget": (record or {}).get("budget")}
    if check is None:
        entry.update(checked=False, leaks=[], still_left=len(previous), check_errors=[])
        return entry, previous
    current = {Leak.from_json(leak) for leak in check.get("leaks", [])}
    entry.update(checked=True, leaks=[leak.as_json() for leak in sorted(current - previous)],
                 still_left=len(current & previous), check_errors=list(check.get("errors", [])))
    return entry, current


def pass_record(number: int, exit_code: int, seconds: float, history: Sequence[dict[str, Any]],
                checks: Iterable[Mapping[str, Any]], previous: set[Leak]
                ) -> tuple[dict[str, Any], set[Leak]]:
    """One pass: its run's exit status and wall time, and each drill in the order it ran, with
    the leaks new since the check before it (``previous``: what that check found). Returns the
    pass and what its last check found."""
    unused = list(history)
    drills = []
    for check in checks:
        entry, previous = _drill_entry(check, _take(unused, str(check.get("drill"))), previous)
        drills.append(entry)
    for record in unused:  # recorded but never checked (the check itself broke)
        entry, previous = _drill_entry(None, record, previous)
        drills.append(entry)
    return ({"pass": number, "exit": exit_code, "seconds": round(seconds, 1),
             "drills": drills}, previous)


def summary(passes: Sequence[Mapping[str, Any]], asked: int) -> dict[str, Any]:
    """The soak's figures: drills run (not skipped) and failed, the failure rate, the leaks
    (each counted once, after the drill that left it), those still there after the last check,
    the checks that could not read something, and whether the soak was clean (every pass asked
    ran through, no failure, no leak, every check read everything)."""
    drills = [drill for one in passes for drill in one["drills"]]
    ran = [drill for drill in drills if drill["result"] != "skipped"]
    failed = [drill for drill in ran if drill["result"] != "passed"]
    broken = [one["pass"] for one in passes if one["exit"] in BROKEN_EXITS]
    leaks = sum(len(drill["leaks"]) for drill in drills)
    last = next((drill for drill in reversed(drills) if drill["checked"]), None)
    left = (len(last["leaks"]) + last["still_left"]) if last is not None else 0
    errors = sum(len(drill["check_errors"]) for drill in drills)
    unchecked = sum(1 for drill in drills if not drill["checked"])
    return {"passes_asked": asked, "passes_run": len(passes), "passes_broken": broken,
            "drills_run": len(ran), "drills_failed": len(failed),
            "failure_rate": round(len(failed) / len(ran), 4) if ran else None,
            "leaks": leaks, "left_at_end": left, "check_errors": errors,
            "drills_unchecked": unchecked,
            "clean": (len(passes) >= asked and not broken and bool(ran) and not failed
                      and leaks == 0 and errors == 0 and unchecked == 0)}


# -- Markdown ---------------------------------------------------------------------------------
def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _rate(value: float | None) -> str:
    return "none ran" if value is None else f"{value * 100:.1f} %"


def summary_lines(results: Mapping[str, Any]) -> list[str]:
    figures = results["summary"]
    broken = figures["passes_broken"]
    return [
        f"Drills selected by `-m \"{results['selected']}\"` on the lab "
        f"({_count(len(results['lab']['hosts']), 'host')}), {figures['passes_asked']} "
        f"passes asked, "
        f"{figures['passes_run']} run"
        + (f" (passes {', '.join(map(str, broken))} did not run through)" if broken else "")
        + ".", "",
        f"- drills run: {figures['drills_run']}, failed: {figures['drills_failed']} "
        f"(failure rate {_rate(figures['failure_rate'])})",
        f"- leaks: {figures['leaks']} ({figures['left_at_end']} still there after the last "
        f"drill)",
        f"- checks that could not read a host or the journal: {figures['check_errors']}"
        + (f"; drills not checked: {figures['drills_unchecked']}"
           if figures["drills_unchecked"] else ""),
        f"- clean (every pass ran through, no failure, no leak): "
        f"{'yes' if figures['clean'] else 'no'}", ""]


def _outcome(drill: Mapping[str, Any]) -> str:
    ttr = drill.get("time_to_recover")
    return str(drill["result"]) + (f", {ttr:.1f} s" if isinstance(ttr, int | float) else "")


def drill_table(passes: Sequence[Mapping[str, Any]]) -> list[str]:
    """One row per drill, one column per pass: its result and its time to recover."""
    names: list[str] = []
    cells: dict[tuple[str, int], list[str]] = {}
    for one in passes:
        for drill in one["drills"]:
            if drill["drill"] not in names:
                names.append(drill["drill"])
            cells.setdefault((drill["drill"], one["pass"]), []).append(_outcome(drill))
    numbers = [one["pass"] for one in passes]
    lines = ["| drill | " + " | ".join(f"pass {n}" for n in numbers) + " |",
             "|---|" + "---|" * len(numbers)]
    for name in names:
        row = [" / ".join(cells.get((name, n), ["not run"])) for n in numbers]
        lines.append(f"| {_cell(name)} | " + " | ".join(row) + " |")
    return lines


def _listing(passes: Sequence[Mapping[str, Any]], title: str, empty: str,
             key: str) -> list[str]:
    rows = [(one["pass"], drill, item) for one in passes for drill in one["drills"]
            for item in drill[key]]
    if not rows:
        return [f"## {title}", "", empty, ""]
    if key == "leaks":
        lines = ["| pass | after the drill | host | kind | what |", "|---|---|---|---|---|"]
        lines += [f"| {n} | {_cell(d['drill'])} | {_cell(i['host'])} | {i['kind']} | "
                  f"{_cell(i['what'])} |" for n, d, i in rows]
    else:
        lines = ["| pass | after the drill | could not read |", "|---|---|---|"]
        lines += [f"| {n} | {_cell(d['drill'])} | {_cell(i)} |" for n, d, i in rows]
    return [f"## {title}", "", *lines, ""]


def failures(passes: Sequence[Mapping[str, Any]]) -> list[str]:
    rows = [(one["pass"], drill) for one in passes for drill in one["drills"]
            if drill["result"] not in ("passed", "skipped")]
    if not rows:
        return ["## Failures", "", "None.", ""]
    return ["## Failures", "", "| pass | drill | result | reason |", "|---|---|---|---|",
            *[f"| {n} | {_cell(d['drill'])} | {d['result']} | {_cell(d['reason'])} |"
              for n, d in rows], ""]


def pass_table(passes: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = ["| pass | exit status | drills | failed | new leaks | minutes |",
             "|---|---|---|---|---|---|"]
    for one in passes:
        ran = [d for d in one["drills"] if d["result"] != "skipped"]
        failed = sum(1 for d in ran if d["result"] != "passed")
        new = sum(len(d["leaks"]) for d in one["drills"])
        lines.append(f"| {one['pass']} | {one['exit']} | {len(ran)} | {failed} | {new} | "
                     f"{one['seconds'] / 60:.1f} |")
    return lines


def markdown(results: Mapping[str, Any], header: Sequence[str]) -> str:
    """The result file as Markdown, below ``header`` (the date, commit and machine lines)."""
    leftovers = results["baseline"]["leftovers"]
    noted = (["Already in the baseline (a soak cannot see these come back): " + "; ".join(
        f"{item['host']} {item['kind']} {item['what']}" for item in leftovers), ""]
             if leftovers else [])
    return "\n".join([
        *header, *summary_lines(results), *noted, *pass_table(results["passes"]), "",
        "## Drills (result, time to recover)", "", *drill_table(results["passes"]), "",
        *failures(results["passes"]),
        *_listing(results["passes"], "Leaks", "None found.", "leaks"),
        *_listing(results["passes"], "Checks that could not read", "None.", "check_errors"),
        f"Reproduce: `benchmarks/soak --lab --passes {results['summary']['passes_asked']} "
        f"-m \"{results['marker']}\"`", ""])
