"""The API availability sampler's effect on the time to recover: the same drills run with the
sampler (every second, the default) and without it (``--api-sample-interval 0``), alternating,
on the lab, each run with a history file of its own.

    python benchmarks/sampler_effect.py --lab [--repeat 2]

The drills are two short ones whose recovery polls the APIs: libvirtd killed with SIGKILL on a
compute (``restart_services``) and RabbitMQ stopped on the controller (``restart_rabbitmq``).
Writes benchmarks/results/sampler_effect.json and .md, with the date, the commit and the
machine. Needs the lab up (``stackdrill lab up``). Without the sampler, a drill's expectations
about the APIs fail (no API figure was reported), after its time to recover is measured; such a
run counts, any other failure stops the benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from provenance import ROOT, header, provenance

RESULTS = Path(__file__).resolve().parent / "results"
DRILLS = {
    "libvirtd is killed with SIGKILL and its guests survive":
        "features/compute/test_compute_drills.py::"
        "test_libvirtd_is_killed_with_sigkill_and_its_guests_survive",
    "RabbitMQ stops on the controller":
        "features/control_plane/test_control_plane_drills.py::"
        "test_rabbitmq_stops_on_the_controller",
}
MODES = {"sampler on (every 1 s)": [], "sampler off": ["--api-sample-interval", "0"]}


def run_once(node: str, extra: list[str], history: Path, reports: Path) -> dict[str, Any]:
    command = [str(ROOT / ".venv/bin/stackdrill"), "run", "--lab", "--history", str(history),
               "--reports", str(reports), node, "--", "-p", "no:randomly", *extra]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    records = ([json.loads(line) for line in history.read_text().splitlines() if line.strip()]
               if history.exists() else [])
    record = records[-1] if records else {}
    # without the sampler, the drill's API expectations fail by design (no API figure), after
    # the verified state is back: the time to recover is measured before them
    if record.get("time_to_recover") is None or (
            done.returncode != 0 and "no API sampler ran" not in record.get("reason", "")):
        tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
        raise SystemExit(f"{node} failed (exit {done.returncode}): {' | '.join(tail)}")
    return {"result": record["result"], "time_to_recover": record["time_to_recover"]}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", action="store_true", required=True)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--note", default="")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    runs: dict[str, dict[str, list[float]]] = {d: {m: [] for m in MODES} for d in DRILLS}
    with tempfile.TemporaryDirectory(prefix="sampler-effect-") as tmp:
        for index in range(args.repeat):
            for number, (drill, node) in enumerate(DRILLS.items()):
                for way, (mode, extra) in enumerate(MODES.items()):
                    where = Path(tmp) / f"run{index}-drill{number}-mode{way}"
                    where.mkdir()
                    outcome = run_once(node, extra, where / "history.jsonl", where / "reports")
                    runs[drill][mode].append(outcome["time_to_recover"])
    results = {**provenance(), "note": args.note, "load_average_1min_at_start": load,
               "repeat": args.repeat, "runs": runs,
               "median": {d: {m: statistics.median(v) for m, v in modes.items()}
                          for d, modes in runs.items()}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sampler_effect.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "sampler_effect.md").write_text(markdown(results), encoding="utf-8")
    print(markdown(results))
    return 0


def markdown(results: dict[str, Any]) -> str:
    lines = [*header(results, "The API sampler's effect on the time to recover", {}),
             f"Load average (1 min) when it started: {results['load_average_1min_at_start']:.2f}"
             f" on 2 CPUs. Each drill ran {results['repeat']} times each way, alternating. "
             "Without the sampler a drill's API expectations fail, as they must with no API "
             "figure; its time to recover is measured before them.", "",
             "| drill | " + " | ".join(f"time to recover, {m}" for m in MODES) + " |",
             "|---|" + "---|" * len(MODES)]
    for drill, modes in results["runs"].items():
        cells = [f"median {statistics.median(v):.1f} s ({', '.join(f'{x:.1f}' for x in v)})"
                 for v in modes.values()]
        lines.append(f"| {drill} | " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", "Reproduce: `.venv/bin/python benchmarks/sampler_effect.py "
                      "--lab`", ""])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
