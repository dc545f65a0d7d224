"""One run of Tempest: ``tempest run --regex R --subunit`` in a private workspace, serially (or
with the inventory's concurrency), polled until it ends or its deadline passes (a run still
going then is ended, its process group terminated, then killed); its subunit stream turned into
JUnit XML by ``subunit2junitxml`` from Tempest's virtualenv, and read into a
:class:`~stackdrill.cloud.tempest.results.TempestReport`.

The workspace (``tempest.conf`` under ``etc/``, the subunit stream, the JUnit XML, Tempest's
stderr and its own ``tempest.log``) is a directory only its owner may enter (0700), and every
file in it is its owner's alone (0600: Tempest and its converter run with the umask 077); each
run empties it first, and it is left for an operator to read after the run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from stackdrill.cloud.tempest import TempestError
from stackdrill.cloud.tempest.conf import write_private
from stackdrill.cloud.tempest.install import TempestVenv, environment
from stackdrill.cloud.tempest.results import NO_MATCH, TempestReport, parse_junit
from stackdrill.core.waiting import WaitTimeout, poll

__all__ = ["RunSettings", "Workspace", "prepare_workspace", "run_tempest"]

MARKER = ".stackdrill-tempest-workspace"
"""A workspace holds this file: only such a directory (or an empty one) is emptied."""
STOP_GRACE = 10.0
"""Seconds a Tempest run at its deadline has after SIGTERM before its processes are killed."""
CONVERT_TIMEOUT = 300.0
PRIVATE = 0o077
"""The umask of Tempest and its converter: what they write in the workspace is their owner's."""


@dataclass(frozen=True)
class Workspace:
    """Where one cloud's Tempest runs, and the files of a run."""

    path: Path

    @property
    def conf(self) -> Path:
        return self.path / "etc" / "tempest.conf"

    @property
    def subunit(self) -> Path:
        return self.path / "results.subunit"

    @property
    def junit(self) -> Path:
        return self.path / "results.xml"

    @property
    def stderr(self) -> Path:
        return self.path / "tempest-stderr.log"


@dataclass(frozen=True)
class RunSettings:
    """What one run selects and how: the regex, the number of workers and the deadline."""

    regex: str
    concurrency: int = 1
    deadline: float = 1800.0

    def command(self, venv: TempestVenv, workspace: Workspace) -> list[str]:
        workers = ["--serial"] if self.concurrency <= 1 else [
            "--parallel", "--concurrency", str(self.concurrency)]
        return [str(venv.tempest), "run", "--config-file", str(workspace.conf),
                "--regex", self.regex, "--subunit", *workers]


def prepare_workspace(path: Path, conf_text: str) -> Workspace:
    """An emptied private workspace (0700) at ``path`` with ``tempest.conf`` (0600)."""
    if path.exists() and not path.is_dir():
        raise TempestError(f"{path}: not a directory, where Tempest's workspace goes")
    if path.exists() and any(path.iterdir()) and not (path / MARKER).exists():
        raise TempestError(f"{path}: not a stackdrill Tempest workspace (no {MARKER}); "
                           f"it is not emptied")
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(mode=0o700, parents=True)
    path.chmod(0o700)
    (path / MARKER).touch(mode=0o600)
    workspace = Workspace(path)
    write_private(workspace.conf, conf_text)
    return workspace


def _private(path: Path) -> BinaryIO:
    """``path`` opened for writing, readable by its owner alone."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def _end(process: subprocess.Popen[bytes]) -> None:
    """Terminate the run's process group, then kill it if it lingers."""
    if process.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            continue
        return


def _run(venv: TempestVenv, workspace: Workspace, settings: RunSettings) -> int | None:
    """Run Tempest until it ends (its exit code) or its deadline passes (None)."""
    with _private(workspace.subunit) as out, _private(workspace.stderr) as err:
        process = subprocess.Popen(settings.command(venv, workspace), cwd=workspace.path,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                   env=environment(), start_new_session=True, umask=PRIVATE)
    try:
        poll(lambda: process.poll() is not None, timeout=settings.deadline, interval=0.2,
             max_interval=5.0, description=f'Tempest\'s "{settings.regex}" tests')
    except WaitTimeout:
        return None
    finally:
        _end(process)
    return process.returncode


def convert(venv: TempestVenv, workspace: Workspace) -> str:
    """The run's subunit stream as JUnit XML (``subunit2junitxml``, which exits 1 when a test
    failed)."""
    with workspace.subunit.open("rb") as stream:
        try:
            result = subprocess.run(
                [str(venv.subunit2junitxml), "--no-passthrough", "-o", str(workspace.junit)],
                stdin=stream, capture_output=True, timeout=CONVERT_TIMEOUT, check=False,
                env=environment(), umask=PRIVATE)
        except subprocess.TimeoutExpired:
            raise TempestError(f"subunit2junitxml: no answer within {CONVERT_TIMEOUT:g} s") \
                from None
    if result.returncode not in (0, 1) or not workspace.junit.exists():
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        raise TempestError(f"subunit2junitxml failed (exit {result.returncode}): "
                           f"{lines[-1] if lines else 'no output'}")
    return workspace.junit.read_text(encoding="utf-8", errors="replace")


def _tail(path: Path, redact: Callable[[str], str], lines: int = 3) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return redact(" | ".join(kept))


def run_tempest(venv: TempestVenv, workspace: Workspace, settings: RunSettings,
                redact: Callable[[str], str] = str) -> TempestReport:
    """Run the selection in ``workspace`` (prepared) and read its results."""
    missing = venv.missing()
    if missing is not None:
        raise TempestError(missing)
    started = time.monotonic()
    exit_code = _run(venv, workspace, settings)
    seconds = time.monotonic() - started
    junit = convert(venv, workspace)
    no_match = (NO_MATCH.encode() in workspace.subunit.read_bytes()
                or NO_MATCH in _tail(workspace.stderr, str, lines=20))
    return TempestReport(regex=settings.regex, results=parse_junit(junit), junit_xml=junit,
                         exit_code=exit_code, deadline=settings.deadline, seconds=seconds,
                         no_match=no_match, stderr_tail=_tail(workspace.stderr, redact))
