"""State probes, and how a snapshot gathers them: one SSH round trip per host, hosts in parallel.

Host probes: the contract
-------------------------
A host probe (:class:`Probe`) observes one host. During a snapshot it runs no command of its
own: it contributes a shell *fragment*, the snapshot joins the fragments of every probe that
applies to a host into **one** remote command (``sh -c`` with delimited sections), runs it once
per host over the pooled SSH connection, and hands each probe back its own section. A probe is
a subclass of :class:`Probe` with:

``name``, ``description`` (class attributes)
    As for every registered plugin; ``name`` is unique among probes.
``roles`` (class attribute, optional)
    The inventory roles it applies to; empty means every host. Override :meth:`applies_to` for
    finer conditions (a service the inventory declares). ``applies_to`` must not touch the host.
``rules`` (class attribute, optional)
    Default tolerance rules, e.g. ``("host:*/unit:*/main_pid ignore",)``.
``command(target) -> str``
    A POSIX ``sh`` fragment printing what the probe needs on stdout. It runs in a subshell of
    its own with stdin from /dev/null, so ``exit``, ``cd``, variables and functions stay local.
    It must be read-only, must not leave processes behind, and must be quick: the whole batch
    shares one per-host timeout. Quote every value from the inventory with :func:`shlex.quote`.
    Do not start socket-activated daemons (ask ``systemctl is-active`` first).
``parse(target, output) -> dict[str, Any]``
    Turns its :class:`ProbeOutput` (``stdout``, ``stderr``, ``exit_status``) into JSON-like
    values under paths relative to the host (``"unit:dbus/active"``); the snapshot prefixes
    them with ``host:<name>/``. Use ``output.require_ok()`` when a non-zero exit means the output
    is unusable; raise :class:`ProbeFailed` for output it cannot read. Either is recorded as an
    error under ``host:<name>/probe:<name>`` and the other probes' values are kept.
``problems(values) -> list[str]`` (optional)
    What in its values rules out a healthy cloud (checked before the verified state is recorded).

``observe(target)`` runs one probe on its own (one round trip), for callers outside a snapshot
such as a recovery waiting for one fact. A probe that cannot be written as a fragment may
override ``observe`` instead of ``command``/``parse``; it keeps working but costs round trips of
its own after the batch, so the built-in probes do not.

Transport failures belong to the host, not to a probe: when the batch cannot run (unreachable,
refused, no answer within ``SnapshotSettings.host_timeout``), the snapshot records a single
error under ``host:<name>/ssh`` (``"unreachable: ..."``, ``"timeout: ..."``) and no values for
that host. Health checks report it; comparisons list it as unobserved. A slow or dead host costs
at most one worker for ``host_timeout``; the snapshot never waits longer for it.

Cloud probes
------------
A :class:`CloudProbe` observes the cloud as a whole, once per snapshot, concurrently with the
hosts; its paths are prefixed with ``cloud/``. It lists each resource kind with one paged list
call (never one GET per resource) and may run independent calls concurrently with
:func:`run_calls`. Its errors are recorded under ``cloud/probe:<name>``.
"""

from __future__ import annotations

import secrets
import shlex
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, TypeVar

from stackdrill.cloud.access import CloudAccess, CloudError
from stackdrill.core.errors import InvalidValue
from stackdrill.core.state import Rule, Snapshot, host_wide_source
from stackdrill.hosts.ssh import HostError, HostTimeout
from stackdrill.hosts.target import Target, Targets

T = TypeVar("T")

__all__ = [
    "CloudContext",
    "CloudProbe",
    "Probe",
    "ProbeFailed",
    "ProbeOutput",
    "SnapshotSettings",
    "batch_script",
    "health_problems",
    "run_calls",
    "split_batch",
    "take_snapshot",
]


class ProbeFailed(HostError):
    """A probe's output could not be read; one line naming the host."""


@dataclass(frozen=True)
class ProbeOutput:
    """One probe's section of a host's batch."""

    host: str
    stdout: str
    stderr: str
    exit_status: int

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def require_ok(self) -> str:
        """The stdout, or :class:`ProbeFailed` with the last line of output if it failed."""
        if not self.ok:
            lines = (self.stderr or self.stdout).strip().splitlines()
            detail = lines[-1] if lines else "no output"
            raise ProbeFailed(f"{self.host}: exited {self.exit_status}: {detail}")
        return self.stdout


