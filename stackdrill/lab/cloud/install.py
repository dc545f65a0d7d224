"""The OpenStack services' virtualenv of a release, installed from its lock file with uv.

Every lab host sees the machine's root filesystem, so one venv on the machine serves them all.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from stackdrill.lab.cloud.release import CURRENT, Release
from stackdrill.lab.prerequisites import UV_DIR, uv_hint
from stackdrill.lab.system import LabError, sh

PYTHON = "3.11"
STAMP = ".stackdrill-lock-sha256"
"""In the venv: the digest of the lock it was installed from (a changed lock reinstalls it)."""


def _uv() -> str:
    for candidate in (shutil.which("uv"), str(UV_DIR / "bin" / "uv")):
        if candidate and Path(candidate).exists():
            return candidate
    raise LabError(f"uv not found on PATH nor in {UV_DIR}/bin; {uv_hint()}")


def ensure_openstack(log: Callable[[str], None] = print, release: Release = CURRENT) -> None:
    """``release``'s venv, installed unless it already holds its lock file's packages."""
    venv, lock = release.venv, release.lock
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    stamp = venv / STAMP
    if stamp.exists() and stamp.read_text().strip() == digest:
        return
    log(f"lab cloud: installing OpenStack {release.series} from {lock.name} into {venv}")
    started = time.monotonic()
    uv = _uv()
    sh([uv, "venv", "-q", "--clear", "-p", PYTHON, str(venv)], timeout=300)
    sh([uv, "pip", "install", "-q", "--compile-bytecode", "--python", str(venv / "bin/python"),
        "-r", str(lock)], timeout=1800)
    stamp.write_text(digest + "\n")
    log(f"lab cloud: OpenStack installed in {time.monotonic() - started:.0f}s")
