"""The API availability sampler's cost: the CPU its threads take per second of sampling, and
what each sampled request takes, against a cloud.

    python benchmarks/api_sampler.py --lab [--window 60] [--interval 1] [--timeout 3]
    python benchmarks/api_sampler.py --os-cloud C [--clouds-yaml FILE] [--window 60] ...

``--lab`` uses the lab's clouds.yaml (``/var/lib/stackdrill-lab``, ``STACKDRILL_LAB_DIR``) and
its cloud ``stackdrill-lab``. The canary workload is found by name, read only (nothing is
created: run a drill or ``stackdrill lab up`` first): the servers named ``stackdrill-canary-*``,
their image, the volumes ``stackdrill-canary-<host>-vol`` and the Swift canary, as the drills'
sampler would show them; an API whose resource is missing is left out and said so.

The CPU is this process's (user + system, every thread: ``getrusage(RUSAGE_SELF)``), taken over
an idle window of the same length first (the process with nothing running) and then over the
sampling window; the sampler's CPU per second is the difference divided by the window. Each
request is timed where it is sent. Writes benchmarks/results/api_sampler.json and .md, with the
date, the commit and the machine.

The sampler's effect on the time to recover is measured by running drills with it and without
it (``--api-sample-interval 0`` turns it off), e.g. twice each way, alternating::

    stackdrill run --lab features/control_plane/controller.feature --tags "not long"
    stackdrill run --lab features/control_plane/controller.feature -- --api-sample-interval 0

and comparing their times to recover in the history (``stackdrill report --markdown``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from provenance import header, provenance

from stackdrill.cloud.access import CloudAccess, CloudError
from stackdrill.cloud.api_requests import TenantRequest, TenantResources, tenant_requests
from stackdrill.cloud.api_sampler import DEFAULT_INTERVAL, DEFAULT_TIMEOUT, ApiSampler
from stackdrill.cloud.canary import PREFIX, volume_name
from stackdrill.cloud.swift_canary import CONTAINER, OBJECTS, has_object_store

RESULTS = Path(__file__).resolve().parent / "results"
LAB_CLOUD = "stackdrill-lab"


class TimedRequest:
    """A request that keeps how long each of its sends took, and whether it failed."""

    def __init__(self, request: TenantRequest) -> None:
        self.request = request
        self.subject = request.subject
        self.times: list[float] = []
        self.failed = 0
        self._lock = threading.Lock()

    def send(self) -> None:
        started = time.perf_counter()
        try:
            self.request.send()
        except Exception:
            with self._lock:
                self.failed += 1
            raise
        finally:
            with self._lock:
                self.times.append(time.perf_counter() - started)

    def reset(self) -> None:
        self.request.reset()

    def close(self) -> None:
        self.request.close()


def find_canaries(access: CloudAccess) -> tuple[TenantResources, list[str]]:
    """The canary workload's resources, found by name, and a note for each one missing."""
    conn = access.connection()
    servers = sorted((s for s in conn.compute.servers(all_projects=True)
                      if s.name.startswith(PREFIX)), key=lambda s: s.name)
    notes = [] if servers else ["no canary server: compute and image left out"]
    server = servers[0] if servers else None
    volume = None
    if server is not None and conn.has_service("block-storage"):
        host = server.name.removeprefix(f"{PREFIX}-")
        volume = conn.block_storage.find_volume(volume_name(host), ignore_missing=True,
                                                all_projects=True)
    if volume is None:
        notes.append("no canary volume: block storage left out")
    swift = has_object_store(conn)
    if not swift:
        notes.append("no object-store endpoint: object storage left out")
    image = (server.image or {}).get("id") if server is not None else None
    return TenantResources(server_id=server.id if server else None,
                           volume_id=volume.id if volume else None, image_id=image,
                           swift_object=(CONTAINER, sorted(OBJECTS)[0]) if swift else None), notes


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(access: CloudAccess, resources: TenantResources, window: float, interval: float,
            timeout: float) -> dict[str, Any]:
    """The idle window, then the sampling window: CPU, and each API's samples and times."""
    idle0 = cpu_seconds()
    time.sleep(window)  # the process at rest, for the baseline of its own CPU
    idle = cpu_seconds() - idle0
    timed = [TimedRequest(r) for r in tenant_requests(access, resources, timeout)]
    sampler = ApiSampler(timed, interval, timeout, redact=access.redactor)
    cpu0, wall0 = cpu_seconds(), time.monotonic()
    sampler.start()
    time.sleep(window)
    sampler.stop()
    cpu, wall = cpu_seconds() - cpu0, time.monotonic() - wall0
    figures = sampler.figures()
    apis = {}
    for request in timed:
        times = sorted(request.times)
        apis[request.subject] = {
            "samples": int(figures.get(f"{request.subject}/samples", 0)),
            "failures": int(figures.get(f"{request.subject}/failures", 0)),
            "unavailable_s": figures.get(f"{request.subject}/unavailable_s"),
            "latency_s_median": round(statistics.median(times), 4) if times else None,
            "latency_s_p95": round(times[int(0.95 * (len(times) - 1))], 4) if times else None}
    samples = sum(api["samples"] for api in apis.values())
    busy = max(0.0, cpu - idle * wall / window)
    return {"window_s": round(wall, 2), "cpu_s": round(cpu, 4), "idle_cpu_s": round(idle, 4),
            "cpu_per_second": round(busy / wall, 5),
            "cpu_ms_per_sample": round(1000 * busy / samples, 3) if samples else None,
            "apis": apis, "log": sampler.log()[:50]}


