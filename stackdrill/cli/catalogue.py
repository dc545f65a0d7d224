"""``stackdrill list`` and ``stackdrill describe``: what the registries and the built-in steps
offer, one line per item or one item in full, and the whole catalogue as the Markdown page
docs/reference.md (``list --markdown``). The text is :mod:`stackdrill.reporting.catalogue`'s."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from stackdrill.cli.exits import EXIT_OK, CliError
from stackdrill.reporting.catalogue import GENERATED, KINDS


def add_list_parser(sub: Any) -> None:
    """``stackdrill list faults|recoveries|probes|steps``, or ``list --markdown``."""
    listing = sub.add_parser("list", help="one line per registered fault, recovery or probe "
                                          "(name and description), or per built-in step")
    listing.add_argument("kind", nargs="?", choices=KINDS,
                         help="what to list; steps: each Given/When/Then of the built-in step "
                              "modules, how it is matched, and its text or pattern")
    listing.add_argument("--markdown", action="store_true",
                         help=f"print the whole catalogue as one Markdown page instead, every "
                              f"item in full ({GENERATED})")


def add_describe_parser(sub: Any) -> None:
    """``stackdrill describe NAME``."""
    describe = sub.add_parser("describe", help="a fault, recovery or probe in full: its "
                                               "description, docstring, parameters, what a "
                                               "fault's confirm proves and its undo does, its "
                                               "roles, a probe's paths")
    describe.add_argument("name", help="the name it is registered under (see stackdrill list)")


def run(args: argparse.Namespace) -> int:
    """``list`` or ``describe``; an unknown name is bad input (one line, exit 2)."""
    from stackdrill.api._registry import load_registries
    from stackdrill.reporting import catalogue

    if args.command == "describe":
        return _print("\n".join(catalogue.describe(load_registries(), args.name)) + "\n")
    if args.markdown:
        if args.kind is not None:
            raise CliError("list: --markdown prints the whole catalogue; name no kind with it")
        return _print(catalogue.markdown(load_registries(), catalogue.builtin_steps()))
    if args.kind is None:
        raise CliError(f"list: name what to list: {', '.join(KINDS)} (or --markdown)")
    if args.kind == "steps":
        lines = catalogue.step_lines(catalogue.builtin_steps())
    else:
        lines = catalogue.list_lines(catalogue.entries(load_registries(), args.kind))
    return _print("".join(f"{line}\n" for line in lines))


def _print(text: str) -> int:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away (stackdrill list faults | head); nothing else to do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK
