"""What a recovery is: a runbook of named steps, each timed, each command recorded.

A recovery is what an operator does to bring the cloud back after a fault, written as the
runbook they would follow: :meth:`Recovery.runbook` returns :class:`RunbookStep` objects, and
the drill runs them in order. The shared pieces a runbook is written with live here too:
:func:`wait` (poll until true, for a step), :func:`after_reboot_steps` (the first two steps
after a host reboots), :meth:`Recovery.api_call` (an API call shown as the CLI command it
stands for) and :meth:`Recovery.cloud` (the openstacksdk connection). Drill authors import
the public ones from :mod:`stackdrill.api`, not from here; the step and runbook records are the
engine's.
"""

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
    """One step of a runbook, as an operator reads it.

    ``title`` names it in the report, the timeline and the failure message ("Start libvirtd
    on compute1"). ``action`` does it, called with no argument when the step's turn comes; its
    return value is ignored, and an :class:`~stackdrill.core.errors.ActionFailed` it raises
    (a :class:`~stackdrill.api.HostError`, :class:`RecoveryFailed`, ...) fails the
    step. Anything else it raises rolls the runbook back too, but ends the drill as an error
    with a traceback: wait with :func:`wait`, whose timeout fails the step, not with a bare
    :func:`~stackdrill.core.waiting.poll`, whose :class:`WaitTimeout` is not an
    ``ActionFailed``. ``commands`` are the commands it stands for, as text: the dry run and
    the report print them, nothing runs them. Bind what the action needs with
    :func:`functools.partial` or a method; building the steps must not contact a host, since
    the dry run builds them with targets that cannot connect.
    """

    title: str
    action: Callable[[], object]
    commands: tuple[str, ...] = ()


@dataclass
class StepRecord:
    """What one step did in a drill: when it started, how long it took, whether it succeeded
    (else its error), and every command its action ran with ``record`` on."""

    title: str
    started: float
    duration: float = 0.0
    ok: bool = False
    error: str | None = None
    commands: list[CommandResult] = field(default_factory=list)


@dataclass
class RunbookRecord:
    """What one recovery did in a drill, step by step; ``render`` is the text the evidence
    shows, and the drill's result keeps it."""

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
    the drill's faults recorded about this target (e.g. its boot identity before a reboot).

    In a dry run all three are empty; ``stackdrill recover --pending`` gives the hosts and the
    cloud but no fault facts. A runbook that needs one says so with :class:`RecoveryFailed`
    (:meth:`Recovery.cloud` does)."""

    targets: Targets | None = None
    cloud: CloudAccess | None = None
    fault_facts: tuple[Mapping[str, Any], ...] = ()


class Recovery(ABC):
    """Subclass, set ``name``, ``description`` and ``params``, return the steps from ``runbook``.

    ``name`` is what a feature writes (``When the recovery "restart_services" runs on the
    compute host``) and is unique among recoveries; ``description`` is one line for the
    catalogue; ``params`` maps each parameter a feature's table may give to its
    :class:`~stackdrill.api.Param`. An instance is made per use, with the
    chosen host's ``target``, the table's raw strings and a :class:`RecoveryContext`;
    ``values`` holds the parameters parsed (defaults filled in), and a missing, unknown or
    malformed one raises :class:`~stackdrill.api.ParamError`.

    When each part runs:

    - ``validate`` (a class method) at collection, for each step that names the recovery:
      bad parameters refuse the run before anything is touched.
    - ``runbook`` in the dry run (its titles and commands printed, no host contacted) and in
      the drill, after every fault so far has been confirmed. The recovery is journalled before
      its first step. Before each step the drill checks its safeguards; each step is timed and
      the commands it runs are recorded under it. A step that raises an
      :class:`~stackdrill.core.errors.ActionFailed` ends the runbook: the drill fails with
      :class:`RecoveryFailed` naming the step.
    - ``rollback`` after a step failed, after the runbook was stopped (Ctrl-C, SIGTERM, a
      safeguard), and by ``stackdrill recover --pending`` for a runbook a killed run left half
      done, from a new instance made with the same parameters and a context without
      ``fault_facts``.
    """

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
        """Refuse a feature's parameters with a one-line
        :class:`~stackdrill.api.ParamError` (checked at collection, before anything
        runs)."""
        parse_params(f"recovery {cls.name!r}", cls.params, raw_params)

    @abstractmethod
    def runbook(self) -> list[RunbookStep]:
        """The steps, in the order they run. Build them from ``values`` and the target's name
        alone: the dry run calls this with a target that cannot connect, and the drill calls it
        once, before the first step runs."""

    def rollback(self) -> list[str]:
        """After a failed step: undo what the runbook changed on purpose and that must not
        outlast it (a service it disabled); return what was done. Most runbooks have none.

        It runs after a failed or stopped runbook, whichever step it reached, and from
        ``stackdrill recover --pending`` on a new instance in another process: read the state
        from the hosts, not from attributes the steps set. An
        :class:`~stackdrill.core.errors.ActionFailed` it raises is reported beside the step's
        failure, and the journal keeps the recovery pending for ``recover --pending``."""
        return []

    def cloud(self) -> Any:
        """The openstacksdk connection (one per thread, for the cloud the run was given); a
        recovery that needs it fails clearly without it (:class:`RecoveryFailed`)."""
        if self.context.cloud is None:
            raise RecoveryFailed(f"recovery {self.name!r} needs the cloud's APIs "
                                 f"(clouds.yaml / --os-cloud)")
        return self.context.cloud.connection()

    def api_call(self, label: str, call: Callable[[], list[str]]) -> list[str]:
        """Run an API call standing in for an operator's CLI command (``label``) and record
        its result, one line per resource, as the command's output (host ``api`` in the
        evidence and the step's record); return those lines. Whatever the call raises becomes
        a :class:`RecoveryFailed` whose one line starts with ``label``."""
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
    """Poll ``check`` until it returns something true, for a runbook step (or any action of a
    fault or a recovery that must wait), and return that value; ``timeout`` seconds after the
    first call the step fails (:class:`RecoveryFailed` with the wait's one-line message).
    ``check`` is called with no argument; ``description`` names what is awaited, in the
    evidence's record of the wait and in the timeout's message ("nova-compute running on
    compute1"). A host that does not answer (:class:`~stackdrill.api.HostError`), a failed
    API call (:class:`RecoveryFailed`) and an API that is not there yet (no connection, or a
    5xx: a load balancer with no backend up answers 503 while the services behind it start)
    are retried; an API's refusal (another 4xx) fails the step at once, as does a resource in
    an error state (:class:`ResourceFailed`). Polls every 1 s at first, then up to every 3 s,
    under the drill's safeguards like every wait."""
    failed: list[BaseException] = []

    def attempt() -> Any:
        try:
            return _api_not_there_yet(check)
        except (ResourceFailed, ApiRefused) as exc:
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


class ApiRefused(RecoveryFailed):
    """An API refused a call a wait made (a 4xx other than a conflict or too many requests):
    waiting longer would not change its answer."""


RETRIED_STATUSES = frozenset({409, 429})


def _api_not_there_yet(check: Callable[[], Any]) -> Any:
    """``check()``, with openstacksdk's and keystoneauth's errors turned into the wait's
    vocabulary: a 4xx refusal into :class:`ApiRefused`, anything else (a 5xx, no connection)
    into :class:`RecoveryFailed`, which the wait retries."""
    from keystoneauth1.exceptions import ClientException
    from openstack.exceptions import HttpException, SDKException

    try:
        return check()
    except HttpException as exc:
        status = exc.status_code or 0
        if 400 <= status < 500 and status not in RETRIED_STATUSES:
            raise ApiRefused(_one_line(exc)) from exc
        raise RecoveryFailed(_one_line(exc)) from exc
    except (SDKException, ClientException) as exc:
        raise RecoveryFailed(_one_line(exc)) from exc


def _one_line(exc: BaseException) -> str:
    """The error's first line, led by its type unless its text already is (openstacksdk's
    HttpException says "HttpException: 503: ...")."""
    text = str(exc)
    name = type(exc).__name__
    return (text if text.startswith(f"{name}:") else f"{name}: {text}").splitlines()[0]


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
