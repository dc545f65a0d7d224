"""The ids of the tests a Tempest virtualenv holds, as ``tempest run --list-tests`` lists them
(``tempest.api.compute.servers.test_create_server.ServersTestJSON.test_list_servers[id-...,
smoke]``), for checking a step's regex before anything runs.

The listing runs in a temporary workspace that ``tempest init`` makes (its workspace registry
inside the temporary directory too, never ``~/.tempest``), which is removed afterwards:
0.6 s for ``tempest init`` and 2.0 s for the 1575 ids of Tempest 47.0.0 on the 2-CPU
development machine. Each virtualenv is listed once per process (:func:`list_tests` keeps
what it listed); a listing that fails is not kept, and raises
:class:`~stackdrill.cloud.tempest.TempestError` with one line.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from stackdrill.cloud.tempest import TempestError
from stackdrill.cloud.tempest.install import TempestVenv, environment

__all__ = ["LIST_TIMEOUT", "TestList", "list_tests", "version_of"]

LIST_TIMEOUT = 300.0
"""Seconds ``tempest init`` and ``tempest run --list-tests`` each have to answer."""

_LISTED: dict[Path, TestList] = {}


@dataclass(frozen=True)
class TestList:
    """The tests of one Tempest virtualenv: their ids and Tempest's version (None when its
    package metadata does not say)."""

    __test__ = False  # not a pytest test class

    ids: tuple[str, ...]
    version: str | None
    venv: Path

    def describe(self) -> str:
        """``Tempest 47.0.0``, or the virtualenv's Tempest when its version is unknown."""
        return f"Tempest {self.version}" if self.version else f"the Tempest of {self.venv}"

    def selected(self, regex: str) -> int:
        """How many ids ``regex`` selects, as stestr selects them (:func:`re.search`)."""
        pattern = re.compile(regex)
        return sum(1 for test_id in self.ids if pattern.search(test_id))


def list_tests(venv: TempestVenv, timeout: float = LIST_TIMEOUT) -> TestList:
    """The tests ``venv``'s Tempest holds, listed the first time this process asks."""
    key = venv.path.absolute()
    if key not in _LISTED:
        _LISTED[key] = TestList(_listed_ids(venv, timeout), version_of(venv), venv.path)
    return _LISTED[key]


def version_of(venv: TempestVenv) -> str | None:
    """Tempest's version, from its package metadata in the virtualenv."""
    found = sorted(venv.path.glob("lib/python*/site-packages/tempest-*.dist-info"))
    if not found:
        return None
    return found[-1].name.removeprefix("tempest-").removesuffix(".dist-info")


def _listed_ids(venv: TempestVenv, timeout: float) -> tuple[str, ...]:
    with tempfile.TemporaryDirectory(prefix="stackdrill-tempest-list-") as scratch:
        workspace = Path(scratch) / "workspace"
        _call("tempest init", [str(venv.tempest), "init", "--workspace-path",
                               str(Path(scratch) / "workspaces.yaml"), str(workspace)],
              Path(scratch), timeout)
        listed = _call("tempest run --list-tests", [str(venv.tempest), "run", "--list-tests"],
                       workspace, timeout)
    ids = tuple(line.strip() for line in listed.splitlines() if line.strip())
    if not ids:
        raise TempestError(f"listing Tempest's tests failed: `tempest run --list-tests` from "
                           f"{venv.path} listed no test")
    return ids


def _call(words: str, command: list[str], cwd: Path, timeout: float) -> str:
    """What ``command`` (``words`` in a message) wrote to stdout; one line when it fails or
    outlasts ``timeout``."""
    try:
        process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   errors="replace", env=environment(), start_new_session=True)
    except OSError as exc:
        raise TempestError(f"listing Tempest's tests failed: {command[0]}: "
                           f"{exc.strerror or exc}") from None
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        raise TempestError(f"listing Tempest's tests failed: `{words}` gave no answer within "
                           f"{timeout:g} s") from None
    if process.returncode != 0:
        lines = [line.strip() for line in (err or out).splitlines() if line.strip()]
        raise TempestError(f"listing Tempest's tests failed: `{words}` exited "
                           f"{process.returncode}: {lines[-1] if lines else 'no output'}")
    return out


def _kill(process: subprocess.Popen[str]) -> None:
    """Kill the command's process group (stestr's children with it) and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
