"""State probes: the contract a host probe (:class:`Probe`) and a cloud probe
(:class:`CloudProbe`) implement, the paths their values go under (:func:`host_path`,
:func:`cloud_path`), and the one-command batch their fragments are joined into. The snapshot that
gathers them (one SSH round trip per host, hosts in parallel) is
:mod:`stackdrill.engine.snapshot`. Drill authors import the public names from
:mod:`stackdrill.api`; this module is not part of that door.

Host probes
-----------
The contract is :class:`Probe`'s. Transport failures belong to the host, not to a probe: when
the batch cannot run (unreachable, refused, no answer within ``SnapshotSettings.host_timeout``),
the snapshot records a single error under ``host:<name>/ssh`` (``"unreachable: ..."``,
``"timeout: ..."``) and no values for that host. Health checks report it; comparisons list it
as unobserved, and each value the verified state had there as unknown (never as gone). A slow
or dead host costs at most one worker for ``host_timeout``; the snapshot never waits longer for
it.

Cloud probes
------------
A :class:`CloudProbe` observes the cloud as a whole, once per snapshot, concurrently with the
hosts; its paths are prefixed with ``cloud/``. It lists each resource kind with one paged list
call (never one GET per resource) and may run independent calls concurrently with
:func:`run_calls`. Its errors are recorded under ``cloud/probe:<name>``.

Lifetime and reach
------------------
Every registered probe takes part in every drill of the run: a probe is not chosen by a
feature. Each drill (one per scenario) makes one instance of every registered probe when it
starts, and uses it for every snapshot of that drill (the verified state, the pre-flight, each
comparison, the wait for the verified state, the safeguards' background observations) until the
scenario ends; the next scenario gets new instances. Within a drill, the methods are called for
each host in each snapshot, from the snapshot's threads (one per host, and the safeguards'
thread alongside): anything kept on the instance must hold for every host and be safe to use
from several threads at once. A probe's default ``rules`` join every drill's tolerance, before
the feature's own rules (which win). Its ``problems``, and any error it records, keep every
drill from recording its verified state: the drill waits up to ``--settle`` seconds (180 by
default) for the cloud to be healthy, then refuses to start, naming the first problem.
"""

from __future__ import annotations

import shlex
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.listings import Listings
from stackdrill.core.state import Rule
from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import Target, Targets

_T = TypeVar("_T")

__all__ = [
    "CloudContext",
    "CloudProbe",
    "Probe",
    "ProbeFailed",
    "ProbeOutput",
    "Workers",
    "batch_script",
    "cloud_path",
    "host_path",
    "run_calls",
    "split_batch",
]


def host_path(host: str, path: str = "") -> str:
    """The snapshot path of a value a host probe observed on ``host`` under ``path`` (the key
    its ``parse`` returned), as a feature's tables name it: ``host_path("compute1",
    "unit:dbus/active")`` is ``"host:compute1/unit:dbus/active"``. Without ``path``, the host's
    own prefix (``"host:compute1"``). A probe's failure on the host is recorded under
    ``host_path(host, "probe:<probe>")``, a host that did not answer under
    ``host_path(host, "ssh")``."""
    return f"host:{host}/{path}" if path else f"host:{host}"


def cloud_path(path: str = "") -> str:
    """The snapshot path of a value a cloud probe observed under ``path`` (the key its
    ``observe_cloud`` returned): ``cloud_path("server:canary/status")`` is
    ``"cloud/server:canary/status"``. Without ``path``, ``"cloud"``. A cloud probe's failure
    is recorded under ``cloud_path("probe:<probe>")``."""
    return f"cloud/{path}" if path else "cloud"


class ProbeFailed(HostError):
    """A probe's output could not be read; one line naming the host."""


@dataclass(frozen=True)
class ProbeOutput:
    """What a probe's fragment printed on one host, handed to its ``parse``: the host's name,
    the fragment's stdout and stderr, and its exit status."""

    host: str
    stdout: str
    stderr: str
    exit_status: int

    @property
    def ok(self) -> bool:
        """Whether the fragment exited 0."""
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
        """The ``rules`` parsed: the defaults every drill's tolerance starts from."""
        return [Rule.parse(text) for text in cls.rules]


