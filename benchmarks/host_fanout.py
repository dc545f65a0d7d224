"""Host-snapshot fan-out: the same four checks on 10, 50 and 200 scale-lab hosts, three ways.

1. stackdrill's batched snapshot (one command per host, pooled connections; cold = first
   snapshot, connections included; warm = the median of the following ones);
2. ``ansible all -m shell`` ad hoc with forks 5 and 50 (host keys checked, pipelining and
   ControlPersist on, as operators run it; cold = first run, warm = second);
3. a sequential paramiko loop, one connection and one command per check, as older tools do.

Writes benchmarks/results/host_fanout.json and .md.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import paramiko
import scale_lab

from stackdrill.hosts.target import Target, Targets
from stackdrill.inventory import load_inventory
from stackdrill.probe import Probe, ProbeOutput, SnapshotSettings, take_snapshot

RESULTS = Path(__file__).resolve().parent / "results"
CHECKS = {
    "uptime": "cat /proc/uptime",
    "boot_id": "cat /proc/sys/kernel/random/boot_id",
    "stat": "stat -c '%s %Y' /etc/hostname",
    "processes": "ps -e -o pid=,comm=",
}
WARM_RUNS = 5


class _Check(Probe):
    check: str = ""

    def command(self, target: Target) -> str:
        return CHECKS[self.check]

    def parse(self, target: Target, output: ProbeOutput) -> dict[str, Any]:
        return {self.check: output.require_ok().strip()}


def _probe(check: str) -> type[Probe]:
    return type(f"Bench_{check}", (_Check,), {"name": check, "description": check,
                                               "check": check})


PROBES = [_probe(check)() for check in CHECKS]


def _busy() -> tuple[float, float]:
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def stackdrill_runs(workers: int) -> dict[str, Any]:
    targets = Targets(load_inventory(scale_lab.WORK / "inventory.yaml"))
    settings = SnapshotSettings(workers=workers, host_timeout=30)
    count = len(list(targets))
    try:
        clock = time.monotonic()
        snap = take_snapshot(targets, PROBES, settings=settings)
        cold = time.monotonic() - clock
        _require(not snap.errors and len(snap.values) == 4 * count,
                 f"cold snapshot incomplete: {len(snap.values)} values, errors "
                 f"{list(snap.errors.items())[:2]}")
        warm = []
        cpu_before, busy_before = time.process_time(), _busy()
        for _ in range(WARM_RUNS):
            clock = time.monotonic()
            snap = take_snapshot(targets, PROBES, settings=settings)
            warm.append(time.monotonic() - clock)
            _require(not snap.errors and len(snap.values) == 4 * count, "warm snapshot incomplete")
        busy_after = _busy()
        machine = (busy_after[0] - busy_before[0]) / max(1.0, busy_after[1] - busy_before[1])
        return {"cold": cold, "warm": statistics.median(warm), "warm_runs": warm,
                "client_cpu_per_snapshot": (time.process_time() - cpu_before) / WARM_RUNS,
                "machine_cpu_busy": machine}
    finally:
        targets.close()


def ansible_runs(forks: int, count: int) -> dict[str, Any]:
    work = scale_lab.WORK
    env = {**os.environ,
           "ANSIBLE_HOST_KEY_CHECKING": "True",
           "ANSIBLE_SSH_ARGS": f"-o UserKnownHostsFile={work}/known_hosts "
                               "-o StrictHostKeyChecking=yes -o ControlMaster=auto "
                               "-o ControlPersist=120s",
           "ANSIBLE_PRIVATE_KEY_FILE": str(work / "id_ed25519"),
           "ANSIBLE_REMOTE_USER": "root", "ANSIBLE_PIPELINING": "True",
           "ANSIBLE_SSH_CONTROL_PATH_DIR": str(work / f"cp{forks}"),
           "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
           "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "0"}
    ansible = str(Path(sys.executable).parent / "ansible")
    _require(Path(ansible).exists(), "ansible is not installed: uv sync --extra bench")
    command = [ansible, "all", "-i", str(work / "hosts.ini"), "-m", "shell", "-a",
               "; ".join(CHECKS.values()), "-f", str(forks), "-o"]
    times = []
    for _ in range(2):
        clock = time.monotonic()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        times.append(time.monotonic() - clock)
        ok = sum(1 for line in done.stdout.splitlines() if "| CHANGED |" in line)
        _require(done.returncode == 0 and ok == count,
                 f"ansible forks={forks}: rc {done.returncode}, {ok}/{count} hosts; "
                 f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    return {"cold": times[0], "warm": times[1]}


def paramiko_sequential(count: int) -> dict[str, Any]:
    work = scale_lab.WORK
    clock = time.monotonic()
    for index in range(count):
        client = paramiko.SSHClient()
        client.load_host_keys(str(work / "known_hosts"))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(scale_lab.address(index), username="root",
                       key_filename=str(work / "id_ed25519"), allow_agent=False,
                       look_for_keys=False, timeout=10)
        try:
            for check in CHECKS.values():
                _, stdout, _ = client.exec_command(check, timeout=30)
                stdout.read()
                _require(stdout.channel.recv_exit_status() == 0, f"{check} failed")
        finally:
            client.close()
    return {"cold": time.monotonic() - clock}


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise RuntimeError(message)


def run(counts: list[int], workers: int) -> dict[str, Any]:
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version(), "paramiko": paramiko.__version__},
        "workers": workers, "checks": CHECKS, "runs": {}}
    try:
        for count in counts:
            print(f"scale lab: {count} hosts", flush=True)
            scale_lab.up(count)
            row: dict[str, Any] = {"stackdrill": stackdrill_runs(workers)}
            print(f"  stackdrill {row['stackdrill']['cold']:.2f}s cold, "
                  f"{row['stackdrill']['warm']:.2f}s warm", flush=True)
            for forks in (5, 50):
                row[f"ansible_forks{forks}"] = ansible_runs(forks, count)
                print(f"  ansible forks={forks} {row[f'ansible_forks{forks}']}", flush=True)
            row["paramiko_sequential"] = paramiko_sequential(count)
            print(f"  paramiko sequential {row['paramiko_sequential']}", flush=True)
            results["runs"][str(count)] = row
    finally:
        scale_lab.down()
    return results


def table(results: dict[str, Any]) -> str:
    lines = ["| hosts | stackdrill warm | stackdrill cold | ansible f5 warm | ansible f50 warm "
             "| ansible f50 cold | paramiko sequential | ansible f50 / stackdrill (warm) |",
             "|---|---|---|---|---|---|---|---|"]
    for count, row in results["runs"].items():
        sd, a5, a50 = row["stackdrill"], row["ansible_forks5"], row["ansible_forks50"]
        lines.append(f"| {count} | {sd['warm']:.2f} s | {sd['cold']:.2f} s | {a5['warm']:.1f} s "
                     f"| {a50['warm']:.1f} s | {a50['cold']:.1f} s "
                     f"| {row['paramiko_sequential']['cold']:.1f} s "
                     f"| {a50['warm'] / sd['warm']:.0f}x |")
    cpu = [f"{count} hosts: client CPU {row['stackdrill']['client_cpu_per_snapshot']:.2f} s per "
           f"warm snapshot, machine {100 * row['stackdrill']['machine_cpu_busy']:.0f}% busy"
           for count, row in results["runs"].items()]
    machine = results["machine"]
    return "\n".join([
        f"Host-snapshot fan-out, {machine['cpus']} CPUs, Python {machine['python']}, "
        f"{results['workers']} workers.", "", *lines, "", *(f"- {line}" for line in cpu), ""])


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="10,50,200", help="comma-separated host counts")
    parser.add_argument("--workers", type=int, default=32, help="snapshot workers")
    parser.add_argument("--down", action="store_true", help="only remove a crashed scale lab")
    args = parser.parse_args(argv)
    if args.down:
        scale_lab.down()
        return 0
    try:
        counts = [int(c) for c in args.hosts.split(",")]
    except ValueError:
        print(f"host_fanout: --hosts must be comma-separated numbers, got {args.hosts!r}",
              file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("host_fanout: the scale lab needs root (network namespaces)", file=sys.stderr)
        return 2
    try:
        results = run(counts, args.workers)
    except (scale_lab.LabError, RuntimeError) as exc:
        print(f"host_fanout: {exc}", file=sys.stderr)
        return 1
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "host_fanout.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "host_fanout.md").write_text(table(results))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