class _ProbeBase(ABC):
    """What host and cloud probes share: a name, default tolerance rules, health problems."""

    name: ClassVar[str]
    description: ClassVar[str]
    rules: ClassVar[tuple[str, ...]] = ()

    def problems(self, values: dict[str, Any]) -> list[str]:
        """What in the observed values rules out calling it healthy (for the baseline)."""
        return []

    @classmethod
    def tolerance_rules(cls) -> list[Rule]:
        return [Rule.parse(text) for text in cls.rules]


class Probe(_ProbeBase):
    """A host probe; see the module's docstring for the contract."""

    roles: ClassVar[tuple[str, ...]] = ()

    def applies_to(self, target: Target) -> bool:
        return not self.roles or any(role in target.spec.roles for role in self.roles)

    def command(self, target: Target) -> str | None:
        """The probe's shell fragment; ``None`` for a probe that overrides ``observe``."""
        return None

    def parse(self, target: Target, output: ProbeOutput) -> dict[str, Any]:
        raise NotImplementedError(f"probe {self.name} has a command but no parse")

    @property
    def batched(self) -> bool:
        return type(self).command is not Probe.command

    def observe(self, target: Target) -> dict[str, Any]:
        """Run this probe alone on ``target`` (one round trip)."""
        fragment = self.command(target)
        if fragment is None:
            raise NotImplementedError(f"probe {self.name} defines neither command nor observe")
        result = target.run(f"sh -c {shlex.quote(fragment)} </dev/null", record=False)
        return self.parse(target, ProbeOutput(target.name, result.stdout, result.stderr,
                                              result.exit_status))


@dataclass(frozen=True)
class CloudContext:
    """What a cloud probe may use: the APIs, the hosts (e.g. to read a DSN), the redactor."""

    access: CloudAccess
    targets: Targets


class CloudProbe(_ProbeBase):
    """Observes the cloud as a whole, once per snapshot; paths are prefixed with ``cloud/``."""

    @abstractmethod
    def observe_cloud(self, context: CloudContext) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SnapshotSettings:
    """How a snapshot fans out: at most ``workers`` hosts at once, each given ``host_timeout``
    seconds (connecting included) before it is recorded as timed out."""

    workers: int = 16
    host_timeout: float = 20.0

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise InvalidValue(f"snapshot workers must be at least 1, got {self.workers}")
        if not self.host_timeout > 0:
            raise InvalidValue(f"snapshot host timeout must be positive, got {self.host_timeout}")


# -- one command per host ------------------------------------------------------------------------

def batch_script(fragments: Sequence[str], marker: str) -> str:
    """The ``sh`` script that runs every fragment in its own subshell between marker lines on
    stdout and stderr, with each fragment's exit status after its stdout section."""
    parts = []
    for index, fragment in enumerate(fragments):
        tag = shlex.quote(f"{marker} {index}")
        parts.append(
            f"printf '%s begin\\n' {tag}; printf '%s begin\\n' {tag} >&2\n"
            f"( {fragment}\n) </dev/null\n"
            f"rc=$?; printf '\\n%s end %s\\n' {tag} \"$rc\"; "
            f"printf '\\n%s end\\n' {tag} >&2")
    return "\n".join(parts)


def _section(text: str, begin: str, end: str, start: int) -> tuple[str, int] | None:
    first = text.find(begin, start)
    if first < 0:
        return None
    body_start = first + len(begin)
    last = text.find(end, body_start)
    if last < 0:
        return None
    return text[body_start:last], last + len(end)


def split_batch(stdout: str, stderr: str, count: int, marker: str) -> list[ProbeOutput | None]:
    """Each fragment's output, in order; ``None`` where the batch was cut short."""
    sections: list[ProbeOutput | None] = []
    out_at = err_at = 0
    for index in range(count):
        tag = f"{marker} {index}"
        out = _section(stdout, f"{tag} begin\n", f"\n{tag} end ", out_at)
        err = _section(stderr, f"{tag} begin\n", f"\n{tag} end\n", err_at)
        if out is None:
            sections.append(None)
            continue
        body, out_at = out
        status_text, _, _ = stdout[out_at:].partition("\n")
        try:
            status = int(status_text)
        except ValueError:
            sections.append(None)
            continue
        err_body = ""
        if err is not None:
            err_body, err_at = err
        sections.append(ProbeOutput("", body, err_body, status))
    return sections


