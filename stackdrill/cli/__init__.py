"""The operator's command line: ``stackdrill lab|plan|run|recover|report|inventory|discover``.

``stackdrill tempest install`` installs Tempest for the Tempest step.

``stackdrill list|describe`` print the catalogue of faults, recoveries, probes and steps;
``stackdrill init DIR`` writes a drill project of one's own.
Every exit code the command line returns is in :data:`EXIT_MEANINGS`, which ``stackdrill --help``
and ``stackdrill run --help`` list. The package is a front door: it may import every layer, the
lab included.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from stackdrill.cli.exits import (
    EXIT_ABORTED,
    EXIT_BAD_INPUT,
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_HARNESS,
    EXIT_INTERRUPTED,
    EXIT_MAX_DURATION,
    EXIT_MEANINGS,
    EXIT_OK,
    CliError,
)
from stackdrill.core.errors import ActionFailed, BadInput, HarnessError

if TYPE_CHECKING:
    from stackdrill.lab.lab import Lab

__all__ = [
    "EXIT_ABORTED",
    "EXIT_BAD_INPUT",
    "EXIT_CODES",
    "EXIT_FAILED",
    "EXIT_HARNESS",
    "EXIT_INTERRUPTED",
    "EXIT_MAX_DURATION",
    "EXIT_MEANINGS",
    "EXIT_OK",
    "CliError",
    "main",
]


class _Parser(argparse.ArgumentParser):
    """Argument errors are one line (no usage block), raised as :class:`CliError`."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    from stackdrill.cli import catalogue, profile, scaffold, tempest
    from stackdrill.inventory import importer as inventory_import

    parser = _Parser(prog="stackdrill", description=__doc__.splitlines()[0],
                     epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_lab_parser, _run_parser, _plan_parser, _recover_parser, _report_parser,
                _discover_parser, inventory_import.add_parser, profile.add_parser,
                catalogue.add_list_parser, catalogue.add_describe_parser, scaffold.add_parser,
                tempest.add_parser):
        add(sub)
    return parser


def _lab_parser(sub: Any) -> None:
    """``stackdrill lab up|down|status|fetch-guest``."""
    from stackdrill.lab.cloud.release import RELEASES

    lab = sub.add_parser("lab", help="the embedded lab cloud on this machine")
    lab.add_argument("action", choices=("up", "down", "status", "fetch-guest"),
                     help="fetch-guest: download the canary guest's kernel and "
                          "busybox-static packages, as root, into $STACKDRILL_GUEST_CACHE "
                          "(default /var/cache/stackdrill/guest), without installing them; "
                          "without them the canaries boot a blank image")
    lab.add_argument("--hosts-only", action="store_true",
                     help="with up: the hosts without the OpenStack cloud")
    lab.add_argument("--units", choices=("packages", "devstack"),
                     help="with up: name the OpenStack units as distribution packages do "
                          "(nova-compute, the default) or as DevStack does (devstack@n-cpu); "
                          "default: $STACKDRILL_LAB_UNITS or packages")
    lab.add_argument("--topology", choices=("single", "ha"),
                     help="with up: one controller (single, the default), or three behind a "
                          "keepalived VIP with Galera, a RabbitMQ cluster and HAProxy (ha); a "
                          "lab up with another topology is refused until lab down")
    lab.add_argument("--release",
                     help="with up: the OpenStack series the cloud runs, current (the default) "
                          "or previous (the series before it, to rehearse an upgrade from), "
                          "each named also by its series or name ("
                          + "; ".join(f"{r.name}: {r.series}, {r.codename}" for r in RELEASES)
                          + "), installed from its own lock file into its own virtualenv; a "
                          "lab up with another release is refused until lab down")


