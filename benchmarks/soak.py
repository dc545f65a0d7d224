"""Soak: the non-long drill suite run N times in a row on the lab, and what each drill left.

Each pass is a ``stackdrill run --lab`` of its own; after each drill the lab is read again.

    benchmarks/soak --lab [--passes 3] [-m "not long"] [--dir DIR] [--note TEXT]
    benchmarks/soak --render

Before the first pass it reads the lab (the baseline: every host's iptables rules, mounts,
systemd units, stackdrill's runtime drop-ins and the processes faults start; the drill host's
own rules on the lab's bridge; the journal entries pending, in the mirror on the controller).
Each pass runs the drills the marker expression selects (``stackdrill run`` leaves ``@wip`` out)
with its own reports, drill history and journal under the soak directory
(``reports/soak-<time>/pass-<n>/``), and with ``soak_plugin``, which reads the lab again after
each drill and writes down every difference from the baseline. Writes the soak directory's
``soak.json`` after each pass and, at the end, benchmarks/results/soak.json and .md, with the
date, the commit and the machine: per pass and per drill the result, the time to recover (from
the history) and the leaks; the failure rate and the leak count. ``--render`` writes the .md
again from the committed .json.

Needs the lab up (``stackdrill lab up``) and root (the drill host's iptables). A pass refused
(exit 2) or interrupted (Ctrl-C: the run undoes its faults first, as always) ends the soak, and
its result stays in the soak directory only: benchmarks/results holds soaks whose every pass
ran. Exit 0 when the soak was clean, 1 when not, 2 on bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from provenance import ROOT, header, provenance
from soak_result import markdown, pass_record, read_lines, summary
from soak_state import (
    ENVIRONMENT,
    Leak,
    SoakError,
    baseline_leftovers,
    one_line,
    read_local,
    read_state,
)

from stackdrill.core.errors import StackdrillError

BENCHMARKS = Path(__file__).resolve().parent
RESULTS = BENCHMARKS / "results"
TITLE = "Soak: the drill suite run again and again on the lab"
DEFAULT_MARKERS = "not long"
STOPPING_EXITS = frozenset({2, 130})
"""A pass that exits so ends the soak: the next would be refused too, or the operator asked."""


class _Parser(argparse.ArgumentParser):
    """Argument errors are one line, raised as :class:`SoakError`."""

    def error(self, message: str) -> NoReturn:
        raise SoakError(f"{message} (see benchmarks/soak --help)")


def _passes(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {number}")
    return number


def _markers(text: str) -> str:
    """A pytest marker expression, refused here when pytest could not read it."""
    from _pytest.mark.expression import Expression

    if not text.strip():
        raise argparse.ArgumentTypeError("expected a marker expression, got an empty one")
    try:
        Expression.compile(text)
    except Exception as exc:  # pytest's ParseError (SyntaxError since pytest 8.4)
        detail = " ".join(str(exc).split())
        raise argparse.ArgumentTypeError(f"not a marker expression: {text!r}: {detail}"
                                         ) from None
    return text


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(prog="benchmarks/soak", description=__doc__.splitlines()[0])
    parser.add_argument("--lab", action="store_true",
                        help="soak the embedded lab (the only cloud the soak runs on)")
    parser.add_argument("--passes", type=_passes, default=3,
                        help="how many times the suite runs (default 3)")
    parser.add_argument("-m", "--tags", type=_markers, default=DEFAULT_MARKERS,
                        help=f"marker expression of the drills (default {DEFAULT_MARKERS!r}; "
                             f"@wip drills stay out unless it names wip)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="soak directory (default reports/soak-<UTC time>/)")
    parser.add_argument("--note", default="", help="a note kept in the result file")
    parser.add_argument("--render", action="store_true",
                        help="write benchmarks/results/soak.md again from soak.json; no lab")
    args = parser.parse_args(argv)
    if not args.lab and not args.render:
        parser.error("--lab is required: the soak runs the drills on the embedded lab")
    return args


def selected(tags: str) -> str:
    """The expression ``stackdrill run`` selects with (``@wip`` left out unless named)."""
    from stackdrill.cli import without_wip

    return without_wip(tags)


def soak_directory(given: Path | None) -> Path:
    """A new, empty soak directory."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    directory = (given or ROOT / "reports" / f"soak-{stamp}").absolute()  # the runs' cwd: ROOT
    if directory.exists() and any(directory.iterdir()):
        raise SoakError(f"--dir: {directory} is not empty")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SoakError(f"--dir: {directory}: {exc.strerror}") from None
    return directory


def run_command(tags: str, where: Path) -> list[str]:
    """One pass: ``stackdrill run --lab`` with its own reports, history and journal, and the
    soak's plugin."""
    return [sys.executable, "-m", "stackdrill.cli", "run", "--lab", "--tags", tags,
            "--reports", str(where / "reports"), "--history", str(where / "history.jsonl"),
            "--journal", str(where / "journal.jsonl"), "--",
            "-p", "soak_plugin", "-p", "no:randomly"]


def run_environment(base: dict[str, str], where: Path, baseline: Path,
                    inventory: Path) -> dict[str, str]:
    """The pass's environment: ``benchmarks/`` importable, and the plugin's inputs."""
    path = os.pathsep.join(part for part in (str(BENCHMARKS), base.get("PYTHONPATH")) if part)
    return {**base, "PYTHONPATH": path, ENVIRONMENT["baseline"]: str(baseline),
            ENVIRONMENT["leaks"]: str(where / "leaks.jsonl"),
            ENVIRONMENT["inventory"]: str(inventory),
            ENVIRONMENT["journal"]: str(where / "journal.jsonl")}


