"""The OpenStack services' virtualenv, installed from the lock file with uv.

Every lab host sees the machine's root filesystem, so one venv on the machine serves them all.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from stackdrill.lab.cloud.layout import VENV
from stackdrill.lab.prerequisites import UV_DIR, uv_hint
from stackdrill.lab.system import LabError, sh

LOCK = Path(__file__).with_name("openstack.lock")
PYTHON = "3.11"


def _uv() -> str:
    for candidate in (shutil.which("uv"), str(UV_DIR / "bin" / "uv")):
        if candidate and Path(candidate).exists():
            return candidate
    raise LabError(f"uv not found on PATH nor in {UV_DIR}/bin; {uv_hint()}")


def ensure_openstack(log: Callable[[str], None] = print) -> None:
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    stamp = VENV / ".stackdrill-lock-sha256"
    if stamp.exists() and stamp.read_text().strip() == digest:
        return
    log(f"lab cloud: installing OpenStack from {LOCK.name} into {VENV}")
    started = time.monotonic()
    uv = _uv()
    sh([uv, "venv", "-q", "--clear", "-p", PYTHON, str(VENV)], timeout=300)
    sh([uv, "pip", "install", "-q", "--compile-bytecode", "--python", str(VENV / "bin/python"),
        "-r", str(LOCK)], timeout=1800)
    stamp.write_text(digest + "\n")
    log(f"lab cloud: OpenStack installed in {time.monotonic() - started:.0f}s")