def _run_parser(sub: Any) -> None:
    """``stackdrill run``: drills against a cloud, through pytest."""
    from stackdrill.cli import shipped_drills
    from stackdrill.cli.run_options import add_run_arguments

    run = sub.add_parser("run", help="run drills (features) against a cloud",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("paths", nargs="*", help=shipped_drills.paths_help())
    run.add_argument("--tags", "-m", help="pytest marker expression, e.g. 'compute and not slow'")
    run.add_argument("--inventory", help="inventory file of the cloud's hosts")
    run.add_argument("--os-cloud", help="cloud name in clouds.yaml (default: $OS_CLOUD)")
    run.add_argument("--lab", action="store_true", help="drill the embedded lab")
    run.add_argument("--journal", help="undo journal file")
    run.add_argument("--budget-scale", type=float, help="multiply every time budget")
    run.add_argument("--reports", default="reports",
                     help="each run's Allure results, junit.xml and drill report go into a new "
                          "directory REPORTS/<run>/ (the UTC time it started); REPORTS/latest "
                          "points at the newest (default: reports)")
    run.add_argument("--history", help="drill history file to append each drill's record to "
                                       "(default: $XDG_STATE_HOME/stackdrill/history.jsonl)")
    run.add_argument("--confirm", metavar="CLOUD",
                     help="allow faults on a production inventory whose cloud name is CLOUD")
    run.add_argument("--seed", type=int, metavar="N",
                     help="seed of the hosts chosen at random; the run prints the seed it used "
                          "and keeps it in the evidence, and --seed N chooses the same hosts")
    add_run_arguments(run)
    run.epilog = f"arguments after -- go to pytest as they are\n\n{EXIT_CODES}"


def _plan_parser(sub: Any) -> None:
    """``stackdrill plan``: the dry run."""
    from stackdrill.cli import shipped_drills

    plan = sub.add_parser("plan", help="dry run: show each drill's faults, recoveries, target "
                                       "hosts and commands, touching nothing")
    plan.add_argument("paths", nargs="*", help=shipped_drills.paths_help())
    plan.add_argument("--tags", "-m", help="pytest marker expression, e.g. 'compute and not slow'")
    where = plan.add_mutually_exclusive_group()
    where.add_argument("--inventory", help="inventory file of the cloud's hosts")
    where.add_argument("--lab", action="store_true", help="the embedded lab's inventory")
    plan.add_argument("--seed", type=int, metavar="N",
                      help="show the hosts a run with --seed N chooses at random")
    plan.epilog = "arguments after -- go to pytest as they are"


def _recover_parser(sub: Any) -> None:
    """``stackdrill recover --pending``."""
    recover = sub.add_parser("recover", help="undo faults a dead run left in place")
    recover.add_argument("--pending", action="store_true", required=True,
                         help="undo every fault the journal still lists as armed, and roll "
                              "back every recovery a dead run left half done; a fault or "
                              "recovery the stackdrill.plugins entry points do not register "
                              "is loaded from the module (or the file, if owned by root or "
                              "you and not writable by others) the journal recorded")
    recover.add_argument("--inventory", help="inventory file (default: the lab's)")
    recover.add_argument("--journal", help="undo journal file")
    recover.add_argument("--os-cloud", help="cloud name in clouds.yaml, for rollbacks that "
                                            "use the APIs (default: $OS_CLOUD)")


def _report_parser(sub: Any) -> None:
    """``stackdrill report``: the HTML report or the Markdown table."""
    report = sub.add_parser("report", help="render the drill history, or one run's drills, as "
                                           "one self-contained HTML file, and flag regressions")
    report.add_argument("run", nargs="?", metavar="RUN",
                        help="a run: its name under --reports, 'latest', or its directory; only "
                             "its drills, with their history up to it (default: every drill)")
    report.add_argument("--reports", default="reports",
                        help="the directory holding the runs (default: reports)")
    report.add_argument("--history", help="drill history file "
                                          "(default: $XDG_STATE_HOME/stackdrill/history.jsonl)")
    report.add_argument("--output", help="the HTML file (default: RUN/drills.html, or "
                                         "REPORTS/drills.html)")
    report.add_argument("--last", type=int, metavar="N", help="only each drill's N latest runs")
    report.add_argument("--markdown", action="store_true",
                        help="print the drills as a Markdown table instead (the README's): "
                             "fault, recovery, latest passing time to recover, median and range "
                             "of the latest N runs (--last, default 10), dates and machine")
    report.add_argument("--releases", action="store_true",
                        help="print each drill before and after the upgrade: its runs on the "
                             "two newest OpenStack releases of the history (the Nova major "
                             "version each record names), the verdict and time to recover on "
                             "each, and REGRESSION lines; exit 1 when a drill regressed, 2 when "
                             "the history holds fewer than two releases; with --markdown, as a "
                             "Markdown table")
    report.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"),
                        help="with --releases: the two releases to compare instead (33, "
                             "nova 33 or 33.0.2)")


