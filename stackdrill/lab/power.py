"""The lab's power driver: power a host off and on, reboot it gracefully or hard.

A hard power-off is SIGKILL to the host's init from outside: every process in the host is gone at
once, as when a server loses power. A graceful reboot or shutdown is the signal systemd itself
obeys (SIGINT reboots, SIGRTMIN+4 powers off).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from stackdrill.core.waiting import poll
from stackdrill.lab.system import LabError
from stackdrill.lab.topology import LabPaths, Topology, built_topology

POWER_TIMEOUT = 30.0


def _read_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


class LabPower:
    """``topology``: the lab's hosts; by default those of the lab built under ``paths``."""

    def __init__(self, paths: LabPaths, topology: Topology | None = None) -> None:
        self.paths = paths
        self._topology = topology

    @property
    def topology(self) -> Topology:
        if self._topology is None:
            self._topology = built_topology(self.paths)
        return self._topology

    def _run(self, name: str) -> Path:
        self.topology.host(name)
        return self.paths.host_run(name)

    def init_pid(self, name: str) -> int | None:
        """PID (on the machine) of the host's systemd, or None when the host is off."""
        nspawn = _read_pid(self._run(name) / "nspawn.pid")
        if nspawn is None:
            return None
        children = Path(f"/proc/{nspawn}/task/{nspawn}/children")
        try:
            pids = [int(p) for p in children.read_text().split()]
        except OSError:
            return None
        for pid in pids:
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                    return pid
            except OSError:
                continue
        return None

    def is_on(self, name: str) -> bool:
        return _read_pid(self._run(name) / "supervisor.pid") is not None

    def power_on(self, name: str) -> None:
        run = self._run(name)
        if self.is_on(name):
            return
        run.mkdir(parents=True, exist_ok=True)
        (run / "off").unlink(missing_ok=True)
        with (run / "console.log").open("ab") as log:
            subprocess.Popen(
                [sys.executable, "-m", "stackdrill.lab.supervisor", name, str(self.paths.root)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            )
        poll(lambda: self.init_pid(name), timeout=POWER_TIMEOUT,
             description=f"lab host {name}: init running after power-on")

    def power_off(self, name: str, *, graceful: bool = False) -> None:
        run = self._run(name)
        run.mkdir(parents=True, exist_ok=True)
        (run / "off").write_text("")
        pid = self.init_pid(name)
        if pid is not None:
            os.kill(pid, signal.SIGRTMIN + 4 if graceful else signal.SIGKILL)
        nspawn = _read_pid(run / "nspawn.pid")
        if nspawn is None and pid is None:
            return
        poll(lambda: not self.is_on(name), timeout=POWER_TIMEOUT * (4 if graceful else 1),
             description=f"lab host {name}: powered off")

    def reboot(self, name: str, *, graceful: bool = True) -> None:
        if not graceful:
            self.power_off(name)
            self.power_on(name)
            return
        pid = self.init_pid(name)
        if pid is None:
            raise LabError(f"lab host {name}: cannot reboot, it is powered off")
        os.kill(pid, signal.SIGINT)

    def kill_all(self) -> None:
        """Stop every lab host, including ones left by a killed run."""
        if self.paths.run.is_dir():
            for run in sorted(self.paths.run.iterdir()):
                (run / "off").write_text("")
                supervisor = _read_pid(run / "supervisor.pid")
                if supervisor is not None:
                    os.kill(supervisor, signal.SIGKILL)
                nspawn = _read_pid(run / "nspawn.pid")
                init = self.init_pid(run.name) if nspawn else None
                for pid in (init, nspawn):
                    if pid is not None:
                        os.kill(pid, signal.SIGKILL)
        poll(lambda: not self._stray_processes(kill=True), timeout=POWER_TIMEOUT,
             description="every lab process gone")

    def _rooted_in_lab(self, proc: Path) -> bool:
        """A process in a host's own mount namespace (its nspawn may be long dead, so its root
        no longer reads as a lab path): its root mount is a lab host's overlay."""
        upper = f"upperdir={self.paths.mountpoint}/"
        try:
            with (proc / "mountinfo").open() as mounts:
                for line in mounts:
                    fields = line.split()
                    if len(fields) > 4 and fields[4] == "/":
                        return upper in line
        except OSError:
            return False
        return False

    def _stray_processes(self, *, kill: bool) -> list[int]:
        """Processes of the lab (inside a host, or an nspawn of this lab), SIGKILLed if asked."""
        merged_root = str(self.paths.mountpoint) + "/"
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                root = os.readlink(proc / "root")
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state == "Z":
                continue
            stray_nspawn = cmdline[0].endswith(b"systemd-nspawn") and (
                f"--tmpfs={self.paths.root}".encode() in cmdline)
            if root.startswith(merged_root) or stray_nspawn or self._rooted_in_lab(proc):
                found.append(int(proc.name))
                if kill:
                    try:
                        os.kill(int(proc.name), signal.SIGKILL)
                    except ProcessLookupError:
                        continue
        return found
