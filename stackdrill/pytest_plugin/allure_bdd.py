"""Every Gherkin step as an Allure step, with the drill's evidence attached inside it.

allure-pytest records plain tests but not pytest-bdd's steps; allure-pytest-bdd records steps but
not plain tests, and the two cannot be installed together. stackdrill keeps allure-pytest, so the
unit and lab tests are reported too, and opens an Allure step around each Gherkin step here.
A test another tool ran inside a step (each Tempest test of the Tempest step) becomes an Allure
sub-step of its own, passed, failed or skipped as that test was.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import allure
import pytest

from stackdrill.core.errors import StackdrillError
from stackdrill.core.evidence import Evidence, Redactor

_STEP = pytest.StashKey[Any]()


class SubStepFailed(StackdrillError, AssertionError):
    """A sub-step that failed elsewhere (a Tempest test): never raised, handed to Allure so
    that it marks the sub-step failed (an AssertionError is a failure, not a broken step)."""


def _ending(status: str, message: str) -> BaseException | None:
    """What ends an Allure step with ``status``: nothing, a failure or a skip."""
    first = next((line.strip() for line in reversed(message.splitlines()) if line.strip()),
                 status)
    if status == "failed":
        return SubStepFailed(first)
    if status == "skipped":
        return pytest.skip.Exception(first)
    return None


class AllureEvidence(Evidence):
    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__(redactor)

    def attach_text(self, name: str, text: str) -> None:
        super().attach_text(name, text)
        allure.attach(self.attachments[-1][1], name=name,
                      attachment_type=allure.attachment_type.TEXT)

    def attach_json(self, name: str, data: Any) -> None:
        super().attach_json(name, data)
        allure.attach(self.attachments[-1][1], name=name,
                      attachment_type=allure.attachment_type.JSON)

    def attach_xml(self, name: str, text: str) -> None:
        super().attach_xml(name, text)
        allure.attach(self.attachments[-1][1], name=name,
                      attachment_type=allure.attachment_type.XML)

    def outcome_step(self, title: str, status: str, message: str = "") -> None:
        super().outcome_step(title, status, message)
        title, status, message = self.outcomes[-1]
        context = allure.step(title)
        context.__enter__()
        if status == "failed" and message:
            allure.attach(message, name="failure", attachment_type=allure.attachment_type.TEXT)
        ending = _ending(status, message)
        context.__exit__(type(ending) if ending else None, ending, None)

    def time_to_recover(self, seconds: float, budget: float) -> None:
        super().time_to_recover(seconds, budget)
        allure.dynamic.parameter("time to recover", f"{seconds:.1f}s of {budget:g}s",
                                 excluded=True)

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        with allure.step(self.redact(title)):
            yield


def _title(step: Any) -> str:
    return f"{step.keyword.strip()} {step.name}"


def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: Any,
                               scenario: Any) -> None:
    allure.dynamic.title(scenario.name)
    allure.dynamic.feature(feature.name)
    allure.dynamic.story(scenario.name)
    if feature.description:
        allure.dynamic.description(feature.description)


def pytest_bdd_before_step(request: pytest.FixtureRequest, feature: Any, scenario: Any,
                           step: Any, step_func: Any) -> None:
    context = allure.step(_title(step))
    context.__enter__()
    request.node.stash[_STEP] = context


def _close(request: pytest.FixtureRequest, exc: BaseException | None) -> None:
    context = request.node.stash.get(_STEP, None)
    if context is None:
        return
    del request.node.stash[_STEP]
    if exc is None:
        context.__exit__(None, None, None)
    else:
        context.__exit__(type(exc), exc, exc.__traceback__)


def pytest_bdd_after_step(request: pytest.FixtureRequest, feature: Any, scenario: Any,
                          step: Any, step_func: Any, step_func_args: Any) -> None:
    _close(request, None)


def pytest_bdd_step_error(request: pytest.FixtureRequest, feature: Any, scenario: Any,
                          step: Any, step_func: Any, step_func_args: Any,
                          exception: Exception) -> None:
    _close(request, exception)
