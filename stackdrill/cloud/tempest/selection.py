"""The Tempest step's text, ``Tempest's "<regex>" tests pass``, and its check at collection: the
regex is the one ``tempest run --regex`` hands to stestr, which selects every test whose id
Python's :func:`re.search` finds it in, so a regex Python cannot compile is refused before the
run starts (one line, exit 2). A regex that compiles but selects no test fails the step when it
runs: which tests exist is known only to the Tempest of the virtualenv."""

from __future__ import annotations

import re

__all__ = ["TEMPEST_STEP", "regex_of", "step_problems"]

TEMPEST_STEP = "Tempest's " + '"(?P<regex>[^"]+)" tests pass'
"""The step's text; the regex may hold anything but a double quote."""


def regex_of(text: str) -> str | None:
    """The regex of a Tempest step's text, or None for any other step."""
    match = re.fullmatch(TEMPEST_STEP, text.strip())
    return match["regex"] if match else None


def compile_problem(regex: str) -> str | None:
    """Why Python cannot compile ``regex`` (one line), or None."""
    try:
        re.compile(regex)
    except re.error as exc:
        return f"Tempest's regex \"{regex}\" does not compile: {exc}"
    return None


def step_problems(where: str, text: str) -> list[str]:
    """A Tempest step whose regex does not compile, as ``<where>: <why>``."""
    regex = regex_of(text)
    problem = compile_problem(regex) if regex is not None else None
    return [f"{where}: {problem}"] if problem else []