def markdown(results: dict[str, Any]) -> str:
    run = results["run"]
    lines = [*header(results, "API availability sampler: its cost", results["versions"]),
             f"Cloud `{results['cloud']}`; every {results['interval_s']:g} s, timeout "
             f"{results['timeout_s']:g} s, over {run['window_s']} s (an idle window of the "
             f"same length first).", "",
             f"- CPU: {run['cpu_per_second'] * 100:.2f} % of one CPU while sampling "
             f"({run['cpu_s']} s in the window, {run['idle_cpu_s']} s idle before)"
             + (f", {run['cpu_ms_per_sample']} ms per sample" if run["cpu_ms_per_sample"]
                else ""),
             *(f"- left out: {note}" for note in results["notes"]), "",
             "| API | samples | failed | longest outage | request time, median | p95 |",
             "|---|---|---|---|---|---|"]
    for subject, api in run["apis"].items():
        def ms(value: float | None) -> str:
            return f"{value * 1000:.1f} ms" if value is not None else "—"

        outage = api["unavailable_s"]
        lines.append(f"| {subject} | {api['samples']} | {api['failures']} | "
                     f"{f'{outage:.1f} s' if outage is not None else '—'} | "
                     f"{ms(api['latency_s_median'])} | {ms(api['latency_s_p95'])} |")
    flag = " --lab" if results["cloud"] == LAB_CLOUD else f" --os-cloud {results['cloud']}"
    return "\n".join([*lines, "", f"Reproduce: `.venv/bin/python benchmarks/api_sampler.py"
                                  f"{flag} --window {results['window_s']:g}`", ""])


def _access(args: argparse.Namespace) -> CloudAccess:
    if args.lab:
        from stackdrill.lab.topology import LabPaths

        return CloudAccess(LAB_CLOUD, config_files=[str(LabPaths.default().root /
                                                         "clouds.yaml")])
    if not args.os_cloud:
        raise CloudError("give --lab or --os-cloud (or set OS_CLOUD)")
    return CloudAccess(args.os_cloud, config_files=[args.clouds_yaml] if args.clouds_yaml
                       else None)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", action="store_true", help="the embedded lab's cloud")
    parser.add_argument("--os-cloud", default=os.environ.get("OS_CLOUD"))
    parser.add_argument("--clouds-yaml", default=None)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    parser.add_argument("--note", default="")
    args = parser.parse_args(argv)
    try:
        access = _access(args)
        resources, notes = find_canaries(access)
    except CloudError as exc:
        print(f"api_sampler: {exc}", file=sys.stderr)
        return 2
    run = measure(access, resources, args.window, args.interval, args.timeout)
    results = {**provenance(), "note": args.note, "cloud": access.cloud,
               "versions": {"openstacksdk": _version("openstacksdk"),
                            "keystoneauth1": _version("keystoneauth1")},
               "interval_s": args.interval, "timeout_s": args.timeout,
               "window_s": args.window, "notes": notes, "run": run}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "api_sampler.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "api_sampler.md").write_text(markdown(results), encoding="utf-8")
    print(markdown(results))
    return 0


def _version(package: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
