"""Host-snapshot fan-out: the same four checks on 10, 50 and 200 scale-lab hosts, three ways,
each measured cold (no SSH connection open: every handshake included) and warm (the
connections already open from an earlier run):

1. stackdrill's batched snapshot (one command per host, pooled connections; cold = the first
   snapshot; warm = the median of the next five);
2. ``ansible all -m shell`` ad hoc with forks 5 and 50 (host keys checked, pipelining and
   ControlPersist on, as operators run it; cold = the first run, no control master up;
   warm = the second run, through the control masters the first left);
3. a sequential paramiko loop, one command per check, as older tools do (cold = connecting to
   each host in turn; warm = the same commands again over the connections the cold pass kept).

Writes benchmarks/results/host_fanout.json and .md, with the date, the commit and the machine.
"""

from __future__ import annotations

import importlib.metadata
import os
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
from provenance import header, provenance, write_result

from stackdrill.api._probe import Probe, ProbeOutput
from stackdrill.engine.snapshot import SnapshotSettings, take_snapshot
from stackdrill.hosts.target import Target, Targets
from stackdrill.inventory.loader import load_inventory

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
    scale_lab.end_clients(work / f"cp{forks}")  # its control masters: no load on what follows
    return {"cold": times[0], "warm": times[1]}


def _run_checks(client: paramiko.SSHClient) -> None:
    for check in CHECKS.values():
        _, stdout, _ = client.exec_command(check, timeout=30)
        stdout.read()
        _require(stdout.channel.recv_exit_status() == 0, f"{check} failed")


def paramiko_sequential(count: int) -> dict[str, Any]:
    """Cold: connect to each host in turn and run the checks; the connections are kept. Warm:
    the same loop again over the kept connections, no handshake."""
    work = scale_lab.WORK
    clients: list[paramiko.SSHClient] = []
    try:
        clock = time.monotonic()
        for index in range(count):
            client = paramiko.SSHClient()
            clients.append(client)
            client.load_host_keys(str(work / "known_hosts"))
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
            client.connect(scale_lab.address(index), username="root",
                           key_filename=str(work / "id_ed25519"), allow_agent=False,
                           look_for_keys=False, timeout=10)
            _run_checks(client)
        cold = time.monotonic() - clock
        clock = time.monotonic()
        for client in clients:
            _run_checks(client)
        return {"cold": cold, "warm": time.monotonic() - clock}
    finally:
        for client in clients:
            client.close()


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise RuntimeError(message)


def _ansible_version() -> str:
    try:
        return importlib.metadata.version("ansible-core")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def run(counts: list[int], workers: int, note: str = "",
        tools: tuple[str, ...] = ()) -> dict[str, Any]:
    """Each size built, measured with ``tools`` (every one of :data:`TOOLS` by default; the
    stackdrill side always) and torn down."""
    results: dict[str, Any] = {
        **provenance(), "versions": {"paramiko": paramiko.__version__,
                                     "ansible-core": _ansible_version()},
        "note": note, "workers": workers, "checks": CHECKS, "runs": {}}
    left = scale_lab.down()
    if not left.empty:
        print(f"scale lab: removed what an earlier run left: {left.describe()}", flush=True)
    for count in counts:
        print(f"scale lab: {count} hosts", flush=True)
        # Each size starts from nothing and ends with its teardown verified: a leftover stops
        # the run here, in one line, instead of breaking the next size's build.
        with scale_lab.lab(count):
            results["runs"][str(count)] = measure(count, workers, tools or tuple(TOOLS))
        print(f"  scale lab: {count} hosts torn down, nothing left", flush=True)
    return results


def measure(count: int, workers: int, tools: tuple[str, ...] = ()) -> dict[str, Any]:
    """The ``tools`` (all by default; stackdrill always) on the ``count`` hosts of the scale
    lab that is up."""
    row: dict[str, Any] = {"stackdrill": stackdrill_runs(workers)}
    print(f"  stackdrill {row['stackdrill']['cold']:.2f}s cold, "
          f"{row['stackdrill']['warm']:.2f}s warm", flush=True)
    for forks in (5, 50):
        if not tools or f"ansible_forks{forks}" in tools:
            row[f"ansible_forks{forks}"] = ansible_runs(forks, count)
            print(f"  ansible forks={forks} {row[f'ansible_forks{forks}']}", flush=True)
    if not tools or "paramiko_sequential" in tools:
        row["paramiko_sequential"] = paramiko_sequential(count)
        print(f"  paramiko sequential {row['paramiko_sequential']}", flush=True)
    return row


