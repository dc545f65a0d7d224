"""The canary guest booted by the lab's Nova (libvirt, TCG, inside a compute host), as a drill's
canary is: from the create request to ACTIVE, to the first heartbeat on the console as Nova's
API returns it, and from the volume attachment request to the first write the volume
acknowledged; then what one beating guest costs its compute host (qemu's CPU and RSS, sampled
from /proc on the compute).

    python benchmarks/canary_boot.py --lab [--boots 3] [--window 10] [--host compute1]

Needs the lab up (``stackdrill lab up``) and the guest's packages (scripts/setup). Each boot
creates a server and a 1 GiB volume named ``stackdrill-bench-*`` with the canaries' image and
flavor, and deletes both afterwards. Writes benchmarks/results/canary_boot.json and .md, with
the date, the commit and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from provenance import header, provenance

from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.canary import GUEST_RAM_MB, console_tail, guest_flavor
from stackdrill.cloud.guest_image import GuestFiles, ensure_guest_image
from stackdrill.cloud.heartbeat import HEARTBEAT_TAG, parse_console
from stackdrill.core.evidence import Redactor
from stackdrill.core.waiting import poll
from stackdrill.engine.state_dir import default_state_dir
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.lab.guest.builder import build_guest
from stackdrill.lab.topology import LabPaths

RESULTS = Path(__file__).resolve().parent / "results"
NAME = "stackdrill-bench-canary"


def _beats(conn: Any, server_id: str) -> list[Any]:
    return [r for r in parse_console(console_tail(conn, server_id, 60))
            if r.kind == HEARTBEAT_TAG]


def _seconds_until(check: Callable[[], Any], started: float, what: str) -> float:
    poll(check, timeout=300, interval=0.25, max_interval=0.5, description=what)
    return round(time.monotonic() - started, 2)


def _qemu_cost(targets: Targets, host: str, domain: str, window: float) -> dict[str, Any]:
    """CPU share and RSS of the domain's qemu over ``window`` seconds, read on its compute."""
    script = (f"p=$(cat /run/libvirt/qemu/{domain}.pid); t=$(getconf CLK_TCK); "
              "cpu() { awk '{print $14+$15}' /proc/$p/stat; }; "
              "rss() { awk '/VmRSS/{print $2}' /proc/$p/status; }; "
              f"a=$(cpu); s=$(date +%s.%N); r1=$(rss); sleep {window}; b=$(cpu); "
              "e=$(date +%s.%N); r2=$(rss); echo $t $a $b $s $e $r1 $r2")
    out = targets.get(host).run(script, check=True, timeout=window + 30).stdout.split()
    tick, cpu0, cpu1, t0, t1, rss0, rss1 = (float(v) for v in out)
    return {"cpu_fraction": round((cpu1 - cpu0) / tick / (t1 - t0), 3),
            "rss_mib": round(max(rss0, rss1) / 1024, 1)}


def one_boot(conn: Any, targets: Targets, image: Any, flavor: Any, host: str,
             window: float) -> dict[str, Any]:
    started = time.monotonic()
    server = conn.compute.create_server(name=NAME, image_id=image.id, flavor_id=flavor.id,
                                        networks="none", availability_zone=f"nova:{host}")
    volume = None
    try:
        active_s = _seconds_until(lambda: conn.compute.get_server(server.id).status == "ACTIVE",
                                  started, "server ACTIVE")
        beat_s = _seconds_until(lambda: _beats(conn, server.id), started, "first heartbeat")
        volume = conn.block_storage.create_volume(name=f"{NAME}-vol", size=1)
        conn.block_storage.wait_for_status(volume, "available", wait=120)
        attach = time.monotonic()
        conn.compute.create_volume_attachment(server.id, volume_id=volume.id)
        acked_s = _seconds_until(
            lambda: any(b.ack > 0 for b in _beats(conn, server.id)), attach,
            "first acknowledged write")
        domain = conn.compute.get_server(server.id).instance_name
        return {"active_s": active_s, "first_heartbeat_s": beat_s,
                "attach_to_first_ack_s": acked_s,
                **_qemu_cost(targets, host, domain, window)}
    finally:
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=300)
        if volume is not None:
            conn.block_storage.wait_for_status(volume, "available", wait=120)
            conn.block_storage.delete_volume(volume)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", action="store_true", required=True)
    parser.add_argument("--boots", type=int, default=3)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--host", default="compute1")
    parser.add_argument("--note", default="")
    args = parser.parse_args(argv)
    paths = LabPaths.default()
    access = CloudAccess("stackdrill-lab", Redactor(),
                         config_files=[str(paths.root / "clouds.yaml")])
    targets = Targets(load_inventory(paths.root / "inventory.yaml"))
    conn = access.connection()
    built = build_guest(default_state_dir() / "guest")
    image = ensure_guest_image(conn, GuestFiles(built.kernel, built.initrd, built.command_line,
                                                built.key))
    flavor = guest_flavor(conn)
    load = os.getloadavg()[0]
    boots = [one_boot(conn, targets, image, flavor, args.host, args.window)
             for _ in range(args.boots)]
    results = {**provenance(), "note": args.note, "load_average_1min_at_start": load,
               "host": args.host, "ram_mb": GUEST_RAM_MB, "boots": boots,
               "median": {key: round(statistics.median(b[key] for b in boots), 3)
                          for key in boots[0]}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "canary_boot.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "canary_boot.md").write_text(markdown(results), encoding="utf-8")
    print(markdown(results))
    return 0


def markdown(results: dict[str, Any]) -> str:
    lines = [*header(results, "Canary guest booted by the lab's Nova (libvirt, TCG)", {}),
             f"Load average (1 min) when it started: {results['load_average_1min_at_start']:.2f}"
             " on 2 CPUs; the rest of the lab (two canaries included) was running.", "",
             f"One server on {results['host']}, flavor of {results['ram_mb']} MiB and one vCPU, "
             "the canary guest's kernel, ramdisk and machine images; a 1 GiB Cinder volume "
             "attached once it beats (qemu's iSCSI initiator to tgtd on a storage host).", "",
             "| boot | create to ACTIVE | create to first heartbeat (console via Nova's API) | "
             "attach to first acknowledged write | qemu CPU while beating | qemu RSS |",
             "|---|---|---|---|---|---|"]
    rows = [*enumerate(results["boots"], start=1), ("median", results["median"])]
    for number, boot in rows:
        lines.append(f"| {number} | {boot['active_s']} s | {boot['first_heartbeat_s']} s | "
                     f"{boot['attach_to_first_ack_s']} s | "
                     f"{boot['cpu_fraction'] * 100:.1f} % of a CPU | {boot['rss_mib']} MiB |")
    return "\n".join([*lines, "",
                      "Reproduce: `.venv/bin/python benchmarks/canary_boot.py --lab`", ""])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
