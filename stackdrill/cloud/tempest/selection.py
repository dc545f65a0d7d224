"""The Tempest step's text, ``Tempest's "<regex>" tests pass``, and its checks before anything
runs: the regex is the one ``tempest run --regex`` hands to stestr, which selects every test
whose id Python's :func:`re.search` finds it in. A regex Python cannot compile is refused when
the features are collected (:func:`step_problems`); one that compiles is matched against the
ids Tempest's virtualenv lists (:mod:`.listing`), and one that selects none is refused too
(:func:`selection_problem`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stackdrill.cloud.tempest.listing import TestList

__all__ = ["TEMPEST_STEP", "compile_problem", "regex_of", "selection_problem", "step_problems"]

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


def selection_problem(regex: str, tests: TestList) -> str | None:
    """Why ``regex`` (one that compiles) selects no test of ``tests`` (one line), or None."""
    if tests.selected(regex):
        return None
    return (f"Tempest's regex \"{regex}\" selects no test of {tests.describe()} "
            f"({len(tests.ids)} tests listed)")
