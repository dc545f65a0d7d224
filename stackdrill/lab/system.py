"""Running commands on the machine that hosts the lab."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from stackdrill.core.errors import HarnessError
from stackdrill.lab.prerequisites import missing_tools


class LabError(HarnessError):
    """A lab operation failed; the message is one line for the operator."""


def in_host_output(in_host: Callable[..., Any], host: str, command: str,
                   timeout: float) -> str:
    """The output of ``command`` run in lab host ``host`` by ``in_host`` (the lab's
    :meth:`~stackdrill.lab.lab.Lab.in_host`); :class:`LabError` with its last line of error
    when it fails."""
    result = in_host(host, command, check=False, timeout=timeout)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise LabError(f"{host}: {command[:80]!r} failed: "
                       f"{detail[-1] if detail else result.returncode}")
    return str(result.stdout)


def sh(argv: Sequence[str], *, check: bool = True, timeout: float = 120.0,
       input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, input=input_text,
            check=False,
        )
    except FileNotFoundError as exc:
        raise LabError(f"not installed: {missing_tools([argv[0]])}") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{' '.join(argv)}: no answer within {timeout:.0f}s") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        last = detail[-1] if detail else f"exit status {proc.returncode}"
        raise LabError(f"{' '.join(argv)}: {last}")
    return proc


def mount_points() -> list[str]:
    """Every mount point in this mount namespace, from the kernel's table. A FUSE mount whose
    daemon died answers stat() with ENOTCONN, so ``os.path.ismount`` cannot see it."""
    points = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 1:
            points.append(fields[1].replace("\\040", " ").replace("\\011", "\t"))
    return points


def mounted(path: Path) -> bool:
    return str(path) in mount_points()


def unmount_under(path: Path) -> None:
    """Lazily unmount ``path`` and everything mounted below it, deepest first."""
    prefix = str(path).rstrip("/") + "/"
    for target in reversed(mount_points()):
        if target == str(path) or target.startswith(prefix):
            sh(["umount", "-l", target], check=False)
