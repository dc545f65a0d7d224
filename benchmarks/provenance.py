"""When and where a benchmark ran: the date, the commit (and whether the tree had changes beyond
it) and the machine, for the result files' JSON and their Markdown header."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def _memory_bytes() -> int:
    try:
        lines = Path("/proc/meminfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def provenance() -> dict[str, Any]:
    return {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "commit": _git("rev-parse", "HEAD"),
            "uncommitted_changes": bool(_git("status", "--porcelain", "--untracked-files=no")),
            "machine": {"cpus": os.cpu_count(), "memory_bytes": _memory_bytes(),
                        "processor": platform.processor() or platform.machine(),
                        "kernel": platform.release(), "python": platform.python_version()}}


def header(results: dict[str, Any], title: str, versions: dict[str, str]) -> list[str]:
    """The Markdown lines that open a result file: title, date, commit, machine, versions and
    the run's note, if any."""
    machine = results["machine"]
    commit = (results.get("commit") or "unknown")[:12]
    if results.get("uncommitted_changes"):
        commit += " (with uncommitted changes)"
    memory = f"{machine['memory_bytes'] / 2**30:.1f} GiB memory"
    tools = "".join(f", {name} {version}" for name, version in versions.items())
    return [f"# {title}", "",
            f"- date: {results['date']}",
            f"- commit: {commit}",
            f"- machine: {machine['cpus']} CPUs (nproc), {memory}, {machine['processor']}, "
            f"Linux {machine['kernel']}, Python {machine['python']}{tools}",
            *([f"- note: {results['note']}"] if results.get("note") else []), ""]


RESULTS = ROOT / "benchmarks" / "results"


def write_result(stem: str, results: dict[str, Any], text: str) -> None:
    """Keep a run's result as ``benchmarks/results/<stem>.json`` and ``.md``, and print the
    Markdown."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(text, encoding="utf-8")
    print(text)
