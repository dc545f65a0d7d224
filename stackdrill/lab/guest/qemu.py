"""Boots the guest under plain qemu (TCG, as the lab's Nova runs it), outside any cloud: the
serial console goes to a file, an optional raw file is its virtio disk. For the guest's own
tests and its boot benchmark, and for checking a build before it goes to Glance."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from stackdrill.cloud.heartbeat import Record, parse_console
from stackdrill.lab.system import LabError

QEMU = "qemu-system-x86_64"
MEMORY_MB = 96
RING_SERIAL = "stackdrill-ring"


class GuestBootError(LabError):
    """qemu would not start, or left before the guest did what was waited for."""


@dataclass(frozen=True)
class QemuSpec:
    kernel: Path
    initrd: Path
    command_line: str
    console_log: Path
    disk: Path | None = None
    memory_mb: int = MEMORY_MB
    disk_errors: Path | None = None
    """A blkdebug configuration (:func:`failing_sector`) that makes the disk fail writes."""


def available() -> bool:
    return shutil.which(QEMU) is not None


def qemu_command(spec: QemuSpec) -> list[str]:
    """One CPU under TCG, no default devices, no network, no reboot (a reboot ends qemu)."""
    for path in (spec.kernel, spec.initrd, spec.console_log, spec.disk, spec.disk_errors):
        if path is not None and "," in str(path):
            raise GuestBootError(f"qemu cannot take a path with a comma: {path}")
    command = [QEMU, "-machine", "pc,accel=tcg", "-cpu", "qemu64", "-smp", "1",
               "-m", str(spec.memory_mb), "-nodefaults", "-no-user-config", "-display", "none",
               "-monitor", "none", "-no-reboot", "-serial", f"file:{spec.console_log}",
               "-kernel", str(spec.kernel), "-initrd", str(spec.initrd),
               "-append", spec.command_line]
    if spec.disk is not None and spec.disk_errors is None:
        command += ["-drive", f"id=ring,if=none,file={spec.disk},format=raw,cache=writeback"]
    elif spec.disk is not None:
        command += ["-drive", "id=ring,if=none,driver=raw,cache=writeback,werror=report,"
                    f"rerror=report,file.driver=blkdebug,file.config={spec.disk_errors},"
                    f"file.image.filename={spec.disk}"]
    if spec.disk is not None:  # the serial marks the ring log's disk, as Nova's volume id does
        command += ["-device", f"virtio-blk-pci,drive=ring,serial={RING_SERIAL}"]
    return command


def failing_sector(sector: int) -> str:
    """A blkdebug configuration under which every write that covers 512-byte ``sector`` of the
    disk fails with EIO (reads still succeed): the guest's kernel sees a real I/O error."""
    return ("[inject-error]\n"
            'event = "write_aio"\n'
            'errno = "5"\n'
            f'sector = "{sector}"\n'
            'once = "off"\n'
            'iotype = "write"\n')


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class QemuGuest:
    """A running qemu; a context manager that kills it (SIGKILL, as a power cut) on exit."""

    def __init__(self, spec: QemuSpec) -> None:
        self.spec = spec
        self.started = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._output = spec.console_log.with_name(spec.console_log.name + ".qemu")

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise GuestBootError("qemu is not running")
        return self._proc.pid

    def start(self) -> QemuGuest:
        self.spec.console_log.write_bytes(b"")
        with self._output.open("wb") as output:
            self.started = time.monotonic()
            self._proc = subprocess.Popen(qemu_command(self.spec), stdin=subprocess.DEVNULL,
                                          stdout=output, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        return self

    def console(self) -> str:
        return self.spec.console_log.read_bytes().decode("utf-8", errors="replace")

    def records(self) -> list[Record]:
        return parse_console(self.console())

    def wait_for(self, done: Callable[[list[Record]], bool], timeout: float) -> float:
        """Seconds from qemu's start until ``done`` holds for the console's records."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done(self.records()):
                return time.monotonic() - self.started
            if self._proc is not None and self._proc.poll() is not None:
                raise GuestBootError(f"qemu exited ({self._proc.returncode}): {self._tail()}")
            time.sleep(0.05)
        raise GuestBootError(f"not seen within {timeout:.0f}s of qemu's start: {self._tail()}")

    def _tail(self) -> str:
        text = self.console().strip() or self._output.read_text(errors="replace").strip()
        return " | ".join(text.splitlines()[-5:]) or "no console output"

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.kill(self._proc.pid, signal.SIGKILL)
        if self._proc is not None:
            self._proc.wait(timeout=10)

    def __enter__(self) -> QemuGuest:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
