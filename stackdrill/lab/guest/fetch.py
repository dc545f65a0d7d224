"""``stackdrill lab fetch-guest``: the canary guest's packages downloaded into the guest cache by
the script the package ships (:func:`~stackdrill.lab.prerequisites.guest_fetch_script`), so that
an installed stackdrill, with no checkout and no ``scripts/``, gets them too; and the line
``stackdrill lab up`` prints when the cache has none."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping

from stackdrill.lab.guest.debs import GuestBuildError, cache_dir, read_manifest
from stackdrill.lab.prerequisites import guest_fetch_script
from stackdrill.lab.system import LabError

TIMEOUT = 1800
"""Seconds the download may take: an ``apt-get update`` and a kernel package or two."""


def fetch_argv() -> list[str]:
    """The command that runs the shipped script: through bash, so that the file needs no
    executable bit (an installer may not keep it)."""
    return ["bash", str(guest_fetch_script())]


def fetch_guest_packages(env: Mapping[str, str] | None = None) -> None:
    """Runs the shipped script, its output going to this process's; it reads
    ``$STACKDRILL_GUEST_CACHE`` and ``$STACKDRILL_OS_RELEASE`` from ``env`` (default: this
    process's environment). A script that cannot run, or fails, raises :class:`LabError`."""
    argv = fetch_argv()
    try:
        done = subprocess.run(argv, env=dict(os.environ if env is None else env),
                              stdin=subprocess.DEVNULL, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"{argv[-1]}: cannot download the guest packages: {exc}") from exc
    if done.returncode != 0:
        as_root = "" if os.geteuid() == 0 else "; run it as root"
        raise LabError(f"{argv[-1]} exited with status {done.returncode}{as_root}")


def missing_guest_packages() -> str | None:
    """One line saying that the guest cache has no packages and what downloads them, or None
    when it has a manifest (its packages are checked when the guest is built)."""
    try:
        read_manifest(cache_dir())
    except GuestBuildError as exc:
        return str(exc)
    return None
