"""Snapshot parts: what one snapshot of a drill costs on the main lab, and which part bounds it.

The snapshot is the one a drill takes (``Drill._take``): the same hosts (the inventory's, over
one SSH pool), the same probes (every probe the ``stackdrill.plugins`` entry points register,
as a drill on the lab has them), the same cloud context (the inventory's cloud from the
clouds.yaml beside the inventory, the lab's, and the drill's memory of its long lists) and the
default snapshot settings. One snapshot is taken first and discarded (SSH connections opened,
tokens fetched); then each part is taken ``--runs`` times in a row, and its median, minimum and
maximum are reported. The rows:

- *full snapshot, boundary*: every host probe and every cloud probe, the cloud's long lists
  listed in full, as at the verified state and the final verification;
- *full snapshot between boundaries*: the same with ``boundary=False``, the cloud's long lists
  re-polled by what changed since the last full listing: what each attempt of a drill's waits
  takes;
- *host probes only*: every host probe on every host (one batched command per host), no cloud
  probe;
- *cloud probes only, boundary*: every cloud probe, no host;
- *host probe X (N hosts)*: that probe alone, on the N hosts it applies to;
- *cloud probe X, boundary*: that cloud probe alone.

The hosts and the cloud probes run alongside each other in a snapshot, so the full snapshot
takes about the longer of the two: the sentence under the table names it, and the slowest
single probe, from the medians. Errors a snapshot recorded (a host that did not answer, a probe
that failed) are listed under the table: a part that failed is not a fair time.

    uv run --frozen --extra bench python benchmarks/snapshot_parts.py [--runs 5] [--note TEXT]
    .venv/bin/python benchmarks/snapshot_parts.py --inventory FILE

as root, with the lab up (``stackdrill lab up``); ``--inventory`` defaults to the lab's.
Writes benchmarks/results/snapshot_parts.json and .md.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from provenance import header, provenance, write_result

from stackdrill.api._probe import CloudContext, CloudProbe, Probe, cloud_path, host_path
from stackdrill.api._registry import load_registries
from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.listings import Listings
from stackdrill.core.errors import BadInput, StackdrillError
from stackdrill.core.state import host_wide_source
from stackdrill.engine.snapshot import SnapshotSettings, take_snapshot
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.lab.topology import LabPaths

TITLE = "Snapshot parts: what one snapshot of a drill costs, and which part bounds it"
RUNS = 5
SETTINGS = SnapshotSettings()  # a drill's (Drill.snapshot_settings)


@dataclass(frozen=True)
class Part:
    """One row: the snapshot's ``focus`` (None: everything) and whether it is a boundary."""

    label: str
    kind: str  # full, repoll, hosts, cloud, host_probe, cloud_probe
    focus: frozenset[str] | None
    boundary: bool = True


@dataclass
class Lab:
    """What a drill snapshots: its hosts, its probes and its cloud context."""

    targets: Targets
    probes: list[Probe | CloudProbe]
    cloud: CloudContext


def open_lab(inventory_path: Path) -> Lab:
    """The hosts, probes and cloud context a drill on this inventory uses."""
    registries = load_registries()
    inventory = load_inventory(inventory_path)
    if not inventory.cloud:
        raise BadInput(f"{inventory_path} names no cloud: a drill's snapshot needs one")
    targets = Targets(inventory, power_drivers=registries.power_drivers)
    clouds = inventory_path.parent / "clouds.yaml"
    access = CloudAccess(inventory.cloud, config_files=[str(clouds)] if clouds.is_file()
                         else None)
    access.connection()
    probes = [registries.probes.get(name)() for name in registries.probes]
    return Lab(targets, probes, CloudContext(access, targets, Listings()))


def applies(lab: Lab) -> dict[str, list[str]]:
    """Each host probe and the hosts it applies to."""
    return {p.name: [t.name for t in lab.targets if p.applies_to(t)]
            for p in lab.probes if isinstance(p, Probe)}


def parts(lab: Lab) -> list[Part]:
    """The rows, in the order they are taken."""
    cloud = [p.name for p in lab.probes if isinstance(p, CloudProbe)]
    hosts = frozenset(host_wide_source(t.name) for t in lab.targets)
    rows = [Part("full snapshot, boundary", "full", None),
            Part("full snapshot between boundaries (re-poll)", "repoll", None, boundary=False),
            Part("host probes only", "hosts", hosts),
            Part("cloud probes only, boundary", "cloud",
                 frozenset(cloud_path(f"probe:{name}") for name in cloud))]
    rows += [Part(f"host probe `{name}` ({len(on)} host{'s' * (len(on) > 1)})", "host_probe",
                  frozenset(host_path(host, f"probe:{name}") for host in on))
             for name, on in applies(lab).items() if on]
    rows += [Part(f"cloud probe `{name}`, boundary", "cloud_probe",
                  frozenset({cloud_path(f"probe:{name}")})) for name in cloud]
    return rows


def summary(times: Sequence[float]) -> dict[str, Any]:
    """The runs' times (seconds) with their median, minimum and maximum."""
    return {"times": [round(t, 4) for t in times], "median": statistics.median(times),
            "min": min(times), "max": max(times)}


def _snapshot(lab: Lab, part: Part) -> tuple[float, dict[str, str]]:
    clock = time.monotonic()
    snap = take_snapshot(lab.targets, lab.probes, None, lab.cloud, SETTINGS, part.focus,
                         part.boundary)
    return time.monotonic() - clock, dict(snap.errors)


