"""What the command line returns: its exit codes, what each means (the ``exit codes:`` block
of ``stackdrill --help``), and :class:`CliError`, the bad input it reports in one line."""

from __future__ import annotations

import textwrap

from stackdrill.core.errors import BadInput

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
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_ABORTED = 3
EXIT_INTERRUPTED = 130
EXIT_MAX_DURATION = 124  # stackdrill.engine.schedule: stopped at --max-duration, faults undone
EXIT_HARNESS = EXIT_FAILED  # a run that broke did not pass; stderr and the report say why

EXIT_MEANINGS: dict[int, str] = {
    EXIT_OK: "every drill passed (or the run was outside its --window: nothing ran)",
    EXIT_FAILED: "a drill failed, or the harness broke (the reason on stderr, the report files "
                 "it under harness error); recover --pending: an undo failed or could not run "
                 "(its class not loadable: the entry stays pending); lab status: the "
                 "lab is not fully up (a host, unit, API or canary down, or no clouds.yaml); "
                 "profile verify: a service missing, not running or renamed, or a host not "
                 "reached; report --releases: a drill regressed across the upgrade",
    EXIT_BAD_INPUT: "bad input (arguments, inventory, feature, host access, a held drill lock, "
                    "faults a dead run left pending), refused before anything was injected",
    EXIT_ABORTED: "a drill was aborted by a safeguard (its faults undone, the run stopped)",
    EXIT_MAX_DURATION: "stopped at --max-duration or the --window's close (every fault undone)",
    EXIT_INTERRUPTED: "interrupted by SIGINT or SIGTERM (every pending undo has run)",
}
EXIT_CODES = "exit codes:\n" + "\n".join(
    textwrap.fill(meaning, width=79, initial_indent=f"  {code:<5}", subsequent_indent=" " * 7,
                  break_on_hyphens=False, break_long_words=False)
    for code, meaning in EXIT_MEANINGS.items())


class CliError(BadInput):
    """Bad input; printed as one line, exit code 2."""
