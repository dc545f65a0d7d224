"""The canary workload monitor: what each canary's tenant felt, from the guest's own heartbeats.

A :class:`~stackdrill.cloud.tenant_view.TenantObserver`. In the background it reads every
canary's console through Nova's API (``os-getConsoleOutput``) every
:data:`READ_INTERVAL` seconds and follows its heartbeats (:mod:`stackdrill.cloud.heartbeat_track`).
A read asks for as many lines as were written since the last successful one, up to Nova's
100 KiB: a console that cannot be read for a while (nova-compute down) is caught up with later,
as far as Nova keeps it.

Lost writes are counted on the data path: the ring log is read from the volume's backing store
on its iSCSI target host (:func:`stackdrill.cloud.volume_data.locate`), and every acknowledged
record the console showed, within the span the ring still holds, must be there.

The reads at start and at stop, which the drill waits for, read every canary side by side; the
background reads go one console after the other (see :data:`NO_ANSWER_HOLD`).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import gzip
import shlex
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from stackdrill.cloud.access import CloudAccess, CloudError
from stackdrill.cloud.api_requests import TenantConnection
from stackdrill.cloud.canary import CanaryWorkload, console_tail
from stackdrill.cloud.heartbeat import (
    RING_SLOTS_MAX,
    SLOT_BYTES,
    RingLog,
    parse_console,
    parse_ring,
)
from stackdrill.cloud.heartbeat_track import HeartbeatTrack
from stackdrill.cloud.tenant_view import CANARY_PREFIX, Outage
from stackdrill.cloud.volume_data import VolumePath, locate
from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import Targets

READ_INTERVAL = 2.0
READ_TIMEOUT = 10.0
"""Seconds a console read may take: its own connection, without retries, so that a controller
that lost power costs one read, not minutes of a request waiting on a dead peer."""
NO_ANSWER_HOLD = 60.0
"""Seconds every console is left alone after a read got no answer in time. Nova's API worker
still waits on nova-compute after the client gave up, for ``rpc_response_timeout`` (60 s by
default), and the API's workers are few: reading again sooner, or reading the other canaries'
consoles through the same dead message queue, would hold one worker more at each read, and the
compute API the drill measures would go out because of the monitor. The consoles are caught up
with at the next read."""
LINES_MIN = 150
LINES_MAX = 2500
"""About Nova's 100 KiB of console log at some 40 bytes a record."""
LINES_PER_SECOND = 7
RING_MARGIN = 256
"""Acknowledged records this close to the ring's capacity are not required to be in it: a
record written but never seen acknowledged on the console still took a slot."""
ALIVE_WITHIN = 10.0
STOP_WAIT = 5.0
RING_CHECK_AGE = 15.0
"""``figures`` reads the ring logs again when their last check is older than this."""


class RingReader(Protocol):
    """Reads a canary volume's ring log; ``find`` locates its store ahead of the first read."""

    def __call__(self, volume_id: str, fresh: bool = False) -> RingLog: ...

    def find(self, volume_id: str) -> None: ...


class BackingStoreRings:
    """Reads a volume's ring log from its backing store, on the host that exports it. Where that
    store is (two API reads and two commands) is found once per volume and kept; ``fresh``
    finds it again."""

    def __init__(self, access: CloudAccess, targets: Targets) -> None:
        self.access, self.targets = access, targets
        self.located: dict[str, VolumePath] = {}

    def find(self, volume_id: str) -> None:
        from keystoneauth1.exceptions import ClientException
        from openstack.exceptions import SDKException

        try:
            self.located[volume_id] = locate(self.access, self.targets, [volume_id])[0]
        except (HostError, SDKException, ClientException) as exc:
            raise CloudError(f"finding the ring log of volume {volume_id}: "
                             f"{type(exc).__name__}: {exc}") from exc

    def __call__(self, volume_id: str, fresh: bool = False) -> RingLog:
        if fresh or volume_id not in self.located:
            self.find(volume_id)
        path = self.located[volume_id]
        command = (f"dd if={shlex.quote(path.backing)} bs={SLOT_BYTES} "
                   f"count={RING_SLOTS_MAX + 1} status=none | gzip -1 | base64 -w0")
        try:
            result = self.targets.get(path.target_host).run(command, check=True, record=False,
                                                            timeout=30)
        except HostError as exc:
            raise CloudError(f"reading the ring log of volume {volume_id}: {exc}") from exc
        return parse_ring(gzip.decompress(base64.b64decode(result.stdout.strip())))