@dataclass
class _HostResult:
    values: dict[str, Any]
    errors: dict[str, str]
    sources: dict[str, str]
    health: dict[str, str]


def _observe_host(target: Target, probes: Sequence[Probe], marker: str,
                  timeout: float) -> _HostResult:
    result = _HostResult({}, {}, {}, {})
    prefix = f"host:{target.name}"
    fragments: list[tuple[Probe, str]] = []
    for probe in probes:
        if probe.batched:
            fragment = _guarded(result, f"{prefix}/probe:{probe.name}",
                                partial(probe.command, target))
            if fragment is not None:
                fragments.append((probe, fragment))
    if fragments and not _run_batch(target, fragments, marker, timeout, result):
        return result
    for probe in probes:
        if not probe.batched:
            _record(result, probe, prefix, partial(probe.observe, target))
    return result


def _run_batch(target: Target, fragments: Sequence[tuple[Probe, str]], marker: str,
               timeout: float, result: _HostResult) -> bool:
    """Run the fragments as one command and record each probe's values; False when the host
    could not be reached (recorded as its ``ssh`` error)."""
    prefix = f"host:{target.name}"
    script = batch_script([f for _, f in fragments], marker)
    command = f"sh -c {shlex.quote(script)}"
    try:
        ran = target.run(command, timeout=timeout, record=False)
    except HostTimeout:
        result.errors[host_wide_source(target.name)] = (
            f"timeout: {target.name}: no answer within {timeout:g}s")
        return False
    except HostError as exc:
        reason = str(exc).replace(repr(command), "the probe batch")
        result.errors[host_wide_source(target.name)] = f"unreachable: {reason}"
        return False
    outputs = split_batch(ran.stdout, ran.stderr, len(fragments), marker)
    for (probe, _), output in zip(fragments, outputs, strict=True):
        if output is None:
            result.errors[f"{prefix}/probe:{probe.name}"] = (
                f"{target.name}: no output from the probe (batch exited {ran.exit_status})")
            continue
        mine = ProbeOutput(target.name, output.stdout, output.stderr, output.exit_status)
        _record(result, probe, prefix, partial(probe.parse, target, mine))
    return True


def _guarded(result: _HostResult, source: str, call: Callable[[], T]) -> T | None:
    """``call()``, or None with its failure recorded as the source's error (one line)."""
    try:
        return call()
    except (HostError, CloudError) as exc:
        result.errors[source] = str(exc)
    except Exception as exc:
        result.errors[source] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def _record(result: _HostResult, probe: Probe, prefix: str,
            observe: Callable[[], dict[str, Any]]) -> None:
    source = f"{prefix}/probe:{probe.name}"
    observed = _guarded(result, source, observe)
    if observed is None:
        return
    for key, value in observed.items():
        result.values[f"{prefix}/{key}"] = value
        result.sources[f"{prefix}/{key}"] = source
    for problem in probe.problems(observed):
        result.health[source] = problem


# -- the cloud's probes --------------------------------------------------------------------------

class _Workers:
    """A lazily created, long-lived thread pool: its threads keep their per-thread API clients
    (see :class:`CloudAccess`) from one snapshot to the next, so nothing re-authenticates."""

    def __init__(self, size: int, prefix: str) -> None:
        self.size = size
        self.prefix = prefix
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.size, thread_name_prefix=self.prefix)
            return self._pool


_CLOUD_PROBES = _Workers(4, "cloud-probe")
_API_CALLS = _Workers(8, "api-call")


def run_calls(calls: Mapping[str, Callable[[], T]]) -> dict[str, T]:
    """Run independent API calls concurrently (e.g. one list call per resource kind) and return
    their results by name; the first failure is raised. Calls must not nest."""
    jobs = {name: _API_CALLS.pool().submit(call) for name, call in calls.items()}
    return {name: job.result() for name, job in jobs.items()}


def _observe_cloud(probe: CloudProbe, context: CloudContext) -> _HostResult:
    result = _HostResult({}, {}, {}, {})
    source = f"cloud/probe:{probe.name}"
    observed = _guarded(result, source, partial(probe.observe_cloud, context))
    if observed is None:
        return result
    for key, value in observed.items():
        result.values[f"cloud/{key}"] = value
        result.sources[f"cloud/{key}"] = source
    for problem in probe.problems(observed):
        result.health[source] = problem
    return result


# -- the snapshot --------------------------------------------------------------------------------

