"""The upgrade rehearsed on the lab, end to end, each phase timed: a lab of the previous
OpenStack series brought up, the pre-upgrade phase, the failed-upgrade drill (an upgrade whose
db sync fails half way, rolled back from the backup), the upgrade itself (a backup, the control
plane, then each compute with its canaries live-migrated away and back), and the post-upgrade
phase against the record taken before.

    python benchmarks/upgrade_rehearsal.py              # as root; takes the lab down first
    python benchmarks/upgrade_rehearsal.py --skip failed-upgrade

Each step is the operator's command (``stackdrill lab down``, ``stackdrill lab up --release
previous``, ``stackdrill run --lab --phase ...``), run in turn; a step that fails ends the
rehearsal (the later phases would prove nothing). Writes benchmarks/results/upgrade_rehearsal.json
and .md: each step's exit status and wall-clock duration, each drill's time to recover, verdict
and reason from its history record, what the post-upgrade phase listed as changed, and the
date, the commit and the machine. The lab is left up, upgraded.
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


def steps(work: Path, skip: set[str]) -> list[tuple[str, list[str]]]:
    found = [("lab down", [*STACKDRILL, "lab", "down"]),
             ("lab up --release previous", [*STACKDRILL, "lab", "up", "--release", "previous"])]
    found += [(f"run --phase {phase}",
               [*STACKDRILL, "run", "--lab", "--phase", phase, "--reports",
                str(work / "reports" / phase), "--history", str(work / "history.jsonl")])
              for phase in PHASES if phase not in skip]
    return found


def run(name: str, command: list[str], work: Path) -> dict[str, Any]:
    log = work / f"{name.replace(' ', '_').replace('-', '')}.log"
    print(f"rehearsal: {name} ...", flush=True)
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                              check=False)
    seconds = round(time.monotonic() - started, 1)
    print(f"rehearsal: {name}: exit {done.returncode} in {seconds} s", flush=True)
    shown = command[3:command.index("--reports")] if "--reports" in command else command[3:]
    return {"step": name, "command": " ".join(["stackdrill", *shown]),
            "exit": done.returncode, "seconds": seconds, "log": str(log)}


def drills(history: Path) -> list[dict[str, Any]]:
    """Each drill's record, as the history keeps it: scenario, verdict, time to recover."""
    if not history.exists():
        return []
    found = []
    for line in history.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
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
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir())
                                              / "stackdrill-upgrade-rehearsal"),
                        help="where the logs, reports and history go")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    (work / "history.jsonl").unlink(missing_ok=True)
    results: dict[str, Any] = {**provenance(), "steps": []}
    for name, command in steps(work, set(args.skip)):
        results["steps"].append(run(name, command, work))
        if results["steps"][-1]["exit"] != 0:
            break
    results["drills"] = drills(work / "history.jsonl")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "upgrade_rehearsal.json").write_text(json.dumps(results, indent=1) + "\n")
    (RESULTS / "upgrade_rehearsal.md").write_text(markdown(results))
    return 0 if all(s["exit"] == 0 for s in results["steps"]) else 1


if __name__ == "__main__":
    sys.exit(main())