class Probe(_ProbeBase):
    """A host probe: it observes each host it applies to, in every snapshot of the cloud's state.
    Subclass it, set ``name`` and ``description``, write ``command`` and ``parse``, and register
    it (``registries.probes.register(MyProbe)``).

    During a snapshot a probe runs no command of its own: it contributes a shell *fragment*, the
    snapshot joins the fragments of every probe that applies to a host into **one** remote
    command (``sh -c`` with delimited sections), runs it once per host over the pooled SSH
    connection, and hands each probe back its own section.

    ``name``, ``description`` (class attributes)
        As for every registered plugin; ``name`` is unique among probes.
    ``roles`` (class attribute, optional)
        The inventory roles it applies to; empty means every host. Override :meth:`applies_to`
        for finer conditions (a service the inventory declares); it must not touch the host.
    ``rules`` (class attribute, optional)
        Default tolerance rules, e.g. ``("host:*/unit:*/main_pid ignore",)``.
    ``command(target) -> str``
        A POSIX ``sh`` fragment printing what the probe needs on stdout. It runs in a subshell
        of its own with stdin from /dev/null, so ``exit``, ``cd``, variables and functions stay
        local. It must be read-only, must not leave processes behind, and must be quick: the
        whole batch shares one per-host timeout. Quote every value from the inventory with
        :func:`shlex.quote`. Do not start socket-activated daemons (ask ``systemctl is-active``
        first).
    ``parse(target, output) -> dict[str, Any]``
        Turns its :class:`ProbeOutput` (``stdout``, ``stderr``, ``exit_status``) into JSON-like
        values under paths relative to the host (``"unit:dbus/active"``); the snapshot records
        each under :func:`host_path` (``host:<name>/unit:dbus/active``), the path a feature's
        tables name. Use ``output.require_ok()`` when a non-zero exit means the output is
        unusable; raise :class:`ProbeFailed` for output it cannot read. Either is recorded as
        an error under ``host:<name>/probe:<probe>`` and the other probes' values are kept.
    ``problems(values) -> list[str]`` (optional)
        What in its values rules out a healthy cloud (checked before the verified state is
        recorded).

    ``observe(target)`` runs one probe on its own (one round trip), for callers outside a
    snapshot such as a recovery waiting for one fact. A probe that cannot be written as a
    fragment may override ``observe`` instead of ``command``/``parse``; it keeps working but
    costs round trips of its own after the batch, so the built-in probes do not.

    Every registered probe takes part in every drill of the run. Each drill makes one instance
    of it when the scenario starts and uses it for every snapshot until the scenario ends,
    calling its methods for each host from several threads at once: anything kept on the
    instance must hold for every host and be safe to share between threads. Its ``problems``,
    and any error it records, keep a drill from starting until the cloud is healthy.
    """

    roles: ClassVar[tuple[str, ...]] = ()

    def applies_to(self, target: Target) -> bool:
        """Whether to observe ``target`` in a snapshot: by default, whether it carries one of
        ``roles`` (every host when ``roles`` is empty). Called for each host in each snapshot;
        decide from the inventory alone, never from the host."""
        return not self.roles or any(role in target.spec.roles for role in self.roles)

    def command(self, target: Target) -> str | None:
        """The probe's shell fragment; ``None`` for a probe that overrides ``observe``."""
        return None

    def parse(self, target: Target, output: ProbeOutput) -> dict[str, Any]:
        """The values this probe observed on ``target``, by path relative to the host
        (``"unit:dbus/active": "active"``), from its fragment's output. Values are JSON-like
        (strings, numbers, booleans, lists); the paths should be the same from one snapshot to
        the next while nothing changes, since a path that appears or goes is a deviation."""
        raise NotImplementedError(f"probe {self.name} has a command but no parse")

    @property
    def batched(self) -> bool:
        """Whether it joins the host's batch (it defines ``command``), else runs ``observe``."""
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
    """What a cloud probe's ``observe_cloud`` is handed: ``access``, the cloud's APIs
    (``access.connection()`` is the openstacksdk connection of the calling thread, for the cloud
    the run was given), and ``targets``, every host of the inventory (to read a database's DSN
    from a controller's configuration, say).

    In a drill, ``listings`` is the drill's memory of the long lists its probes listed, and
    ``incremental`` says whether this snapshot may re-poll them by what changed since (between
    the drill's boundaries) rather than list them in full (the verified state, the final
    verification); :func:`stackdrill.cloud.listings.relisted` decides from both. Outside a
    drill ``listings`` is None, and everything is listed in full."""

    access: CloudAccess
    targets: Targets
    listings: Listings | None = None
    incremental: bool = False


class CloudProbe(_ProbeBase):
    """A cloud probe: it observes the cloud as a whole through its APIs, once per snapshot,
    concurrently with the hosts. Subclass it, set ``name`` and ``description`` (and ``rules``,
    as for :class:`Probe`), write ``observe_cloud``, and register it with
    ``registries.probes.register``. List each resource kind with one paged list call, never
    one GET per resource; run independent calls concurrently with :func:`run_calls`. Its
    values go under :func:`cloud_path`, its failure under ``cloud/probe:<probe>``."""

    @abstractmethod
    def observe_cloud(self, context: CloudContext) -> dict[str, Any]:
        """The values this probe observed on the cloud, by path relative to ``cloud/``
        (``"server:<name>/status": "ACTIVE"``). What it raises is recorded as its
        error under ``cloud/probe:<name>`` and the other probes' values are kept."""


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


# -- the cloud's probes --------------------------------------------------------------------------

class Workers:
    """A lazily created, long-lived thread pool: its threads keep their per-thread API clients
    (see :class:`CloudAccess`) from one snapshot to the next, so nothing re-authenticates."""

    def __init__(self, size: int, prefix: str) -> None:
        self.size = size
        self.prefix = prefix
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def pool(self) -> ThreadPoolExecutor:
        """The pool, created on first use."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.size, thread_name_prefix=self.prefix)
            return self._pool


_API_CALLS = Workers(8, "api-call")


def run_calls(calls: Mapping[str, Callable[[], _T]]) -> dict[str, _T]:
    """Run independent API calls concurrently (e.g. one list call per resource kind) and return
    their results by name; the first failure is raised. Calls must not nest."""
    jobs = {name: _API_CALLS.pool().submit(call) for name, call in calls.items()}
    return {name: job.result() for name, job in jobs.items()}
