"""The upgrade rehearsed on the lab, end to end, each phase timed: a lab of the previous
OpenStack series brought up, the pre-upgrade phase, the failed-upgrade drill (an upgrade whose
db sync fails half way, rolled back from the backup), the upgrade itself (a backup, the control
plane, then each compute with its canaries live-migrated away and back), and the post-upgrade
phase against the record taken before. With ``--suite TAGS`` the drills those tags select run
on the previous release before the phases and on the current one after them, and
``stackdrill report --releases`` compares each drill's verdict and time to recover across the
upgrade.

    python benchmarks/upgrade_rehearsal.py              # as root; takes the lab down first
    python benchmarks/upgrade_rehearsal.py --skip failed-upgrade
    python benchmarks/upgrade_rehearsal.py --skip failed-upgrade --suite "not long and not wip"

Each step is the operator's command (``stackdrill lab down``, ``stackdrill lab up --release
previous``, ``stackdrill run --lab --phase ...``), run in turn; a step that fails ends the
rehearsal (the later phases would prove nothing). Writes benchmarks/results/upgrade_rehearsal.json
and .md: each step's exit status and wall-clock duration, each drill's time to recover, verdict
and reason from its history record, what the post-upgrade phase listed as changed, the
comparison across the upgrade, and the date, the commit and the machine. A phase that fails
ends the rehearsal (the later phases would prove nothing); a drill of the suite that fails does
not: the comparison reports it. The lab is left up, upgraded.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from provenance import ROOT, header, provenance

RESULTS = ROOT / "benchmarks" / "results"
STACKDRILL = [sys.executable, "-m", "stackdrill.cli"]
PHASES = ("pre-upgrade", "failed-upgrade", "upgrade", "post-upgrade")


def drill_run(work: Path, name: str, *options: str) -> list[str]:
    return [*STACKDRILL, "run", "--lab", *options, "--reports", str(work / "reports" / name),
            "--history", str(work / "history.jsonl")]


def steps(work: Path, skip: set[str], suite: str | None) -> list[tuple[str, list[str]]]:
    found = [("lab down", [*STACKDRILL, "lab", "down"]),
             ("lab up --release previous", [*STACKDRILL, "lab", "up", "--release", "previous"])]
    if suite:
        found.append(("drill suite, previous release", drill_run(work, "before", "-m", suite)))
    found += [(f"run --phase {phase}", drill_run(work, phase, "--phase", phase))
              for phase in PHASES if phase not in skip]
    if suite:
        found.append(("drill suite, current release", drill_run(work, "after", "-m", suite)))
        found.append(("report --releases", [*STACKDRILL, "report", "--releases", "--markdown",
                                             "--history", str(work / "history.jsonl")]))
    return found


def ends_rehearsal(step: dict[str, Any]) -> bool:
    """A phase or the lab that failed ends it; a drill of the suite or a regression found by
    the comparison is a result."""
    return step["exit"] != 0 and not step["step"].startswith(("drill suite", "report"))


def run(name: str, command: list[str], work: Path) -> dict[str, Any]:
    log = work / f"{name.replace(' ', '_').replace('-', '')}.log"
    print(f"rehearsal: {name} ...", flush=True)
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                              check=False)
    seconds = round(time.monotonic() - started, 1)
    print(f"rehearsal: {name}: exit {done.returncode} in {seconds} s", flush=True)
    end = next((command.index(o) for o in ("--reports", "--history") if o in command), None)
    shown = command[3:end]
    return {"step": name, "command": " ".join(["stackdrill", *shown]),
            "exit": done.returncode, "seconds": seconds, "log": str(log)}


def drills(history: Path) -> list[dict[str, Any]]:
    """Each upgrade phase's record, as the history keeps it: scenario, verdict, time to
    recover (the suite's drills are in the comparison)."""
    if not history.exists():
        return []
    found = []
    for line in history.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if not str(record.get("feature", "")).startswith("features/upgrade/"):
            continue
        found.append({key: record.get(key) for key in (
            "scenario", "result", "reason", "time_to_recover", "budget", "measured_from",
            "changes", "openstack_versions")})
        found[-1]["steps"] = [
            {"recovery": r["recovery"], "title": s["title"], "seconds": round(s["duration"], 1),
             "ok": s["ok"]}
            for r in record.get("recoveries") or [] for s in r["steps"]]
        figures = (record.get("tenant") or {}).get("figures") or {}
        found[-1]["canaries"] = {key: value for key, value in figures.items()
                                 if key.startswith("canary:")}
    return found


def markdown(results: dict[str, Any]) -> str:
    lines = header(results, "The upgrade rehearsed on the lab", {})
    lines += ["| step | exit | seconds |", "|---|---|---|"]
    lines += [f"| `{s['command']}` | {s['exit']} | {s['seconds']} |" for s in results["steps"]]
    comparison = next((s for s in results["steps"] if s["step"] == "report --releases"), None)
    if comparison:
        lines += ["", "## Each drill before and after the upgrade", "",
                  Path(comparison["log"]).read_text(encoding="utf-8").rstrip()]
    for drill in results["drills"]:
        lines += ["", f"## {drill['scenario']}", "", str(drill["result"])]
        if drill["time_to_recover"] is not None:
            lines[-1] += (f"; time to recover {drill['time_to_recover']} s (budget "
                          f"{drill['budget']} s, from {drill['measured_from']})")
        if drill["reason"]:
            lines.append(f"\nreason: {drill['reason']}")
        if drill["steps"]:
            lines += ["", "| recovery | step | seconds | ok |", "|---|---|---|---|"]
            lines += [f"| {s['recovery']} | {s['title']} | {s['seconds']} | {s['ok']} |"
                      for s in drill["steps"]]
        if drill["changes"]:
            lines += ["", "changed: " + "; ".join(drill["changes"])]
        stalls = {k: v for k, v in drill["canaries"].items()
                  if k.endswith(("/stall_s", "/reboots", "/lost_writes"))}
        if stalls:
            lines += ["", "canaries: " + ", ".join(f"{k} {v}" for k, v in sorted(stalls.items()))]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip", action="append", default=[], choices=PHASES,
                        help="a phase not to run (repeatable)")
    parser.add_argument("--suite", metavar="TAGS",
                        help="run the drills these tags select (stackdrill run -m) on both "
                             "releases and compare them")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir())
                                              / "stackdrill-upgrade-rehearsal"),
                        help="where the logs, reports and history go")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    (work / "history.jsonl").unlink(missing_ok=True)
    results: dict[str, Any] = {**provenance(), "steps": []}
    for name, command in steps(work, set(args.skip), args.suite):
        results["steps"].append(run(name, command, work))
        if ends_rehearsal(results["steps"][-1]):
            break
    results["drills"] = drills(work / "history.jsonl")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "upgrade_rehearsal.json").write_text(json.dumps(results, indent=1) + "\n")
    (RESULTS / "upgrade_rehearsal.md").write_text(markdown(results))
    return 1 if any(ends_rehearsal(s) for s in results["steps"]) else 0


if __name__ == "__main__":
    sys.exit(main())
