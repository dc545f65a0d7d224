"""The API availability sampler: what a tenant sees of each OpenStack API while a drill runs.

Every ``interval`` seconds (1 by default) each API is asked what a tenant asks, with a short
timeout (:mod:`stackdrill.cloud.api_requests`): identity issues a token to a fresh
authentication, compute shows a canary server, block storage its volume, image the canary
image, and object storage reads a canary object. Each API is sampled by a thread of its own, so
an API that hangs until its timeout does not delay the others' samples.

A sample is sent at a moment and succeeds, or fails: an error, an HTTP error status, no answer
within the timeout. An outage runs from the moment the first failed sample was sent to the
moment the next successful one was sent; one still open when the sampler stops ends at the
stop (and, while it runs, at the moment the figures are read). The figures, under the names of
:mod:`stackdrill.cloud.tenant_view`: ``api:<name>/unavailable_s`` the longest outage,
``api:<name>/failures`` and ``api:<name>/samples``; ``unavailable_s`` and ``failures`` only
once a sample of that API has come back. Each outage is an
:class:`~stackdrill.cloud.tenant_view.Outage` of kind ``unavailable``, its detail the failed
samples' reasons, counted. Every failure is kept with its time and its one-line reason, which
passes through the redactor and never holds a token or a password.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from stackdrill.cloud.tenant_view import API_PREFIX, Outage
from stackdrill.core.errors import InvalidValue

if TYPE_CHECKING:
    from stackdrill.cloud.access import CloudAccess
    from stackdrill.cloud.api_requests import TenantResources

#: The APIs a tenant uses, by service type: the subjects are ``api:<name>``.
API_NAMES = ("identity", "compute", "block-storage", "image", "object-store")
DEFAULT_INTERVAL = 1.0
DEFAULT_TIMEOUT = 3.0
#: How long :meth:`ApiSampler.stop` waits for samples in flight before it returns without them.
STOP_WAIT = 2.0
#: Failures kept one by one (the count goes on beyond): a day of a dead API at 1 Hz is far less.
MAX_LOG = 20_000
#: Distinct reasons named in an outage's detail.
REASONS_SHOWN = 3
REASON_CHARS = 200
# anything shaped like a token (a Fernet token is 180+ URL-safe base64 characters); a UUID or an
# AUTH_<project> account is shorter
_TOKENISH = re.compile(r"[A-Za-z0-9_\-=]{40,}")
_URL_ROOT = re.compile(r"\bhttps?://(?P<netloc>[^/\s:'\"]+(?::\d+)?)")
# the socket's own words under requests' and urllib3's: "[Errno 111] Connection refused",
# "RemoteDisconnected('Remote end closed connection without response')"
_CAUSE = re.compile(r"\[Errno -?\d+\] (?P<errno>[^'\")\]]+)|Disconnected\('(?P<quoted>[^']+)'")


class Request(Protocol):
    """One API's tenant request: ``send`` raises on any failure; ``reset`` runs after a failure
    (the next ``send`` opens new connections); ``close`` releases it for good."""

    subject: str

    def send(self) -> None: ...

    def reset(self) -> None: ...

    def close(self) -> None: ...


def subject_of(api: str) -> str:
    return f"{API_PREFIX}{api}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def describe(exc: BaseException, timeout: float) -> str:
    """A failed sample's reason, one line: the HTTP status and the service's message, no
    answer within the timeout, the connection refused, or the error's type and first line;
    with the host and port it was sent to. Anything shaped like a token is masked; the caller
    redacts the rest."""
    text = _one_line(str(exc))
    url = _URL_ROOT.search(text)
    where = f" from {url['netloc']}" if url else ""
    status = getattr(exc, "status_code", None) or getattr(exc, "http_status", None)
    name = type(exc).__name__
    if isinstance(status, int):
        message = getattr(exc, "details", None) or getattr(exc, "message", None) or ""
        reason = f"HTTP {status}{where}: {_one_line(str(message))}".rstrip(": ")
    elif "Timeout" in name or "timed out" in text:
        reason = f"no answer within {timeout:g} s{where}"
    elif (cause := _CAUSE.search(text)) is not None:
        words = (cause["errno"] or cause["quoted"]).strip()
        reason = f"connection failed{where.replace(' from', ' to')}: {words}"
    else:
        reason = f"{name}: {text}" if text else name
    reason = _TOKENISH.sub("***", reason)
    return reason if len(reason) <= REASON_CHARS else reason[:REASON_CHARS - 3] + "..."


@dataclass(frozen=True)
class Failure:
    """A failed sample: its API, when it was sent (epoch seconds) and why it failed."""

    subject: str
    at: float
    reason: str

    def line(self) -> str:
        moment = dt.datetime.fromtimestamp(self.at, dt.UTC).strftime("%H:%M:%S.%f")[:-3]
        return f"{moment} UTC {self.subject}: {self.reason}"


@dataclass
class _Spell:
    """One continuous outage: when its first failed sample was sent, when the next successful
    one was (None while it lasts), and the reasons of its failed samples, counted."""

    start: float
    end: float | None = None
    reasons: dict[str, int] = field(default_factory=dict)

    def detail(self) -> str:
        count = sum(self.reasons.values())
        shown = [f"{n} x {reason}" for reason, n in list(self.reasons.items())[:REASONS_SHOWN]]
        more = len(self.reasons) - REASONS_SHOWN
        others = f"; {more} other reason(s)" if more > 0 else ""
        return f"{count} failed sample{'' if count == 1 else 's'}: {'; '.join(shown)}{others}"


class Ledger:
    """The arithmetic of one API's samples, added in the order they were sent: the failures,
    the outages, and the figures."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.samples = 0
        self.failed = 0
        self.failures: list[Failure] = []
        self.spells: list[_Spell] = []

    def add(self, at: float, reason: str | None) -> None:
        """A sample sent at ``at`` (epoch seconds): None if it succeeded, else why it failed."""
        self.samples += 1
        current = self.spells[-1] if self.spells and self.spells[-1].end is None else None
        if reason is None:
            if current is not None:
                current.end = at
            return
        self.failed += 1
        if len(self.failures) < MAX_LOG:
            self.failures.append(Failure(self.subject, at, reason))
        if current is None:
            current = _Spell(at)
            self.spells.append(current)
        current.reasons[reason] = current.reasons.get(reason, 0) + 1

    def outages(self, now: float) -> list[Outage]:
        """Every outage; one still open ends at ``now``."""
        return [Outage(self.subject, "unavailable", spell.start,
                       spell.end if spell.end is not None else max(now, spell.start),
                       spell.detail())
                for spell in self.spells]

    def figures(self, now: float) -> dict[str, float]:
        found = {f"{self.subject}/samples": float(self.samples)}
        if self.samples:
            found[f"{self.subject}/failures"] = float(self.failed)
            found[f"{self.subject}/unavailable_s"] = max(
                (outage.seconds for outage in self.outages(now)), default=0.0)
        return found


