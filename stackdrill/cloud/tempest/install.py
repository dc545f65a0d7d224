"""Tempest's own virtualenv, apart from stackdrill's, installed with uv from ``tempest.lock``
(compiled from ``tempest.in`` for Python 3.11: Tempest 47.0.0 and ``junitxml``, which
python-subunit's ``subunit2junitxml`` needs), as the lab installs its OpenStack services.

Regenerate the lock after editing ``tempest.in``::

    uv pip compile --no-header --python-version 3.11 tempest.in -o tempest.lock
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from stackdrill.cloud.tempest import TempestError

__all__ = ["LOCK", "PYTHON", "TempestVenv", "ensure_tempest", "environment", "venv_path"]

LOCK = Path(__file__).with_name("tempest.lock")
PYTHON = "3.11"
STAMP = ".stackdrill-lock-sha256"
VENV_ENV = "STACKDRILL_TEMPEST_VENV"
"""The environment variable that names the virtualenv when no option does."""
_ENV_DROPPED = ("PYTHON", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
"""Variables of stackdrill's own Python environment that would leak into Tempest's."""

Runner = Callable[[Sequence[str], float], None]


class TempestVenv:
    """A virtualenv Tempest is (or is to be) installed in, and the commands it holds."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def tempest(self) -> Path:
        return self.path / "bin" / "tempest"

    @property
    def subunit2junitxml(self) -> Path:
        return self.path / "bin" / "subunit2junitxml"

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def installed(self, lock: Path = LOCK) -> bool:
        """Whether this virtualenv holds what ``lock`` pins (its digest stamped at install)."""
        stamp = self.path / STAMP
        return (self.tempest.exists() and stamp.exists()
                and stamp.read_text().strip() == _digest(lock))

    def missing(self) -> str | None:
        """Why Tempest cannot run from here (one line naming the command that installs it),
        or None."""
        if self.tempest.exists() and self.subunit2junitxml.exists():
            return None
        return (f"Tempest is not installed in {self.path}: run `stackdrill tempest install "
                f"--venv {self.path}`")


def venv_path(explicit: str | Path | None, state_dir: Path) -> Path:
    """The virtualenv an option names, else ``$STACKDRILL_TEMPEST_VENV``, else
    ``STATE_DIR/tempest/venv`` (``state_dir``: stackdrill's state directory)."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(VENV_ENV):
        return Path(os.environ[VENV_ENV]).expanduser()
    return state_dir / "tempest" / "venv"


def environment() -> dict[str, str]:
    """The environment Tempest's commands run with: stackdrill's own, without what would
    make them use stackdrill's Python."""
    return {key: value for key, value in os.environ.items() if key not in _ENV_DROPPED}


def _digest(lock: Path) -> str:
    return hashlib.sha256(lock.read_bytes()).hexdigest()


def _run(command: Sequence[str], timeout: float) -> None:
    try:
        result = subprocess.run(list(command), capture_output=True, text=True,
                                timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise TempestError(f"{Path(command[0]).name} {command[1]}: no answer within "
                           f"{timeout:g}s") from None
    except OSError as exc:
        raise TempestError(f"{command[0]}: {exc.strerror or exc}") from None
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise TempestError(f"{Path(command[0]).name} {command[1]} failed (exit "
                           f"{result.returncode}): {lines[-1] if lines else 'no output'}")


def ensure_tempest(venv: TempestVenv, uv: str, log: Callable[[str], None] = print,
                   lock: Path = LOCK, run: Runner = _run) -> bool:
    """Install ``lock`` into ``venv`` unless it already holds it; True when it installed.
    The virtualenv is made afresh (``uv venv --clear``), its bytecode compiled."""
    if venv.installed(lock):
        log(f"tempest: {venv.path} already holds {lock.name}")
        return False
    log(f"tempest: installing {lock.name} into {venv.path}")
    started = time.monotonic()
    venv.path.parent.mkdir(parents=True, exist_ok=True)
    run([uv, "venv", "-q", "--clear", "-p", PYTHON, str(venv.path)], 300)
    run([uv, "pip", "install", "-q", "--compile-bytecode", "--python", str(venv.python),
         "-r", str(lock)], 1800)
    (venv.path / STAMP).write_text(_digest(lock) + "\n")
    log(f"tempest: installed in {time.monotonic() - started:.0f}s ({venv.tempest})")
    return True
