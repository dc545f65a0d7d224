"""``cpu_pressure`` and ``memory_pressure``: their parameters refused as they are read, and their
whole life on this machine's own shell, with a stand-in ``stress-ng`` on the PATH (a script
whose workers are a busy loop and a sleep): started in a tagged session of its own, confirmed
from the processes and their CPU time or resident memory, and ended by its tag, sparing a
process of the same kind without the tag."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stackdrill.builtin.faults.cpu_pressure import CpuPressure
from stackdrill.builtin.faults.memory_pressure import MemoryPressure

from stackdrill.core.params import ParamError
from stackdrill.core.waiting import poll
from stackdrill.hostkit import stress
from stackdrill.hosts.ssh import CommandResult

# Stands in for stress-ng: one busy loop per --cpu worker, one sleep for --vm, until killed.
FAKE = """#!/bin/sh
cpu=0; vm=0
while [ $# -gt 0 ]; do case "$1" in --cpu) cpu=$2;; --vm) vm=$2;; esac; shift; done
i=0; while [ $i -lt "$cpu" ]; do sh -c 'while :; do :; done' & i=$((i + 1)); done
[ "$vm" -gt 0 ] && sleep 300 &
wait
"""


class Local:
    """This machine as a target: each command runs in its own shell, with the stand-in first
    on the PATH."""

    def __init__(self, bin_dir: Path | None) -> None:
        self.name = "local"
        path = os.environ["PATH"] if bin_dir is None else f"{bin_dir}:{os.environ['PATH']}"
        self.env = {**os.environ, "PATH": path}
        self.ran: list[str] = []

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True) -> CommandResult:
        self.ran.append(command)
        done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True,
                              env=self.env, timeout=30, check=False)
        if check and done.returncode:
            raise AssertionError(f"{command} exited {done.returncode}: {done.stderr}")
        return CommandResult(self.name, command, done.returncode, done.stdout, done.stderr,
                             0.0, 0.0)


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Local]:
    (tmp_path / "stress-ng").write_text(FAKE)
    (tmp_path / "stress-ng").chmod(0o755)
    local = Local(tmp_path)
    yield local
    for command in local.ran:  # whatever a failed test left running, by its tag
        if command.startswith("setsid -f env STACKDRILL_FAULT="):
            tag = command.split("=", 1)[1].split()[0]
            local.run(stress.end_command(tag, "KILL"))


@pytest.mark.parametrize(("fault", "params", "fragment"), [
    (CpuPressure, {"workers": "0"}, "expected 1 to 64 workers"),
    (CpuPressure, {"workers": "many"}, "invalid literal"),
    (CpuPressure, {"load": "150"}, "at most 100"),
    (CpuPressure, {"load": "0"}, "above 0"),
    (CpuPressure, {"load": "12.5"}, "a whole percentage from 1 to 100"),
    (CpuPressure, {"max_seconds": "5"}, "expected 10 to 86400 seconds"),
    (MemoryPressure, {"percent": "95"}, "above 0 and at most 90"),
    (MemoryPressure, {"percent": "-1"}, "above 0 and at most 90"),
    (MemoryPressure, {}, "percent"),
])
def test_bad_parameters_are_refused_with_one_line(fault: Any, params: dict[str, str],
                                                  fragment: str) -> None:
    with pytest.raises(ParamError) as caught:
        fault.validate(params)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_a_host_without_stress_ng_is_refused_before_injection(tmp_path: Path) -> None:
    host = Local(tmp_path)
    host.env["PATH"] = str(tmp_path)  # no stress-ng, not even the machine's
    with pytest.raises(stress.StressFailed, match="stress-ng is not installed"):
        CpuPressure(host, {}).prepare()  # type: ignore[arg-type]


def _untagged(host: Local, directory: Path) -> int:
    """A process of the same kind, in a session of its own, without the tag."""
    pidfile = directory / "untagged.pid"
    host.run(f"setsid -f sh -c 'echo $$ > {pidfile}; exec sleep 300' </dev/null >/dev/null "
             f"2>&1", check=True)
    found, _ = poll(lambda: pidfile.exists() and pidfile.read_text().strip(), timeout=10,
                    interval=0.05, description="the untagged process started")
    return int(found)


def test_cpu_pressure_is_confirmed_by_its_workers_cpu_time_and_ended_by_its_tag(
        host: Local, tmp_path: Path) -> None:
    fault = CpuPressure(host, {"workers": "1", "load": "100"})  # type: ignore[arg-type]
    facts = fault.prepare()
    assert facts["workers"] == 1 and facts["tag"].startswith("stackdrill-cpu-pressure-")
    other = _untagged(host, tmp_path)
    try:
        fault.inject(facts)
        assert host.ran[-1].startswith(f"setsid -f env STACKDRILL_FAULT={facts['tag']} "
                                       f"stress-ng --cpu 1 --cpu-load 100 --timeout 3600s")
        evidence, _ = poll(lambda: fault.confirm(facts), timeout=20, interval=0.3,
                           description="cpu pressure confirmed")
        assert "stress-ng: 1 worker(s)" in evidence and "CPU-seconds in" in evidence
        fault.undo(facts)
        fault.undo(facts)
        left = stress.parse_observation(host.run(stress.observe_command(facts["tag"])).stdout)
        assert left is not None and left.alive == []
        assert host.run(f"kill -0 {other}").ok, "a process without the tag was ended"
    finally:
        host.run(f"kill {other}")


def test_memory_pressure_is_confirmed_by_resident_memory(host: Local) -> None:
    fault = MemoryPressure(host, {"percent": "20"})  # type: ignore[arg-type]
    facts = fault.prepare()
    assert facts["bytes"] == int(facts["available_before_kb"] * 1024 * 0.2)
    assert facts["bytes"] >= 16 << 20
    small = {**facts, "bytes": 64 << 10}  # the stand-in's sleep holds a little
    fault.inject(small)
    assert "--vm 1 --vm-bytes 65536 --vm-keep --vm-hang 0" in host.ran[-1]
    evidence, _ = poll(lambda: fault.confirm(small), timeout=20, interval=0.3,
                       description="memory pressure confirmed")
    assert "resident (asked 0 MiB, 20 % of MemAvailable)" in evidence
    assert fault.confirm({**small, "bytes": 1 << 40}) is None  # a TiB is not held
    fault.undo(small)
    left = stress.parse_observation(host.run(stress.observe_command(facts["tag"])).stdout)
    assert left is not None and left.alive == []


def test_observations_are_parsed_as_the_host_prints_them() -> None:
    text = ("proc 10 10 S 1000 5 stress-ng\nproc 11 10 R 2000 300 stress-ng-cpu\n"
            "proc 12 10 Z 0 1 stress-ng-cpu\nuptime 100.50\nticks 100\ncpus 4\n"
            "cpu  100 0 50 800 50 0 0 0 30 0\nload 1.00 0.50 0.25 2/300 99\n"
            "available 2048000\n")
    seen = stress.parse_observation(text)
    assert seen is not None
    assert [m.pid for m in seen.workers] == [11]
    assert seen.cpu_seconds() == 3.06 and seen.rss_bytes() == 3000 * 1024
    assert (seen.cpu_busy, seen.cpu_total, seen.cpus) == (150, 1000, 4)
    assert stress.parse_observation("proc 1 1 S 0 0 x\n") is None
