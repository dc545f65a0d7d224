"""What a recovery is: a runbook of named steps, each timed, each command recorded."""

from __future__ import annotations

import functools
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from stackdrill.cloud.access import CloudAccess
from stackdrill.core.errors import ActionFailed
from stackdrill.core.params import Param, parse_params
from stackdrill.core.waiting import WaitTimeout, poll
from stackdrill.hosts.ssh import CommandResult, HostError
from stackdrill.hosts.target import Target, Targets


class RecoveryFailed(ActionFailed):
    """A runbook step failed; the message names the recovery and the step."""


class ResourceFailed(RecoveryFailed):
    """A resource the runbook waits on went to an error state, or a request was refused for
    good: waiting longer cannot help."""


@dataclass(frozen=True)
class RunbookStep:
    title: str
    action: Callable[[], object]
    commands: tuple[str, ...] = ()


@dataclass
class StepRecord:
    title: str
    started: float
    duration: float = 0.0
    ok: bool = False
    error: str | None = None
    commands: list[CommandResult] = field(default_factory=list)


@dataclass
class RunbookRecord:
    recovery: str
    target: str
    steps: list[StepRecord] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    def render(self) -> str:
        lines = [f"recovery {self.recovery} on {self.target}"]
        for number, step in enumerate(self.steps, 1):
            state = "ok" if step.ok else f"FAILED: {step.error}"
            lines.append(f"{number}. {step.title} ({step.duration:.2f}s) {state}")
            lines.extend("   " + line for c in step.commands for line in c.render().splitlines())
        return "\n".join(lines)


@dataclass(frozen=True)
class RecoveryContext:
    """What a runbook may use besides its target: every host, the cloud's APIs, and the facts
    the drill's faults recorded about this target (e.g. its boot identity before a reboot)."""

    targets: Targets | None = None
    cloud: CloudAccess | None = None
    fault_facts: tuple[Mapping[str, Any], ...] = ()


class Recovery(ABC):
    """Subclass, set ``name``, ``description`` and ``params``, return the steps from ``runbook``."""

    name: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[Mapping[str, Param]] = {}

    def __init__(self, target: Target, raw_params: Mapping[str, str],
                 context: RecoveryContext | None = None) -> None:
        self.target = target
        self.context = context or RecoveryContext()
        self.values: dict[str, Any] = parse_params(f"recovery {self.name!r}", self.params,
                                                   raw_params)

    @classmethod
    def validate(cls, raw_params: Mapping[str, str]) -> None:
        parse_params(f"recovery {cls.name!r}", cls.params, raw_params)

    @abstractmethod
    def runbook(self) -> list[RunbookStep]: ...

    def rollback(self) -> list[str]:
        """After a failed step: undo what the runbook changed on purpose and that must not
        outlast it (a service it disabled); return what was done. Most runbooks have none."""
        return []

    def cloud(self) -> Any:
        """The openstacksdk connection; a recovery that needs it fails clearly without it."""
        if self.context.cloud is None:
            raise RecoveryFailed(f"recovery {self.name!r} needs the cloud's APIs "
                                 f"(clouds.yaml / --os-cloud)")
        return self.context.cloud.connection()

    def api_call(self, label: str, call: Callable[[], list[str]]) -> list[str]:
        """Run an API call standing in for an operator's CLI command (``label``) and record
        its result, one line per resource, as the command's output."""
        started, clock = time.time(), time.monotonic()
        try:
            lines = call()
        except Exception as exc:
            raise RecoveryFailed(f"{label}: {type(exc).__name__}: {exc}".splitlines()[0]) \
                from exc
        result = CommandResult(host="api", command=label, exit_status=0,
                               stdout="".join(f"{line}\n" for line in lines), stderr="",
                               started=started, duration=time.monotonic() - clock)
        for listener in self.context.targets.listeners if self.context.targets else []:
            listener(result)
        return lines


def wait(check: Callable[[], Any], timeout: float, description: str) -> Any:
    """Poll ``check`` until it returns something true, for a runbook step; a timeout fails the
    step. A host that does not answer and a failed API call are retried; a resource in an error
    state (:class:`ResourceFailed`) fails the step at once."""
    failed: list[ResourceFailed] = []

    def attempt() -> Any:
        try:
            return check()
        except ResourceFailed as exc:
            failed.append(exc)
            return True

    try:
        value, _ = poll(attempt, timeout=timeout, interval=1.0, max_interval=3.0,
                        description=description, ignore=(HostError, RecoveryFailed))
    except WaitTimeout as exc:
        raise RecoveryFailed(str(exc)) from exc
    if failed:
        raise RecoveryFailed(f"{description}: {failed[0]}") from failed[0]
    return value


def after_reboot_steps(recovery: Recovery, timeout: float) -> list[RunbookStep]:
    """The first two steps after any host reboots: wait until it answers, then prove from its
    boot identity (recorded by the fault) that it really rebooted."""
    from stackdrill.hostkit.reboots import prove_reboot, wait_for_host

    name = recovery.target.name
    return [
        RunbookStep(f"Wait for {name} to answer", functools.partial(
            wait_for_host, recovery.target, timeout)),
        RunbookStep(f"Prove {name} rebooted (boot identity changed)", functools.partial(
            prove_reboot, recovery.target, recovery.context.fault_facts)),
    ]