def _discover_parser(sub: Any) -> None:
    """``stackdrill discover``: a first inventory from the cloud's APIs."""
    discover = sub.add_parser("discover", help="write a first inventory from the cloud's APIs "
                                               "(Keystone endpoints, Nova and Cinder services) "
                                               "for you to edit")
    discover.add_argument("--os-cloud", default=os.environ.get("OS_CLOUD"),
                          help="cloud name in clouds.yaml (default: $OS_CLOUD)")
    discover.add_argument("--output", "-o", help="write the inventory here (default: stdout); "
                                                 "an existing file is not overwritten")


def _lab(action: str, hosts_only: bool = False, units: str | None = None,
         topology: str | None = None, release: str | None = None) -> int:
    from stackdrill.lab.cloud.naming import NamingError, lab_naming
    from stackdrill.lab.cloud.release import release_named
    from stackdrill.lab.guest.fetch import fetch_guest_packages, missing_guest_packages
    from stackdrill.lab.lab import Lab
    from stackdrill.lab.topology import topology_named

    if action == "fetch-guest":
        fetch_guest_packages()
        return EXIT_OK
    try:
        naming = lab_naming(units)
    except NamingError as exc:
        raise CliError(str(exc)) from None
    for option, value in (("--topology", topology), ("--release", release)):
        if value is not None and action != "up":
            raise CliError(f"lab {action}: {option} is for lab up (the lab's own is recorded)")
    # up builds the topology and release asked for (single and current by default); the rest
    # act on the ones built
    lab = Lab(naming=naming,
              topology=topology_named(topology or "single") if action == "up" else None,
              release=release_named(release or "current") if action == "up" else None)
    if action == "up":
        from stackdrill.core.waiting import WaitTimeout
        from stackdrill.engine.state_dir import default_state_dir
        from stackdrill.lab.system import LabError

        try:
            inventory = lab.up(cloud=not hosts_only,
                               journal=default_state_dir() / "journal.jsonl")
        except WaitTimeout as exc:
            raise LabError(f"{exc} (stackdrill lab up starts afresh when run again)") from exc
        for status in lab.status():
            print(status.line())
        print(f"inventory: {inventory}")
        if (missing := missing_guest_packages()) is not None:
            print(f"lab: {missing}")
    elif action == "down":
        lab.down()
        print("lab down")
    else:
        return _lab_status(lab)
    return EXIT_OK


def _lab_status(lab: Lab) -> int:
    """Each host's line, what the cloud answered, and one line per problem; EXIT_FAILED unless
    the lab is fully up."""
    statuses = lab.status()
    for status in statuses:
        print(status.line())
    report = lab.report(statuses)
    for line in report.summary:
        print(line)
    for problem in report.problems:
        print(f"problem: {problem}")
    if report.problems:
        print(f"lab: not fully up ({len(report.problems)} problems)")
        return EXIT_FAILED
    print("lab: fully up")
    return EXIT_OK


def without_wip(tags: str | None) -> str:
    """The marker expression a run and a plan select with: drills tagged ``@wip`` (written,
    not yet run on the lab) are left out unless the expression names ``wip``."""
    if not tags:
        return "not wip"
    if re.search(r"\bwip\b", tags):
        return tags
    return f"({tags}) and not wip"


def _pytest_argv(args: argparse.Namespace, options: Sequence[str], *,
                 cache: bool = True) -> list[str]:
    from stackdrill.cli.shipped_drills import default_argv
    from stackdrill.engine.state_dir import default_state_dir

    argv = list(args.paths) or default_argv(default_state_dir() / "pytest-cache" if cache
                                            else None)
    argv += ["-m", without_wip(args.tags)]
    argv += ["-o", "stackdrill_features=true"]  # feature files no test module binds
    for option in options:
        value = getattr(args, option)
        if value is not None:
            argv += [f"--{option.replace('_', '-')}", str(value)]
    if args.lab:
        argv.append("--lab")
    return argv


