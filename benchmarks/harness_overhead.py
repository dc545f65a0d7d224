"""Harness overhead per drill, from the drills' JSON records (stackdrill's history.jsonl).

A drill's wall time is split into the intentional waits (the cloud doing what is drilled: the
fault's confirmation, the runbook's steps, the wait for the verified state) and the rest, which
is stackdrill's own time: setup and the verified state, preparing and journalling the fault,
observing the deviation, undoing and recording. The overhead is that rest, as seconds and as a
fraction of the wall time. stackdrill's own observations inside the timed waits (each attempt
of the fault's confirmation and of the wait for the verified state: the snapshots it takes
while the cloud recovers) are its time too, and count as overhead, not as waiting; a record
written before they were kept (no ``observing``) counts them as waiting, and its row says so.
A record whose observing exceeds the waits it sits in (records written before 2026-12-07 counted
the verified state's confirming snapshot, which comes after the timed wait) cannot be split
honestly: its row says so and it is left out of the medians.
"Deviation observed" also holds the wait for the cloud to show the effect (Nova takes tens of
seconds to mark a reset host's services down), so the overhead is an upper bound; the summary
gives it both ways.

    python benchmarks/harness_overhead.py [HISTORY.jsonl] [--since 2026-11-30T19:10]

``--since`` keeps the drills started at or after that UTC time (a change to compare against).

Writes benchmarks/results/harness_overhead.json and .md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from provenance import header, provenance, write_result

TITLE = "Harness overhead per drill"
DEFAULT = Path.home() / ".local/state/stackdrill/history.jsonl"
PHASES = ("before the verified state", "fault prepared and injected",
          "deviation observed", "undo and record")
#: The parts of the last phase, from the marks a record written since 2026-12-08 keeps: each
#: ends at its mark (the last at the record's end), and starts where the one before ended.
AFTER = (("confirming snapshot", "confirmed"), ("last steps", "steps-ended"),
         ("undo", "undone"), ("tenant observers' last reads", "observers-stopped"),
         ("record", None))


def _time(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _first(events: list[dict[str, Any]], kind: str) -> float | None:
    return next((float(e["offset"]) for e in events if e["kind"] == kind), None)


def recorded(records: list[dict[str, Any]]) -> str:
    """Where the analysed records come from: their runs, their span and their machines."""
    if not records:
        return "no completed drill"
    runs = sorted({str(r.get("run")) for r in records})
    started = sorted(r["started"] for r in records)
    machines = sorted({f"{m.get('hostname')} ({m.get('nproc')} CPUs, "
                       f"{m.get('memory_bytes', 0) / 2**30:.1f} GiB)"
                       for r in records if isinstance(m := r.get("machine"), dict)})
    return (f"{len(records)} drill records of run{'s' * (len(runs) > 1)} {', '.join(runs)}, "
            f"started {started[0]} to {started[-1]}, on {', '.join(machines) or 'unknown'}")


def analyse(record: dict[str, Any]) -> dict[str, Any] | None:
    """The split of one completed drill; None for a drill that did not get to the verified
    state (its timeline has no complete recovery to measure against)."""
    events = record.get("events") or []
    found = {kind: _first(events, kind) for kind in
             ("baseline", "fault-injected", "effect-detected", "deviation", "recovery-start",
              "verified")}
    if record.get("result") != "passed":
        return None
    marks = {kind: at for kind, at in found.items() if at is not None}
    if len(marks) < len(found):
        return None
    wall = _time(record["ended"]) - _time(record["started"])
    steps = [s for r in record.get("recoveries", []) for s in r["steps"]]
    runbook = sum(s["duration"] for s in steps)
    steps_end = max((s["offset"] + s["duration"] for s in steps), default=marks["recovery-start"])
    confirm = marks["effect-detected"] - marks["fault-injected"]
    verify = max(0.0, marks["verified"] - steps_end)
    observing = record.get("observing")
    observed = sum(float(v) for v in observing.values()) if observing is not None else None
    waits = confirm + runbook + verify - (observed or 0.0)
    phases = {
        PHASES[0]: marks["baseline"],
        PHASES[1]: marks["fault-injected"] - marks["baseline"],
        PHASES[2]: marks["deviation"] - marks["effect-detected"],
        PHASES[3]: wall - marks["verified"],
    }
    overhead = wall - waits
    return {"drill": record["drill"], "wall": wall, "waits": waits, "overhead": overhead,
            "fraction": overhead / wall if wall > 0 else 0.0, "phases": phases,
            "after": after_verified(record.get("marks"), marks["verified"], wall),
            "observing": observed, "split": waits >= 0.0,
            "time_to_recover": record.get("time_to_recover")}


def after_verified(marks: dict[str, float] | None, verified: float,
                   wall: float) -> dict[str, float] | None:
    """The last phase split at the record's marks; None for a record without all of them."""
    if not marks or any(mark is not None and mark not in marks for _, mark in AFTER):
        return None
    parts, begun = {}, verified
    for part, mark in AFTER:
        ends = wall if mark is None else float(marks[mark])
        parts[part], begun = ends - begun, ends
    return parts


