"""``stackdrill tempest install [--venv PATH]``: Tempest's own virtualenv, installed with uv from
the lock file stackdrill ships (:mod:`stackdrill.cloud.tempest.install`), for the step
``Then Tempest's "<regex>" tests pass``."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import Any

from stackdrill.cli.exits import EXIT_OK, CliError

VENV_HELP = ("Tempest's virtualenv (default: $STACKDRILL_TEMPEST_VENV, else "
             "$XDG_STATE_HOME/stackdrill/tempest/venv)")


def add_parser(sub: Any) -> None:
    """The ``tempest`` subcommand of the command line."""
    tempest = sub.add_parser("tempest", help="Tempest, OpenStack's functional tests, as a "
                                             "verification step")
    actions = tempest.add_subparsers(dest="tempest_action", required=True)
    install = actions.add_parser(
        "install", help="install Tempest 47.0.0 and what converts its results into a "
                        "virtualenv of its own, pinned by stackdrill's lock file, with uv")
    install.add_argument("--venv", help=VENV_HELP)


def find_uv() -> str:
    """uv on PATH, else where ``scripts/setup`` installs it."""
    from stackdrill.lab.prerequisites import UV_DIR

    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local/share")
    dirs = [os.environ.get("STACKDRILL_UV_DIR"), str(UV_DIR), f"{data_home}/stackdrill-uv"]
    for candidate in (shutil.which("uv"), *(f"{d}/bin/uv" for d in dirs if d)):
        if candidate and Path(candidate).is_file():
            return candidate
    raise CliError("tempest install: uv not found on PATH nor where scripts/setup installs it "
                   "(/opt/stackdrill-uv, $STACKDRILL_UV_DIR); install uv first")


def run(args: argparse.Namespace) -> int:
    from stackdrill.cloud.tempest.install import TempestVenv, ensure_tempest, venv_path
    from stackdrill.engine.state_dir import default_state_dir

    venv = TempestVenv(venv_path(args.venv, default_state_dir()))
    ensure_tempest(venv, find_uv())
    return EXIT_OK
