"""``stackdrill run`` options for scheduled and upgrade runs, turned into pytest options.

The drill window is decided here, before pytest starts: outside it nothing runs (exit 0, one
line); inside it the run's maximum duration is cut to the window's close.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from stackdrill.cli.exits import CliError
from stackdrill.engine.schedule import RunLimit, ScheduleError, Window, parse_duration

PHASES = ("pre-upgrade", "upgrade", "failed-upgrade", "post-upgrade")


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("--max-duration", metavar="DURATION",
                     help="stop cleanly after this long (90m, 2h, 1h30m, seconds): every fault "
                          "is undone, exit status 124")
    run.add_argument("--window", metavar="'DAYS HH:MM-HH:MM [TZ]'",
                     help="drill window, e.g. 'Mon-Fri 09:00-15:00 Europe/Berlin': outside it "
                          "nothing runs (exit 0); inside it the run ends by its close")
    run.add_argument("--notify", metavar="COMMAND",
                     help="when the run ends, run COMMAND with the run's JSON record on stdin")
    run.add_argument("--notify-url", metavar="URL",
                     help="when the run ends, POST the run's JSON record to this webhook")
    run.add_argument("--phase", choices=PHASES,
                     help="pre-upgrade: check that nothing needs cleaning, then record the "
                          "canaries, the verified state and the versions; upgrade: back up and "
                          "upgrade the control plane, then the computes one by one; "
                          "failed-upgrade: an upgrade whose db sync fails, rolled back; "
                          "post-upgrade: check the cloud against the pre-upgrade record")


def scheduled_run(args: argparse.Namespace, now: dt.datetime | None = None) -> list[str] | None:
    """The pytest arguments for these options, or None when the run is outside its window
    (the line saying so is printed)."""
    try:
        window = Window.parse(args.window) if args.window else None
        seconds = parse_duration(args.max_duration) if args.max_duration else None
    except ScheduleError as exc:
        option = "--window" if "window" in str(exc) else "--max-duration"
        raise CliError(f"{option}: {exc}") from None
    moment = now or dt.datetime.now(dt.UTC)
    limit = RunLimit.of(seconds, window, moment)
    if limit is None:
        assert window is not None
        print(f"stackdrill: outside the drill window '{window.text}' (now "
              f"{window.describe(moment)}): nothing run")
        return None
    argv: list[str] = []
    if limit.seconds is not None:
        argv.append(f"--max-duration={limit.seconds:.0f}s" if limit.seconds >= 1
                    else "--max-duration=1s")
    for option in ("notify", "notify_url", "phase"):
        value = getattr(args, option, None)
        if value:
            argv.append(f"--{option.replace('_', '-')}={value}")
    return argv


def run_directory(args: argparse.Namespace, pytest_args: list[str]) -> tuple[Path, list[str]]:
    """A new directory for this run's evidence under ``--reports`` (``latest`` is pointed at
    it after the session, by :func:`stackdrill.reporting.runs.settle_run_dir`), and the pytest
    arguments that put the Allure results and junit.xml there and name the
    run in the history (a ``--junitxml`` or ``--alluredir`` after ``--`` wins)."""
    from stackdrill.reporting.runs import ALLURE, JUNIT, RunError, create_run_dir

    try:
        directory = create_run_dir(Path(args.reports), latest=False)
    except (RunError, OSError) as exc:
        raise CliError(f"--reports: {exc}") from None
    argv = [f"--run-id={directory.name}"]
    if not any(arg.startswith("--alluredir") for arg in pytest_args):
        argv.append(f"--alluredir={directory / ALLURE}")
    if not any(arg.startswith(("--junitxml", "--junit-xml")) for arg in pytest_args):
        argv.append(f"--junitxml={directory / JUNIT}")
    return directory, argv