def ring_reader(access: CloudAccess, targets: Targets) -> RingReader:
    return BackingStoreRings(access, targets)


def side_by_side(calls: Iterable[Callable[[], None]]) -> None:
    """Run ``calls`` at once, each in its own thread; the first exception is raised."""
    chosen = list(calls)
    if len(chosen) < 2:
        for call in chosen:
            call()
        return
    with ThreadPoolExecutor(len(chosen), thread_name_prefix="canary-read") as pool:
        for job in [pool.submit(call) for call in chosen]:
            job.result()


def lost_writes(acked: set[tuple[int, int]], ring: RingLog) -> list[tuple[int, int]]:
    """The acknowledged records the ring log should hold and does not, oldest first."""
    if ring.header is None:
        return sorted(acked)
    span = max(0, ring.header.slots - RING_MARGIN)
    expected = sorted(acked)[-span:] if span else []
    held = ring.by_key()
    return [key for key in expected if key not in held]


class WorkloadMonitor:
    """Follows every canary's heartbeat while it runs; subjects ``canary:<compute host>``."""

    def __init__(self, access: CloudAccess, canaries: CanaryWorkload,
                 read_ring: RingReader | None = None,
                 interval: float = READ_INTERVAL) -> None:
        self._console = TenantConnection(access, READ_TIMEOUT)
        self._servers = dict(canaries.servers)
        self._volumes = dict(canaries.volumes)
        self._read_ring = read_ring
        self._interval = interval
        self._tracks = {host: HeartbeatTrack(CANARY_PREFIX + host) for host in self._servers}
        self._errors: dict[str, str] = {}
        self._held_until = 0.0
        self._log: list[str] = []
        self._lost: dict[str, int] = {}
        self._ring_checked = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def subjects(self) -> frozenset[str]:
        return frozenset(track.lane for track in self._tracks.values())

    def start(self) -> None:
        if self._thread is None:
            self._read_all(prime=True, together=True)
            self._thread = threading.Thread(target=self._run, name="canary-heartbeats",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop reading; a last read of each console and ring log follows, unless a read is
        still hanging after :data:`STOP_WAIT` seconds."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_WAIT)
            finished = not self._thread.is_alive()
            self._thread = None
            if finished:
                self._held_until = 0.0  # the last read is worth the wait
                self._read_all(together=True)
                self.check_ring_logs()  # after the consoles: the records they acknowledged
        self._console.close()

    def _run(self) -> None:
        self._find_rings()
        while not self._stop.wait(self._interval):
            self._read_all()

    def _find_rings(self) -> None:
        """Where each ring log is, found in the background as the monitor starts, so that a
        check only reads. A store not found here (the API refused while a controller reboots)
        is looked for again by the check, which reports what fails then."""
        if self._read_ring is None:
            return
        for volume_id in self._volumes.values():
            with contextlib.suppress(CloudError):
                self._read_ring.find(volume_id)

    def _read_all(self, prime: bool = False, together: bool = False) -> None:
        """Read every console: one after the other, or ``together``."""
        reads = [functools.partial(self._read_console, host, server_id, prime)
                 for host, server_id in self._servers.items()]
        if together:
            side_by_side(reads)
            return
        for read in reads:
            read()

    def _read_console(self, host: str, server_id: str, prime: bool = False) -> None:
        if time.monotonic() < self._held_until:
            return
        track = self._tracks[host]
        since = time.time() - track.last_read if track.last_read else 0.0
        lines = int(min(LINES_MAX, LINES_MIN + LINES_PER_SECOND * since))
        from keystoneauth1.exceptions import ClientException, ConnectTimeout
        from openstack.exceptions import SDKException

        try:
            text = console_tail(self._console.get(), server_id, lines)
        except (SDKException, ClientException, CloudError) as exc:  # recorded, never raised
            self._console.failed()
            note = ""
            if isinstance(exc, ConnectTimeout):
                self._held_until = time.monotonic() + NO_ANSWER_HOLD
                note = f" (next read in {NO_ANSWER_HOLD:.0f} s)"
            self._failed(host, f"console not read{note}: {type(exc).__name__}: {exc}"[:200])
            return
        self._console.succeeded()
        with self._lock:
            if prime or not track.boots:  # observing begins at the first console read
                track.prime(parse_console(text), time.time())
            else:
                track.feed(parse_console(text), time.time())

    def check_ring_logs(self) -> dict[str, int]:
        """Lost writes per compute host, read now from each canary volume's backing store, the
        volumes side by side."""
        if self._read_ring is None:
            return {}
        self._ring_checked = time.monotonic()
        side_by_side([functools.partial(self._check_ring, host, volume_id)
                      for host, volume_id in self._volumes.items()])
        with self._lock:
            return dict(self._lost)

    def _check_ring(self, host: str, volume_id: str) -> None:
        """The records acknowledged so far, looked for in the ring log read after them. A ring
        log read where its store was found before that shows no header or a lost write is read
        again from where the store is now (the volume may have moved) before anything counts."""
        assert self._read_ring is not None
        with self._lock:
            acked = set(self._tracks[host].acked)
        try:
            try:
                ring = self._read_ring(volume_id)
                lost = len(lost_writes(acked, ring)) if ring.header is not None else -1
            except CloudError:
                lost = -1
            if lost != 0:
                lost = len(lost_writes(acked, self._read_ring(volume_id, fresh=True)))
        except CloudError as exc:
            self._failed(host, str(exc))
            return
        with self._lock:
            self._lost[host] = lost

    def figures(self) -> Mapping[str, float]:
        """The figures so far; while the monitor runs, the ring logs are read again first
        when their last check is older than :data:`RING_CHECK_AGE` seconds."""
        if self._thread is not None and time.monotonic() - self._ring_checked > RING_CHECK_AGE:
            self.check_ring_logs()
        found: dict[str, float] = {}
        with self._lock:
            for host, track in self._tracks.items():
                if not track.boots:
                    continue
                lane = track.lane
                silent = track.silent_s() or 0.0
                found.update({f"{lane}/stall_s": round(max(track.stall_s, 0.0), 2),
                              f"{lane}/io_stall_s": round(track.io_stall_s, 2),
                              f"{lane}/reboots": track.reboots,
                              f"{lane}/io_errors": track.io_errors,
                              f"{lane}/silent_s": round(silent, 2),
                              f"{lane}/alive": 1.0 if silent <= ALIVE_WITHIN else 0.0})
                if host in self._lost:
                    found[f"{lane}/lost_writes"] = self._lost[host]
        return found

    def newest_beat(self, host: str) -> float | None:
        """When the newest record seen from the canary of ``host`` was written (epoch seconds,
        from the guest's clock and the console reads), or None."""
        with self._lock:
            track = self._tracks[host]
            silent = track.silent_s()
            return None if silent is None or track.last_read is None else track.last_read - silent

    def outages(self) -> list[Outage]:
        with self._lock:
            return [o for track in self._tracks.values() for o in track.open_outages()]

    def _failed(self, host: str, reason: str) -> None:
        self._errors[host] = reason
        stamp = time.strftime("%H:%M:%S", time.gmtime())
        with self._lock:
            self._log.append(f"{stamp} UTC {CANARY_PREFIX}{host}: {reason}")

    def log(self) -> list[str]:
        """One line per failed console or ring-log read, oldest first."""
        with self._lock:
            return list(self._log)

    def errors(self) -> dict[str, str]:
        """The last failure to read each canary's console or ring log, by compute host."""
        return dict(self._errors)
