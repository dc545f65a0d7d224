"""benchmarks/snapshot_parts.py without a lab: the runs' summary, the rows a drill's hosts and
probes give, the table and the sentence naming the part that bounds the full snapshot (worked
out from the medians), and bad input refused with one line and exit 2."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar, cast

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import snapshot_parts as bench

from stackdrill.api._probe import CloudContext, CloudProbe, Probe
from stackdrill.hosts.target import Targets
from tests.unit.test_benchmark_fairness import PROVENANCE


def row(part: str, kind: str, median: float, errors: list[str] | None = None) -> dict[str, Any]:
    return {"part": part, "kind": kind, **bench.summary([median, median - 0.5, median + 0.5]),
            "errors": errors or []}


def rows(hosts: float, cloud: float) -> list[dict[str, Any]]:
    return [row("full snapshot, boundary", "full", 4.0),
            row("full snapshot between boundaries (re-poll)", "repoll", 3.0),
            row("host probes only", "hosts", hosts),
            row("cloud probes only, boundary", "cloud", cloud),
            row("host probe `systemd_units` (5 hosts)", "host_probe", 1.5),
            row("cloud probe `cloud_api`, boundary", "cloud_probe", 2.0)]


def results(**changes: Any) -> dict[str, Any]:
    return {**PROVENANCE, "note": "lab idle", "versions": {"openstacksdk": "4.1.0"}, "runs": 3,
            "inventory": "/var/lib/stackdrill-lab/inventory.yaml",
            "hosts": ["compute1", "controller"],
            "host_probes": {"systemd_units": ["compute1", "controller"]},
            "cloud_probes": ["cloud_api"], "warmup_errors": {}, "rows": rows(1.2, 3.5),
            **changes}


def test_summary_gives_median_min_and_max_of_the_runs() -> None:
    assert bench.summary([3.0, 1.0, 2.0]) == {"times": [3.0, 1.0, 2.0], "median": 2.0,
                                              "min": 1.0, "max": 3.0}
    assert bench.summary([1.0, 4.0, 2.0, 3.0])["median"] == 2.5
    assert bench.summary([0.123456])["times"] == [0.1235]


def test_the_slower_side_bounds_the_full_snapshot() -> None:
    assert bench.bounded_by(rows(1.2, 3.5)) == (
        "The full snapshot (4.00 s) is bounded by the cloud probes: alone, the host probes "
        "1.20 s and the cloud probes 3.50 s (medians). The slowest single probe is cloud "
        "probe `cloud_api`, boundary: 2.00 s, 50% of the full snapshot.")
    hosts = bench.bounded_by(rows(3.9, 0.8))
    assert "is bounded by the host probes: alone, the host probes 3.90 s and" in hosts


def test_the_slowest_single_probe_is_found_among_host_and_cloud_probes() -> None:
    found = [*rows(1.0, 1.0), row("host probe `swift_disks` (2 hosts)", "host_probe", 2.6)]
    assert "The slowest single probe is host probe `swift_disks` (2 hosts): 2.60 s, 65%" in (
        bench.bounded_by(found))
    alone = [r for r in rows(1.0, 2.0) if r["kind"] in ("hosts", "cloud")]
    assert bench.bounded_by(alone) == ("The full snapshot is bounded by the cloud probes: "
                                       "alone, the host probes 1.00 s and the cloud probes "
                                       "2.00 s (medians).")
    assert "Neither" in bench.bounded_by([])


def test_table_has_provenance_every_row_and_the_sentence() -> None:
    text = bench.markdown(results())
    assert text.startswith(f"# {bench.TITLE}\n")
    assert "- commit: 204d773b8a73\n" in text and "- note: lab idle" in text
    assert "openstacksdk 4.1.0" in text
    assert "2 hosts, 1 host probes and 1 cloud probes. Each part 3 times" in text
    assert "| part | median | min | max |" in text
    assert "| full snapshot between boundaries (re-poll) | 3.00 s | 2.50 s | 3.50 s |" in text
    assert "| host probe `systemd_units` (5 hosts) | 1.50 s | 1.00 s | 2.00 s |" in text
    assert bench.bounded_by(results()["rows"]) in text
    assert "Errors recorded" not in text and "apply to no host" not in text


def test_errors_and_unapplied_probes_are_said_under_the_table() -> None:
    failed = rows(1.0, 2.0)
    failed[2]["errors"] = ["host:compute1/ssh"]
    text = bench.markdown(results(rows=failed, warmup_errors={"cloud/probe:nova_db": "x"},
                                  host_probes={"systemd_units": ["a"], "swift_disks": []}))
    assert ("Errors recorded (those times are not fair): warm-up: cloud/probe:nova_db; "
            "host probes only: host:compute1/ssh.") in text
    assert "Host probes that apply to no host (not measured): swift_disks." in text


class Units(Probe):
    name = "units"
    description = "every host"


class Disks(Probe):
    name = "disks"
    description = "storage hosts"
    roles: ClassVar[tuple[str, ...]] = ("storage",)


class Gpus(Probe):
    name = "gpus"
    description = "no lab host"
    roles: ClassVar[tuple[str, ...]] = ("gpu",)


class Api(CloudProbe):
    name = "api"
    description = "the cloud"

    def observe_cloud(self, context: CloudContext) -> dict[str, Any]:
        return {}


def test_parts_focus_on_each_side_and_each_probe_where_it_applies() -> None:
    hosts = [SimpleNamespace(name=name, spec=SimpleNamespace(roles=[role]))
             for name, role in (("compute1", "compute"), ("storage1", "storage"))]
    lab = bench.Lab(cast(Targets, hosts), [Units(), Disks(), Gpus(), Api()],
                    cast(CloudContext, None))
    found = {part.label: part for part in bench.parts(lab)}
    assert found["full snapshot, boundary"].focus is None
    assert not found["full snapshot between boundaries (re-poll)"].boundary
    focus = {label: sorted(part.focus or ()) for label, part in found.items()}
    assert focus["host probes only"] == ["host:compute1/ssh", "host:storage1/ssh"]
    assert focus["cloud probes only, boundary"] == ["cloud/probe:api"]
    assert focus["host probe `units` (2 hosts)"] == ["host:compute1/probe:units",
                                                      "host:storage1/probe:units"]
    assert focus["host probe `disks` (1 host)"] == ["host:storage1/probe:disks"]
    assert focus["cloud probe `api`, boundary"] == ["cloud/probe:api"]
    assert not any("gpus" in label for label in found)
    assert bench.applies(lab)["gpus"] == []


@pytest.mark.parametrize(("argv", "said"), [
    (["--runs", "0"], "--runs must be at least 1, got 0"),
    (["--runs", "many"], "argument --runs: invalid int value: 'many'"),
    (["--inventory", "/nonexistent/inventory.yaml"], "no inventory at /nonexistent/"),
])
def test_bad_input_is_one_line_and_exit_2(argv: list[str], said: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("snapshot_parts: ") and said in err
    assert err.count("\n") == 1 and "Traceback" not in err
