"""The canary guest's cost under plain qemu (TCG, one vCPU, as the lab's Nova runs it): the build,
the time from qemu's start to the first heartbeat on the serial console, to the ring log's first
acknowledged write, and what one idle-beating guest costs the machine (qemu's CPU and RSS,
sampled from /proc/PID over a window).

    python benchmarks/guest_boot.py [--boots 1] [--window 10] [--memory 96]

Needs qemu-system-x86_64 and the guest packages (scripts/setup); no lab. The disk is a blank
raw file of a full ring (a header and 4096 slots, 16 MiB), so the boot's ring scan is the
largest a canary meets. Writes benchmarks/results/guest_boot.json and .md, with the date, the
commit and the machine.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from provenance import header, provenance

from stackdrill.cloud.heartbeat import HEARTBEAT_TAG, LOG_TAG, RING_SLOTS_MAX, SLOT_BYTES
from stackdrill.lab.guest import qemu
from stackdrill.lab.guest.builder import GuestImage, build_guest

RESULTS = Path(__file__).resolve().parent / "results"


def _beats(records: list[Any]) -> list[Any]:
    return [r for r in records if r.kind == HEARTBEAT_TAG]


def _sample(guest: qemu.QemuGuest, window: float) -> dict[str, Any]:
    """CPU and RSS of the running qemu over ``window`` seconds, and the beats in it."""
    pid = guest.pid
    cpu0, t0, beats0 = qemu.cpu_seconds(pid), time.monotonic(), len(_beats(guest.records()))
    rss = []
    while time.monotonic() - t0 < window:
        rss.append(qemu.rss_bytes(pid))
        time.sleep(0.5)
    cpu1, t1 = qemu.cpu_seconds(pid), time.monotonic()
    beats = _beats(guest.records())
    window_beats = beats[beats0:]
    gaps = [(b.up_cs - a.up_cs) / 100 for a, b in itertools.pairwise(window_beats)]
    return {"window_s": round(t1 - t0, 2), "cpu_fraction": round((cpu1 - cpu0) / (t1 - t0), 3),
            "rss_mib_max": round(max(rss) / 2**20, 1),
            "rss_mib_median": round(statistics.median(rss) / 2**20, 1),
            "beats": len(window_beats),
            "beat_interval_s_median": round(statistics.median(gaps), 3) if gaps else None,
            "beat_interval_s_max": round(max(gaps), 3) if gaps else None,
            "acked_in_window": len({b.ack for b in window_beats})}


def one_boot(image: GuestImage, work: Path, window: float, memory: int) -> dict[str, Any]:
    disk = work / "disk.raw"
    disk.unlink(missing_ok=True)
    with disk.open("wb") as handle:
        handle.truncate((RING_SLOTS_MAX + 1) * SLOT_BYTES)
    spec = qemu.QemuSpec(image.kernel, image.initrd, image.command_line, work / "console.log",
                         disk, memory_mb=memory)
    with qemu.QemuGuest(spec) as guest:
        first = guest.wait_for(lambda records: bool(_beats(records)), 60)
        first_up = _beats(guest.records())[0].uptime
        acked = guest.wait_for(lambda records: any(r.ack for r in _beats(records)), 60)
        ring_ready = next((line for line in guest.console().splitlines()
                           if line.startswith(LOG_TAG + " ring log")), "")
        sample = _sample(guest, window)
    return {"first_heartbeat_s": round(first, 2), "guest_uptime_at_first_beat_s": first_up,
            "first_acked_write_s": round(acked, 2), "ring": ring_ready, **sample}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boots", type=int, default=1)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--memory", type=int, default=qemu.MEMORY_MB)
    parser.add_argument("--note", default="")
    args = parser.parse_args(argv)
    if not qemu.available():
        print(f"{qemu.QEMU} is not installed", file=sys.stderr)
        return 2
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="guest-boot-") as tmp:
        work = Path(tmp)
        started = time.monotonic()
        image = build_guest(work / "guest")
        build_s = time.monotonic() - started
        boots = [one_boot(image, work, args.window, args.memory) for _ in range(args.boots)]
        guest = {**image.describe(), "build_s": round(build_s, 2)}
    results = {**provenance(), "note": args.note, "load_average_1min_at_start": load,
               "versions": {"qemu": _qemu_version()}, "memory_mb": args.memory,
               "disk_bytes": (RING_SLOTS_MAX + 1) * SLOT_BYTES, "guest": guest, "boots": boots}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "guest_boot.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "guest_boot.md").write_text(markdown(results), encoding="utf-8")
    print(markdown(results))
    return 0


def _qemu_version() -> str:
    done = subprocess.run([qemu.QEMU, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.split("version")[-1].split()[0] if done.returncode == 0 else "unknown"


def markdown(results: dict[str, Any]) -> str:
    guest = results["guest"]
    lines = [*header(results, "Canary guest under plain qemu (TCG)", results["versions"]),
             f"Load average (1 min) when it started: {results['load_average_1min_at_start']:.2f}"
             " on 2 CPUs shared with other work.", "",
             f"Guest: kernel {guest['kernel_release']} ({guest['kernel']['bytes'] / 2**20:.1f}"
             f" MiB), initramfs {guest['initrd']['bytes'] / 2**20:.2f} MiB (busybox-static and "
             f"{len(guest['modules'])} modules), built in {guest['build_s']} s; qemu -m "
             f"{results['memory_mb']}, one vCPU, a {results['disk_bytes'] / 2**20:.0f} MiB "
             "raw virtio disk.", "",
             "| boot | first heartbeat | guest uptime then | first acked write | "
             "qemu CPU idle-beating | qemu RSS (median / max) | beats in window | "
             "beat interval (median / max) |",
             "|---|---|---|---|---|---|---|---|"]
    for number, boot in enumerate(results["boots"], start=1):
        lines.append(
            f"| {number} | {boot['first_heartbeat_s']} s | {boot['guest_uptime_at_first_beat_s']}"
            f" s | {boot['first_acked_write_s']} s | {boot['cpu_fraction'] * 100:.1f} % of a CPU"
            f" | {boot['rss_mib_median']} / {boot['rss_mib_max']} MiB | {boot['beats']} in "
            f"{boot['window_s']} s | {boot['beat_interval_s_median']} / "
            f"{boot['beat_interval_s_max']} s |")
    return "\n".join([*lines, "", "Reproduce: `.venv/bin/python benchmarks/guest_boot.py`", ""])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