def _plan(args: argparse.Namespace, pytest_args: list[str]) -> int:
    import pytest

    argv = [*_pytest_argv(args, ("inventory", "seed"), cache=False), "--stackdrill-plan", "-qq",
            "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    try:
        return _exit_code(int(pytest.main([*argv, *pytest_args])))
    except BrokenPipeError:
        # the reader went away (stackdrill plan | head); nothing was running
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _run(args: argparse.Namespace, pytest_args: list[str]) -> int:
    import pytest

    from stackdrill.cli.run_options import run_directory, scheduled_run
    from stackdrill.pytest_plugin import aborted_drills
    from stackdrill.reporting.runs import settle_run_dir

    scheduled = scheduled_run(args)
    if scheduled is None:  # outside the drill window
        return EXIT_OK
    pytest_args = [*scheduled, *pytest_args]
    directory, reporting = run_directory(args, pytest_args)
    argv = _pytest_argv(args, ("inventory", "os_cloud", "journal", "history", "budget_scale",
                               "confirm", "seed"))
    argv += [*reporting, "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    code = _exit_code(int(pytest.main([*argv, *pytest_args])))
    refused = code == EXIT_BAD_INPUT  # `latest` stays at the last run that ran tests
    settle_run_dir(directory, refused)
    if not refused:  # bad input ran no drill: its one line is all there is to say
        _drill_report(args, directory)
    aborted = aborted_drills()
    if aborted:  # the session stopped after the abort: pytest calls that interrupted
        print(f"stackdrill: aborted by safeguard: {aborted[0]}", file=sys.stderr)
        return EXIT_ABORTED
    return code


def _drill_report(args: argparse.Namespace, directory: Path) -> None:
    """After every run, the HTML report of the run's drills, beside its Allure results; the
    regressions of the drills it ran."""
    from stackdrill.engine.state_dir import default_state_dir
    from stackdrill.reporting import ReportError
    from stackdrill.reporting.report import write_report
    from stackdrill.reporting.runs import REPORT, evidence

    for line in evidence(directory).lines()[1:]:  # a warning when evidence is missing
        print(f"stackdrill: {line}", file=sys.stderr)
    history = Path(args.history) if args.history else default_state_dir() / "history.jsonl"
    if not history.exists():
        return
    output = directory / REPORT
    try:
        lines = write_report(history, output, run=directory.name)
    except ReportError as exc:
        print(f"stackdrill: drill report not written: {exc}", file=sys.stderr)
        return
    for line in lines:
        if line.startswith("REGRESSION"):
            print(f"stackdrill: {line}")
    print(f"stackdrill: drill report: {output}")


def _exit_code(code: int) -> int:
    """pytest's exit code as one of ours (pytest's 3 is an internal error: the harness)."""
    return {
        0: EXIT_OK,
        1: EXIT_FAILED,
        2: EXIT_INTERRUPTED,
        3: EXIT_HARNESS,
        4: EXIT_BAD_INPUT,
        5: EXIT_BAD_INPUT,
        EXIT_MAX_DURATION: EXIT_MAX_DURATION,  # stopped cleanly at --max-duration
    }.get(code, EXIT_HARNESS)


def _recover(args: argparse.Namespace) -> int:
    from stackdrill.api._registry import load_registries
    from stackdrill.cloud.access import CloudAccess
    from stackdrill.engine.recover import journal_for, recovery_lock, undo_pending
    from stackdrill.engine.state_dir import default_state_dir
    from stackdrill.hosts.secrets import inventory_redactor
    from stackdrill.hosts.target import Targets
    from stackdrill.inventory.loader import load_inventory
    from stackdrill.lab.topology import LabPaths

    inventory = load_inventory(args.inventory or LabPaths.default().inventory)
    redactor = inventory_redactor(inventory)
    registries = load_registries()
    targets = Targets(inventory, power_drivers=registries.power_drivers)
    cloud_name = args.os_cloud or os.environ.get("OS_CLOUD") or inventory.cloud
    cloud = CloudAccess(cloud_name, redactor) if cloud_name else None
    if cloud is not None:
        cloud.register_secrets()  # before anything is printed, even if no rollback connects
    journal = journal_for(inventory, Path(args.journal) if args.journal
                          else default_state_dir() / "journal.jsonl", targets, cloud)
    lock = None
    try:
        lock, note, here_only = recovery_lock(inventory, default_state_dir(), journal)
        if note:
            print(redactor(f"stackdrill: {note}"), file=sys.stderr)
        lines, failures = undo_pending(journal, targets, registries, cloud, redactor, here_only)
    finally:
        if cloud is not None:
            cloud.close()
        targets.close()
        if lock is not None:
            lock.release()
    for line in lines:
        print(line)
    return EXIT_FAILED if failures else EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from stackdrill.engine.state_dir import default_state_dir
    from stackdrill.reporting import ReportError

    if args.last is not None and args.last < 1:
        raise CliError("--last: expected a positive number of runs")
    if args.compare and not args.releases:
        raise CliError("--compare: only with --releases")
    history = Path(args.history) if args.history else default_state_dir() / "history.jsonl"
    try:
        if args.releases:
            return _releases(args, history)
        lines = _markdown(args, history) if args.markdown else _html_report(args, history)
    except ReportError as exc:  # RunError among them
        raise CliError(str(exc)) from None
    for line in lines:
        print(line)
    return EXIT_OK


def _html_report(args: argparse.Namespace, history: Path) -> list[str]:
    from stackdrill.reporting.report import write_report
    from stackdrill.reporting.runs import REPORT, evidence, find_run

    reports = Path(args.reports)
    if args.run is None:
        output = Path(args.output) if args.output else reports / REPORT
        return write_report(history, output, args.last)
    directory = find_run(reports, args.run)
    output = Path(args.output) if args.output else directory / REPORT
    return [*evidence(directory).lines(),
            *write_report(history, output, args.last, run=directory.name)]


def _markdown(args: argparse.Namespace, history: Path) -> list[str]:
    from stackdrill.reporting import markdown
    from stackdrill.reporting.report import group, read_history
    from stackdrill.reporting.runs import find_run

    if args.output:
        raise CliError("--output: --markdown prints to stdout")
    run = find_run(Path(args.reports), args.run).name if args.run else None
    runs, _ = read_history(history, run)
    last = args.last or markdown.LAST
    return markdown.render(group(runs, last), last).splitlines()


def _releases(args: argparse.Namespace, history: Path) -> int:
    """Each drill before and after the upgrade, printed; EXIT_FAILED when one regressed."""
    from stackdrill.reporting import markdown, release_comparison
    from stackdrill.reporting.report import group, read_history
    from stackdrill.reporting.runs import find_run

    if args.output:
        raise CliError("--output: --releases prints to stdout")
    run = find_run(Path(args.reports), args.run).name if args.run else None
    runs, _ = read_history(history, run)
    if args.last:
        runs = [item for drill in group(runs, args.last) for item in drill.runs]
    comparison = release_comparison.compare(runs, args.compare)
    text = (markdown.releases_table(comparison).splitlines() if args.markdown
            else comparison.lines())
    for line in text:
        print(line)
    return EXIT_FAILED if comparison.regressed else EXIT_OK


def _discover(args: argparse.Namespace) -> int:
    from stackdrill.inventory.discover import DiscoverError, run_discovery

    output = Path(args.output) if args.output else None
    if output is not None and output.exists():
        raise CliError(f"{output}: exists; discover does not overwrite an inventory")
    try:
        text = run_discovery(args.os_cloud)
    except DiscoverError as exc:
        raise CliError(str(exc)) from None
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
        print(f"inventory: {output}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    from stackdrill.lab.system import LabError

    words = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in words:
        cut = words.index("--")
        words, passthrough = words[:cut], words[cut + 1:]
    try:
        args = _parser().parse_args(words)
        if passthrough and args.command not in ("run", "plan"):
            raise CliError(f"{args.command}: arguments after -- are for pytest, which only run "
                           f"and plan call")
        if args.command == "lab":
            return _lab(args.action, args.hosts_only, args.units, args.topology, args.release)
        if args.command == "run":
            return _run(args, passthrough)
        if args.command == "plan":
            return _plan(args, passthrough)
        if args.command == "report":
            return _report(args)
        if args.command == "discover":
            return _discover(args)
        if args.command == "inventory":
            from stackdrill.inventory import importer as inventory_import
            return inventory_import.run(args)
        if args.command in ("list", "describe"):
            from stackdrill.cli import catalogue
            return catalogue.run(args)
        if args.command == "init":
            from stackdrill.cli import scaffold
            return scaffold.run(args)
        if args.command == "profile":
            from stackdrill.cli import profile
            return profile.run(args)
        if args.command == "tempest":
            from stackdrill.cli import tempest
            return tempest.run(args)
        return _recover(args)
    except (BadInput, ActionFailed) as exc:  # an argument, a file; a host not reached
        print(f"stackdrill: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except LabError as exc:
        print(f"stackdrill: lab: {exc}", file=sys.stderr)
        return EXIT_HARNESS
    except HarnessError as exc:  # the journal or the drill lock refused: nothing was done
        print(f"stackdrill: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"stackdrill: error: {exc}", file=sys.stderr)
        return EXIT_HARNESS
    except KeyboardInterrupt:
        print("stackdrill: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