class ApiSampler:
    """A :class:`~stackdrill.cloud.tenant_view.TenantObserver` of the cloud's APIs: one thread
    per request, each sending it every ``interval`` seconds (at once again when a sample took
    longer). ``stop`` returns within :data:`STOP_WAIT` seconds; a sample still in flight then
    is left out, and the figures are those at the stop."""

    def __init__(self, requests: Sequence[Request], interval: float = DEFAULT_INTERVAL,
                 timeout: float = DEFAULT_TIMEOUT, redact: Callable[[str], str] | None = None,
                 stop_wait: float = STOP_WAIT) -> None:
        if interval <= 0 or timeout <= 0:
            raise InvalidValue(f"API sampler: interval {interval:g} s and timeout {timeout:g} "
                               f"s must be positive")
        subjects = [request.subject for request in requests]
        if len(set(subjects)) != len(subjects):
            raise InvalidValue(f"API sampler: an API sampled twice in {', '.join(subjects)}")
        self.interval = interval
        self.timeout = timeout
        self._requests = list(requests)
        self._redact = redact or (lambda text: text)
        self._stop_wait = stop_wait
        self._ledgers = {subject: Ledger(subject) for subject in subjects}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._epoch = time.time() - time.monotonic()  # wall time, read from the monotonic clock
        self._stopped_at: float | None = None

    def _now(self) -> float:
        return self._epoch + time.monotonic()

    def start(self) -> None:
        if self._threads or self._stopping.is_set():
            return
        for request in self._requests:
            thread = threading.Thread(target=self._run, args=(request,), daemon=True,
                                      name=f"stackdrill-sampler-{request.subject}")
            self._threads.append(thread)
            thread.start()

    def _run(self, request: Request) -> None:
        try:
            next_send = time.monotonic()
            while not self._stopping.wait(max(0.0, next_send - time.monotonic())):
                next_send = time.monotonic() + self.interval
                sent = self._now()
                reason = self._sample(request)
                with self._lock:
                    if self._stopped_at is None:
                        self._ledgers[request.subject].add(sent, reason)
        finally:
            with contextlib.suppress(Exception):
                request.close()

    def _sample(self, request: Request) -> str | None:
        try:
            request.send()
        except Exception as exc:  # every failure, whatever raised it, is the sample's result
            with contextlib.suppress(Exception):
                request.reset()
            return self._redact(describe(exc, self.timeout))
        return None

    def stop(self) -> None:
        with self._lock:
            if self._stopped_at is None:
                self._stopped_at = self._now()
        self._stopping.set()
        deadline = time.monotonic() + self._stop_wait
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def subjects(self) -> frozenset[str]:
        return frozenset(self._ledgers)

    def _moment(self) -> float:
        return self._stopped_at if self._stopped_at is not None else self._now()

    def figures(self) -> Mapping[str, float]:
        with self._lock:
            now = self._moment()
            return {name: value for ledger in self._ledgers.values()
                    for name, value in ledger.figures(now).items()}

    def outages(self) -> list[Outage]:
        with self._lock:
            now = self._moment()
            found = [outage for ledger in self._ledgers.values() for outage in ledger.outages(now)]
        return sorted(found, key=lambda outage: (outage.start, outage.lane))

    def log(self) -> list[str]:
        """Every failed sample, oldest first: its time, its API and its reason."""
        with self._lock:
            failures = [f for ledger in self._ledgers.values() for f in ledger.failures]
        return [failure.line() for failure in sorted(failures, key=lambda f: f.at)]


def build_api_sampler(access: CloudAccess, resources: TenantResources,
                      interval: float = DEFAULT_INTERVAL,
                      timeout: float = DEFAULT_TIMEOUT) -> ApiSampler:
    """The sampler of every API ``resources`` can be asked about, on ``access``'s cloud, its
    reasons redacted with ``access``'s redactor (the clouds.yaml credentials registered first)."""
    from stackdrill.cloud.api_requests import tenant_requests

    access.register_secrets()
    return ApiSampler(tenant_requests(access, resources, timeout), interval, timeout,
                      redact=access.redactor)