def measure(lab: Lab, part: Part, runs: int) -> dict[str, Any]:
    """One row: ``runs`` snapshots of the part, and the sources of any errors they recorded."""
    taken = [_snapshot(lab, part) for _ in range(runs)]
    errors = sorted({source for _, found in taken for source in found})
    return {"part": part.label, "kind": part.kind, **summary([t for t, _ in taken]),
            "errors": errors}


def run(lab: Lab, runs: int) -> dict[str, Any]:
    """The warm-up snapshot, then every part ``runs`` times."""
    _, warmup = _snapshot(lab, Part("warm-up", "full", None))
    return {"runs": runs, "hosts": [t.name for t in lab.targets], "host_probes": applies(lab),
            "cloud_probes": [p.name for p in lab.probes if isinstance(p, CloudProbe)],
            "warmup_errors": warmup, "rows": [measure(lab, p, runs) for p in parts(lab)]}


def _one(rows: Sequence[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((row for row in rows if row["kind"] == kind), None)


SIDES = {"hosts": "the host probes", "cloud": "the cloud probes"}


def bounded_by(rows: Sequence[dict[str, Any]]) -> str:
    """Which part bounds the full snapshot: the slower of the host probes alone and the cloud
    probes alone, and the slowest single probe, by their medians."""
    medians = {kind: row["median"] for kind in SIDES if (row := _one(rows, kind)) is not None}
    if not medians:
        return "Neither the host probes nor the cloud probes were measured alone."
    bound = max(medians, key=lambda kind: float(medians[kind]))
    full = _one(rows, "full")
    whole = f" ({full['median']:.2f} s)" if full else ""
    alone = " and ".join(f"{SIDES[kind]} {median:.2f} s" for kind, median in medians.items())
    text = f"The full snapshot{whole} is bounded by {SIDES[bound]}: alone, {alone} (medians)."
    singles = [row for row in rows if row["kind"] in ("host_probe", "cloud_probe")]
    if singles:
        slowest = max(singles, key=lambda row: float(row["median"]))
        share = (f", {slowest['median'] / full['median']:.0%} of the full snapshot"
                 if full and full["median"] > 0 else "")
        text += f" The slowest single probe is {slowest['part']}: {slowest['median']:.2f} s{share}."
    return text


def notes(results: dict[str, Any]) -> list[str]:
    """What makes a time unfair or leaves a probe out: recorded errors, unapplied probes."""
    failed = [f"{row['part']}: {', '.join(row['errors'])}" for row in results["rows"]
              if row["errors"]]
    if results["warmup_errors"]:
        failed.insert(0, f"warm-up: {', '.join(sorted(results['warmup_errors']))}")
    unapplied = [name for name, on in results["host_probes"].items() if not on]
    lines = []
    if failed:
        lines.append(f"Errors recorded (those times are not fair): {'; '.join(failed)}.")
    if unapplied:
        lines.append(f"Host probes that apply to no host (not measured): {', '.join(unapplied)}.")
    return lines


def markdown(results: dict[str, Any]) -> str:
    """The result file: provenance, the table and the sentence saying what bounds it."""
    rows = [f"| {row['part']} | {row['median']:.2f} s | {row['min']:.2f} s "
            f"| {row['max']:.2f} s |" for row in results["rows"]]
    caveats = notes(results)
    return "\n".join([
        *header(results, TITLE, results["versions"]),
        f"{len(results['hosts'])} hosts, {len(results['host_probes'])} host probes and "
        f"{len(results['cloud_probes'])} cloud probes. Each part {results['runs']} times in a "
        "row after one discarded snapshot (SSH connections and tokens warm).", "",
        "| part | median | min | max |", "|---|---|---|---|", *rows, "",
        bounded_by(results["rows"]), *(["", *caveats] if caveats else []), ""])


class _Parser(argparse.ArgumentParser):
    """Argument errors are one line, raised as :class:`BadInput`."""

    def error(self, message: str) -> NoReturn:
        raise BadInput(message)


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", default=str(LabPaths.default().inventory),
                        help="the cloud's stackdrill inventory (default: the lab's)")
    parser.add_argument("--runs", type=int, default=RUNS, help="snapshots per part")
    parser.add_argument("--note", default="", help="one line on the run's conditions, kept "
                        "in the results")
    args = parser.parse_args(argv)
    if args.runs < 1:
        raise BadInput(f"--runs must be at least 1, got {args.runs}")
    if not Path(args.inventory).is_file():
        raise BadInput(f"no inventory at {args.inventory} (is the lab up? stackdrill lab up)")
    return args


def main(argv: list[str]) -> int:
    lab = None
    try:
        args = _arguments(argv)
        lab = open_lab(Path(args.inventory))
        measured = run(lab, args.runs)
    except (StackdrillError, OSError) as exc:
        print(f"snapshot_parts: {(str(exc).splitlines() or [repr(exc)])[0]}", file=sys.stderr)
        return 2
    finally:
        if lab is not None:
            lab.targets.close()
            lab.cloud.access.close()
    versions = {name: importlib.metadata.version(name) for name in ("openstacksdk", "paramiko")}
    results = {**provenance(), "note": args.note, "versions": versions,
               "inventory": args.inventory, **measured}
    write_result("snapshot_parts", results, markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