TOOLS: dict[str, str] = {
    "stackdrill": "stackdrill",
    "ansible_forks5": "ansible forks=5",
    "ansible_forks50": "ansible forks=50",
    "paramiko_sequential": "sequential paramiko",
}


def _ratio(other: float, stackdrill: float) -> str:
    if stackdrill <= 0:
        return "n/a"
    ratio = other / stackdrill
    return f"{ratio:.1f}x" if ratio < 10 else f"{ratio:.0f}x"


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def kind_table(results: dict[str, Any], kind: str) -> list[str]:
    """One table, ``kind`` (cold or warm) against the same kind: each tool's time, then each
    other tool's time divided by stackdrill's."""
    others = [tool for tool in TOOLS if tool != "stackdrill"]
    head = (["hosts"] + [f"{TOOLS[tool]} {kind}" for tool in TOOLS]
            + [f"{TOOLS[tool]} ÷ stackdrill ({kind}/{kind})" for tool in others])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for count, row in results["runs"].items():
        own = row["stackdrill"][kind]
        cells = [count] + [_seconds(row[tool][kind]) if tool in row else "not run"
                           for tool in TOOLS]
        cells += [_ratio(row[tool][kind], own) if tool in row else "-" for tool in others]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def table(results: dict[str, Any]) -> str:
    versions = {"paramiko": results["versions"]["paramiko"],
                "ansible-core": results["versions"]["ansible-core"]}
    lines = [
        *header(results, "Host-snapshot fan-out", versions),
        f"stackdrill ran {results['workers']} workers; the scale lab's sshds run on the same "
        "CPUs. The same four checks on every host.",
        "",
        "*Cold*: no SSH connection open, every handshake included (stackdrill: the first "
        "snapshot; ansible: the first run, before any ControlPersist master; paramiko: "
        "connecting to each host in turn). *Warm*: the connections left open by the cold run "
        "(stackdrill: the median of the next "
        f"{WARM_RUNS} snapshots on its pool; ansible: the second run, through its control "
        "masters; paramiko: the same loop over the kept connections). Ratios compare cold "
        "with cold and warm with warm only.",
        "",
    ]
    cpu = [f"{count} hosts: stackdrill's client CPU "
           f"{row['stackdrill']['client_cpu_per_snapshot']:.2f} s per warm snapshot, machine "
           f"{100 * row['stackdrill']['machine_cpu_busy']:.0f}% busy during the warm snapshots"
           for count, row in results["runs"].items()]
    return "\n".join([*lines, "## Warm against warm", "", *kind_table(results, "warm"), "",
                      "## Cold against cold", "", *kind_table(results, "cold"), "",
                      *(f"- {line}" for line in cpu), ""])


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="10,50,200", help="comma-separated host counts")
    parser.add_argument("--workers", type=int, default=32, help="snapshot workers")
    parser.add_argument("--down", action="store_true", help="only remove a crashed scale lab")
    parser.add_argument("--note", default="", help="one line on the run's conditions, kept in "
                        "the results")
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help=f"comma-separated, of {', '.join(TOOLS)} (stackdrill always runs)")
    args = parser.parse_args(argv)
    tools = tuple(tool for tool in args.tools.split(",") if tool)
    if unknown := [tool for tool in tools if tool not in TOOLS]:
        print(f"host_fanout: --tools: unknown {', '.join(unknown)} (of {', '.join(TOOLS)})",
              file=sys.stderr)
        return 2
    if args.down:
        try:
            removed = scale_lab.down()
        except scale_lab.LabError as exc:
            print(f"host_fanout: {exc}", file=sys.stderr)
            return 1
        print(f"scale lab: removed {removed.describe()}")
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
        results = run(counts, args.workers, args.note, tools)
    except (scale_lab.LabError, RuntimeError) as exc:
        print(f"host_fanout: {'; '.join([str(exc), *getattr(exc, '__notes__', [])])}",
              file=sys.stderr)
        return 1
    write_result("host_fanout", results, table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