def after_table(rows: list[dict[str, Any]]) -> str:
    """The last phase's parts, per drill and as medians."""
    split = [r for r in rows if r["split"] and r.get("after") is not None]
    if not split:
        return "No record keeps the marks that split the phase after the verified state.\n"
    parts = [part for part, _ in AFTER]
    lines = ["| drill | " + " | ".join(parts) + " |", "|---" * (1 + len(parts)) + "|"]
    for row in split:
        lines.append(f"| {row['drill'].split(': ', 1)[-1]} | "
                     + " | ".join(f"{row['after'][p]:.1f} s" for p in parts) + " |")
    medians = ", ".join(f"{p} {statistics.median(r['after'][p] for r in split):.1f} s"
                        for p in parts)
    return "\n".join([*lines, "", f"Medians over {len(split)} drills: {medians}."]) + "\n"


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| drill | wall | intentional waits | overhead | fraction | observing inside the "
             "waits (in the overhead) | " + " | ".join(PHASES) + " |",
             "|---" * (6 + len(PHASES)) + "|"]
    for row in rows:
        phases = " | ".join(f"{row['phases'][p]:.1f} s" for p in PHASES)
        observed = row.get("observing")
        seen = "not recorded" if observed is None else f"{observed:.1f} s"
        if not row["split"]:
            seen += " (more than the waits: left out)"
        lines.append(f"| {row['drill'].split(': ', 1)[-1]} | {row['wall']:.1f} s "
                     f"| {row['waits']:.1f} s | {row['overhead']:.1f} s "
                     f"| {100 * row['fraction']:.0f}% | {seen} | {phases} |")
    kept = [r for r in rows if r["split"]]
    if kept:
        bare = [(r["overhead"] - r["phases"][PHASES[2]]) / r["wall"] for r in kept]
        lines += ["", f"Median overhead {statistics.median(r['overhead'] for r in kept):.1f} s "
                      f"per drill, {100 * statistics.median(r['fraction'] for r in kept):.0f}% "
                      f"of wall time, over {len(kept)} completed drills"
                      f"{_left_out(len(rows) - len(kept))}; "
                      f"{100 * statistics.median(bare):.0f}% when the wait for the deviation to "
                      f"show (part of which is the cloud's own reporting delay) is counted as a "
                      f"wait."]
    return "\n".join(lines) + "\n"


def _left_out(count: int) -> str:
    return f" ({count} left out: their observing exceeds their waits)" if count else ""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("history", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--since", type=_since, default=None,
                        help="only drills started at or after this UTC time (ISO 8601)")
    args = parser.parse_args(argv)
    path: Path = args.history
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        print(f"harness_overhead: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    rows, kept = [], []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
            if args.since is not None and _time(record["started"]) < _moment(args.since):
                continue
            row = analyse(record)
        except (ValueError, KeyError, TypeError) as exc:
            print(f"harness_overhead: {path}:{number}: not a drill record: {exc}",
                  file=sys.stderr)
            return 2
        if row is not None:
            rows.append(row)
            kept.append(record)
    results = {**provenance(), "history": str(path), "since": args.since,
               "records": recorded(kept), "rows": rows}
    text = "\n".join([*header(results, TITLE, {}), f"- records: {results['records']}",
                      f"- from: {path}" + (f" --since {args.since}" if args.since else ""),
                      "", table(rows), "## After the verified state", "",
                      after_table(rows)])
    write_result("harness_overhead", results, text)
    return 0


def _moment(text: str) -> float:
    return _time(text if "+" in text or text.endswith("Z") else text + "Z")


def _since(text: str) -> str:
    try:
        _moment(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return text


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