def _wait(process: subprocess.Popen[bytes]) -> tuple[int, bool]:
    """The run's exit status, waiting through Ctrl-C (the run got it too, and undoes its
    faults before it exits); whether it was interrupted."""
    interrupted = False
    while True:
        try:
            return process.wait(), interrupted
        except KeyboardInterrupt:
            if not interrupted:
                print("soak: interrupted: waiting for the run to undo its faults",
                      file=sys.stderr)
            interrupted = True


def run_pass(number: int, command: list[str], environment: dict[str, str],
             where: Path, previous: set[Leak]) -> tuple[dict[str, Any], set[Leak]]:
    started = time.monotonic()
    with (where / "output.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        code, interrupted = _wait(process)
    return pass_record(number, 130 if interrupted else code, time.monotonic() - started,
                       read_lines(where / "history.jsonl"), read_lines(where / "leaks.jsonl"),
                       previous)


def take_baseline(directory: Path, inventory_path: Path) -> dict[str, Any]:
    """The lab's state before the first pass, written to ``baseline.json``; a host (or the
    journal's mirror) that cannot be read refuses the soak."""
    from stackdrill.engine.recover import journal_for
    from stackdrill.hosts.target import Targets
    from stackdrill.inventory.loader import load_inventory
    from stackdrill.lab.topology import BRIDGE, SUBNET_PREFIX

    targets = Targets(load_inventory(inventory_path))
    try:
        journal = journal_for(targets.inventory, directory / "baseline-journal.jsonl", targets,
                              None)
        state = read_state(targets, journal, files={},
                           local=lambda: read_local(BRIDGE, f"{SUBNET_PREFIX}."))
    finally:
        targets.close()
    if state["errors"]:
        raise SoakError(f"cannot read the baseline: {state['errors'][0]}")
    state["taken"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    (directory / "baseline.json").write_text(json.dumps(state, indent=1) + "\n",
                                             encoding="utf-8")
    return state


def _progress(record: dict[str, Any], asked: int) -> str:
    drills = [d for d in record["drills"] if d["result"] != "skipped"]
    failed = sum(1 for d in drills if d["result"] != "passed")
    leaks = sum(len(d["leaks"]) for d in record["drills"])
    return (f"soak: pass {record['pass']}/{asked}: exit {record['exit']}, {len(drills)} drills, "
            f"{failed} failed, {leaks} new leaks, {record['seconds'] / 60:.1f} min")


def soak(args: argparse.Namespace) -> dict[str, Any]:
    from stackdrill.lab.topology import LabPaths

    inventory = LabPaths.default().inventory
    if not inventory.is_file():
        raise SoakError(f"the lab is not up (no inventory at {inventory}): stackdrill lab up")
    directory = soak_directory(args.dir)
    load = os.getloadavg()[0]
    baseline = take_baseline(directory, inventory)
    leftovers = baseline_leftovers(baseline)
    for leak in leftovers:
        print(f"soak: already in the baseline: {leak.host} {leak.kind} {leak.what}",
              file=sys.stderr)
    results: dict[str, Any] = {
        **provenance(), "note": args.note, "load_average_1min_at_start": load,
        "lab": {"inventory": str(inventory), "hosts": sorted(baseline["hosts"])},
        "marker": args.tags, "selected": selected(args.tags), "directory": str(directory),
        "baseline": {"taken": baseline["taken"],
                     "leftovers": [leak.as_json() for leak in leftovers]},
        "passes": []}
    previous: set[Leak] = set()
    for number in range(1, args.passes + 1):
        where = directory / f"pass-{number}"
        where.mkdir()
        print(f"soak: pass {number}/{args.passes}: {where / 'output.log'}")
        record, previous = run_pass(
            number, run_command(args.tags, where),
            run_environment(dict(os.environ), where, directory / "baseline.json", inventory),
            where, previous)
        results["passes"].append(record)
        results["summary"] = summary(results["passes"], args.passes)
        (directory / "soak.json").write_text(json.dumps(results, indent=2) + "\n")
        print(_progress(record, args.passes))
        if record["exit"] in STOPPING_EXITS:
            print(f"soak: pass {number} exited {record['exit']}: the soak stops "
                  f"({where / 'output.log'})", file=sys.stderr)
            break
    return results


def render(results: dict[str, Any]) -> str:
    return markdown(results, header(results, TITLE, {}))


def write_results(results: dict[str, Any]) -> str:
    text = render(results)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "soak.md").write_text(text, encoding="utf-8")
    return text


def rerender() -> None:
    """benchmarks/results/soak.md written again from soak.json."""
    source = RESULTS / "soak.json"
    if not source.is_file():
        raise SoakError(f"--render: no result file at {source} (no soak has run)")
    results = json.loads(source.read_text(encoding="utf-8"))
    (RESULTS / "soak.md").write_text(render(results), encoding="utf-8")


def main(argv: list[str]) -> int:
    try:
        args = parse_args(argv)
        if args.render:
            rerender()
            return 0
        results = soak(args)
    except (StackdrillError, OSError) as exc:
        print(f"soak: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("soak: interrupted", file=sys.stderr)
        return 130
    if results["summary"]["passes_run"] < args.passes:  # stopped: not a soak to quote
        print(render(results))
        print(f"soak: stopped after {results['summary']['passes_run']} of {args.passes} "
              f"passes; the result stays in {results['directory']}/soak.json", file=sys.stderr)
        return 1
    print(write_results(results))
    return 0 if results["summary"]["clean"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