def _wanted(source: str, focus: frozenset[str] | None, host: str | None = None) -> bool:
    if focus is None:
        return True
    return source in focus or (host is not None and host_wide_source(host) in focus)


class _FanOut:
    """Hosts on a bounded pool; a host that overruns its timeout is recorded and left behind."""

    def __init__(self, settings: SnapshotSettings) -> None:
        self.settings = settings
        self.started: dict[str, float] = {}
        self._lock = threading.Lock()

    def run(self, work: Mapping[str, Callable[[], _HostResult]]) -> list[_HostResult]:
        results: list[_HostResult] = []
        if not work:
            return results
        limit = self.settings.host_timeout
        pool = ThreadPoolExecutor(min(self.settings.workers, len(work)),
                                  thread_name_prefix="snapshot")
        futures: dict[Future[_HostResult], str] = {
            pool.submit(self._timed, host, job): host for host, job in work.items()}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=self._next_deadline(pending, futures),
                                     return_when=FIRST_COMPLETED)
                results += [future.result() for future in done]
                now = time.monotonic()
                for future in list(pending):
                    host = futures[future]
                    began = self.started.get(host)
                    if began is not None and now - began > limit + 0.5:
                        pending.discard(future)
                        results.append(_HostResult({}, {host_wide_source(host): (
                            f"timeout: {host}: no answer within {limit:g}s")}, {}, {}))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return results

    def _timed(self, host: str, job: Callable[[], _HostResult]) -> _HostResult:
        with self._lock:
            self.started[host] = time.monotonic()
        return job()

    def _next_deadline(self, pending: set[Future[_HostResult]],
                       futures: Mapping[Future[_HostResult], str]) -> float:
        limit = self.settings.host_timeout + 0.5
        now = time.monotonic()
        with self._lock:
            ends = [self.started[futures[f]] + limit for f in pending
                    if futures[f] in self.started]
        return max(0.01, min(ends) - now) if ends else 0.05


def take_snapshot(targets: Targets | Iterable[Target], probes: Iterable[Probe | CloudProbe],
                  health: dict[str, str] | None = None, cloud: CloudContext | None = None,
                  settings: SnapshotSettings | None = None,
                  focus: frozenset[str] | None = None) -> Snapshot:
    """Run every applicable probe: one batched command per host on at most ``settings.workers``
    hosts at once, the cloud's probes alongside. Failures become errors, never exceptions.

    With ``health``, each probe's ``problems`` are added to it, keyed by its source
    (``host:<name>/probe:<probe>``). With ``focus`` (a set of such sources, ``host:<name>/ssh``
    meaning every probe of that host, ``cloud/probe:<probe>``), only those are observed.
    """
    settings = settings or SnapshotSettings()
    everything = list(probes)
    host_probes = [p for p in everything if isinstance(p, Probe)]
    cloud_probes = [p for p in everything if isinstance(p, CloudProbe)
                    and _wanted(f"cloud/probe:{p.name}", focus)] if cloud else []
    marker = f"@@stackdrill-{secrets.token_hex(8)}"
    started = time.time()
    work: dict[str, Callable[[], _HostResult]] = {}
    for target in targets:
        chosen = [p for p in host_probes if p.applies_to(target)
                  and _wanted(f"host:{target.name}/probe:{p.name}", focus, target.name)]
        if chosen:
            work[target.name] = partial(_observe_host, target, chosen, marker,
                                        settings.host_timeout)
    cloud_jobs = [_CLOUD_PROBES.pool().submit(_observe_cloud, probe, cloud)
                  for probe in cloud_probes if cloud is not None]
    results = _FanOut(settings).run(work)
    results += [job.result() for job in cloud_jobs]
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    sources: dict[str, str] = {}
    for result in results:
        values.update(result.values)
        errors.update(result.errors)
        sources.update(result.sources)
        if health is not None:
            health.update(result.health)
    return Snapshot(taken_at=started, values=dict(sorted(values.items())),
                    errors=dict(sorted(errors.items())), sources=sources)


def health_problems(targets: Targets | Iterable[Target], probes: Iterable[Probe | CloudProbe],
                    cloud: CloudContext | None = None,
                    settings: SnapshotSettings | None = None) -> dict[str, str]:
    """Everything that keeps the cloud from being called healthy: probes' problems and the
    parts that could not be observed (unreachable hosts included). Empty when healthy."""
    health: dict[str, str] = {}
    snap = take_snapshot(targets, probes, health, cloud, settings)
    return {**snap.errors, **health}
