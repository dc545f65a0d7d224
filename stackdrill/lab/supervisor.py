"""Keeps one lab host's systemd-nspawn running across reboots.

Run as ``python -m stackdrill.lab.supervisor NAME LAB_DIR``.

systemd-nspawn exits with status 133 when the host reboots itself; the supervisor boots it again.
Any other exit (power off, a killed init) ends the supervisor, and the host stays off.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from stackdrill.lab.cloud.release import RELEASES
from stackdrill.lab.hidden import default_hidden, nspawn_hiding, venv_interpreter_prefix
from stackdrill.lab.topology import LabPaths, built_topology

REBOOT_STATUS = 133


def nspawn_argv(paths: LabPaths, name: str) -> list[str]:
    host = built_topology(paths).host(name)
    argv = [
        "systemd-nspawn", "--boot", f"--directory={paths.merged(name)}", f"--machine={name}",
        "--register=no", "--keep-unit", "--console=pipe", f"--hostname={name}",
        "--capability=all",
        f"--network-namespace-path=/run/netns/{host.netns}", f"--tmpfs={paths.root}",
    ]
    if Path("/dev/kvm").exists():
        argv.append("--bind=/dev/kvm")
    return argv + hiding_args() + extra_binds(paths, name)


def hiding_args() -> list[str]:
    """Hide the machine's home, temporary and working trees from the host (see
    :mod:`stackdrill.lab.hidden`), keeping the interpreter of each OpenStack release's
    virtualenv installed on the machine visible (the lab's own, whichever it is, among them)."""
    prefixes = [venv_interpreter_prefix(release.venv) for release in RELEASES]
    return nspawn_hiding(default_hidden(), [prefix for prefix in prefixes if prefix])


DEVICES_FILE = "devices.json"


def write_extra_binds(paths: LabPaths, name: str, devices: list[str],
                      binds: list[tuple[str, str]]) -> None:
    """Hardware of one host beyond its root (disks, fault switches), read at each boot."""
    run = paths.host_run(name)
    run.mkdir(parents=True, exist_ok=True)
    (run / DEVICES_FILE).write_text(json.dumps({"devices": devices,
                                                "binds": [list(b) for b in binds]}))


def extra_binds(paths: LabPaths, name: str) -> list[str]:
    spec = paths.host_run(name) / DEVICES_FILE
    if not spec.exists():
        return []
    data = json.loads(spec.read_text())
    return ([f"--bind={device}" for device in data.get("devices", [])]
            + [f"--bind={source}:{target}" for source, target in data.get("binds", [])])


def main(argv: list[str]) -> int:
    name, root = argv
    paths = LabPaths(Path(root))
    run = paths.host_run(name)
    run.mkdir(parents=True, exist_ok=True)
    (run / "supervisor.pid").write_text(f"{os.getpid()}\n")
    try:
        while True:
            proc = subprocess.Popen(nspawn_argv(paths, name), stdin=subprocess.DEVNULL)
            (run / "nspawn.pid").write_text(f"{proc.pid}\n")
            status = proc.wait()
            (run / "last-exit").write_text(f"{status}\n")
            if status != REBOOT_STATUS or (run / "off").exists():
                return 0
    finally:
        for pidfile in ("nspawn.pid", "supervisor.pid"):
            (run / pidfile).unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
