"""The snapshot: every probe that applies, observed on every host and on the cloud, with one SSH
round trip per host (the probes' fragments joined by :func:`~stackdrill.api._probe.batch_script`)
and hosts in parallel, each within its own deadline. The contract the probes implement is
:mod:`stackdrill.api._probe`.
"""

from __future__ import annotations

import secrets
import shlex
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, TypeVar

from stackdrill.api._probe import (
    CloudContext,
    CloudProbe,
    Probe,
    ProbeOutput,
    Workers,
    batch_script,
    cloud_path,
    host_path,
    split_batch,
)
from stackdrill.cloud.access import CloudError
from stackdrill.core.errors import InvalidValue
from stackdrill.core.state import Snapshot, host_wide_source
from stackdrill.hosts.ssh import HostError, HostTimeout
from stackdrill.hosts.target import Target, Targets

T = TypeVar("T")

_CLOUD_PROBES = Workers(4, "cloud-probe")


@dataclass(frozen=True)
class SnapshotSettings:
    """How a snapshot fans out: at most ``workers`` hosts at once, each given ``host_timeout``
    seconds (connecting included) before it is recorded as timed out. With ``incremental_api``
    (the default), a snapshot between a drill's boundaries re-polls the cloud's long lists by
    what changed since the drill last listed them (:mod:`stackdrill.cloud.listings`); off, it
    lists them in full, as at the boundaries (the pytest option ``--full-api-polls``)."""

    workers: int = 16
    host_timeout: float = 20.0
    incremental_api: bool = True

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise InvalidValue(f"snapshot workers must be at least 1, got {self.workers}")
        if not self.host_timeout > 0:
            raise InvalidValue(f"snapshot host timeout must be positive, got {self.host_timeout}")




@dataclass
class _HostResult:
    values: dict[str, Any]
    errors: dict[str, str]
    sources: dict[str, str]
    health: dict[str, str]


def _observe_host(target: Target, probes: Sequence[Probe], marker: str,
                  timeout: float) -> _HostResult:
    result = _HostResult({}, {}, {}, {})
    prefix = host_path(target.name)
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
    prefix = host_path(target.name)
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



def _observe_cloud(probe: CloudProbe, context: CloudContext) -> _HostResult:
    result = _HostResult({}, {}, {}, {})
    source = cloud_path(f"probe:{probe.name}")
    observed = _guarded(result, source, partial(probe.observe_cloud, context))
    if observed is None:
        return result
    for key, value in observed.items():
        result.values[cloud_path(key)] = value
        result.sources[cloud_path(key)] = source
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
                  focus: frozenset[str] | None = None, boundary: bool = True) -> Snapshot:
    """Run every applicable probe: one batched command per host on at most ``settings.workers``
    hosts at once, the cloud's probes alongside. Failures become errors, never exceptions.

    With ``health``, each probe's ``problems`` are added to it, keyed by its source
    (``host:<name>/probe:<probe>``). With ``focus`` (a set of such sources, ``host:<name>/ssh``
    meaning every probe of that host, ``cloud/probe:<probe>``), only those are observed.
    A ``boundary`` snapshot (the default) lists the cloud's long lists in full; one between a
    drill's boundaries may re-poll them by what changed (``settings.incremental_api``).
    """
    settings = settings or SnapshotSettings()
    if cloud is not None:
        cloud = replace(cloud, incremental=not boundary and settings.incremental_api)
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
