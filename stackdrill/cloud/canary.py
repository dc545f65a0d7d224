"""The canary workload: user resources the harness creates so drills can prove they survive.

One server on each compute host (pinned with ``nova:<host>``), with ``networks='none'``; where
the cloud has block storage, each server also has a 1 GiB volume attached. Creation is
idempotent: healthy canaries are reused, broken ones replaced.

Given a built guest (:class:`~stackdrill.cloud.guest_image.GuestFiles`), the canaries boot it:
a Linux guest whose heartbeat goes to its console and to a ring log on its volume
(:mod:`stackdrill.cloud.heartbeat`), and their set-up waits until each one's console shows a
heartbeat acknowledged by its volume. A canary that boots another image is replaced. Without
a guest, they boot a blank 1 MiB image and sit in the firmware: the control plane's view of
them still counts, and nothing measures what a tenant would feel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stackdrill.cloud.access import CloudAccess, CloudError
from stackdrill.cloud.boot_check import remove_leftovers
from stackdrill.cloud.guest_image import GuestFiles, ensure_guest_image
from stackdrill.cloud.heartbeat import HEARTBEAT_TAG, parse_console
from stackdrill.cloud.swift_canary import ensure_swift_canary
from stackdrill.cloud.volume_check import remove_leftovers as remove_check_volumes
from stackdrill.core.waiting import WaitTimeout, poll

PREFIX = "stackdrill-canary"
IMAGE = PREFIX
FLAVOR = f"{PREFIX}.tiny"
IMAGE_BYTES = b"\0" * (1 << 20)
GUEST_FLAVOR = f"{PREFIX}.guest"
GUEST_RAM_MB = 128
"""The guest's kernel panics below 96 MiB under qemu (``benchmarks/results/guest_boot.md``)."""
VOLUME_GIB = 1
CONSOLE_TAIL_LINES = 40
RUNNING = 1  # Nova's power_state for a running guest


@dataclass(frozen=True)
class CanaryWorkload:
    image_id: str
    flavor_id: str
    servers: dict[str, str]  # compute host -> server id
    volumes: dict[str, str] = field(default_factory=dict)  # compute host -> volume id
    guest: bool = False  # the servers run the heartbeat guest

    def server_name(self, host: str) -> str:
        return f"{PREFIX}-{host}"


def volume_name(host: str) -> str:
    return f"{PREFIX}-{host}-vol"


def _image(conn: Any) -> Any:
    image = conn.image.find_image(IMAGE)
    if image is not None and image.status == "active":
        return image
    if image is not None:
        conn.image.delete_image(image)
    return conn.image.create_image(name=IMAGE, data=IMAGE_BYTES, disk_format="raw",
                                   container_format="bare", wait=True, timeout=120,
                                   allow_duplicates=True)


def _flavor(conn: Any, name: str = FLAVOR, ram: int = 64) -> Any:
    flavor = conn.compute.find_flavor(name)
    if flavor is None:
        flavor = conn.compute.create_flavor(name=name, ram=ram, vcpus=1, disk=1)
    return flavor


def guest_flavor(conn: Any) -> Any:
    """The flavor the guest canaries boot with, created if missing."""
    return _flavor(conn, GUEST_FLAVOR, GUEST_RAM_MB)


def image_and_flavor(conn: Any) -> tuple[Any, Any]:
    """The canary image and flavor, created if missing (benchmarks boot servers of them)."""
    return _image(conn), _flavor(conn)


def wait_compute_up(conn: Any, host: str, timeout: float) -> None:
    """A stopped canary is started only once its compute's nova-compute is up again."""
    def up() -> bool:
        return any(s.state == "up" for s in conn.compute.services(binary="nova-compute",
                                                                  host=host))

    _cloud_wait(up, timeout, f"nova-compute up on {host}")


def _cloud_wait(check: Callable[[], Any], timeout: float, description: str) -> Any:
    """Poll ``check`` (every 1 s, then up to every 3 s) until it returns something true, and
    return that; a :class:`CloudError` with the wait's one line when ``timeout`` passes."""
    try:
        found, _ = poll(check, timeout=timeout, interval=1.0, max_interval=3.0,
                        description=description)
    except WaitTimeout as exc:
        raise CloudError(str(exc)) from exc
    return found


DomainRunning = Callable[[str, str], bool]  # (compute host, libvirt domain) -> running there?


def _wait_active(conn: Any, server: Any, timeout: float,
                 domain_running: DomainRunning | None = None) -> Any:
    """Wait until the canary is ACTIVE and running. A canary found stopped (after a power loss
    or a reset, Nova may show it SHUTOFF, or ACTIVE but shut down) is started the way an
    operator would, once for each state it is found in, rather than replaced with its volume.
    With ``domain_running``, the hypervisor is asked too: until Nova next syncs power states
    (every ten minutes by default), it still calls a guest killed by a reset running."""
    acted: set[tuple[str, int]] = set()

    def active() -> Any:
        current = conn.compute.get_server(server.id)
        if current.status == "ERROR":
            fault = (current.fault or {}).get("message", "no fault recorded")
            raise CloudError(f"canary {current.name} went to ERROR: {fault}")
        if current.task_state:
            return None
        state = (current.status, current.power_state)
        if current.status == "ACTIVE" and current.power_state == RUNNING:
            if domain_running is None or domain_running(current.compute_host,
                                                        current.instance_name):
                return current
            state = (current.status, -1)  # Nova's view is stale: the guest is not running
        if state not in acted and current.status in ("SHUTOFF", "ACTIVE"):
            acted.add(state)
            wait_compute_up(conn, current.compute_host, timeout)
            if current.status == "SHUTOFF":
                conn.compute.start_server(current)
            else:
                conn.compute.reboot_server(current, "HARD")
        return None

    return _cloud_wait(active, timeout, f"canary {server.name} ACTIVE and running")


def _built(conn: Any, server: Any, timeout: float = 300.0) -> Any:
    """``server`` once it has left BUILD. A server deleted while it builds may be deleted in
    the database alone (before its compute takes it) and still be spawned there: a running
    domain Nova no longer knows. So a canary still building is waited for, never deleted."""
    def settled() -> Any:
        found = conn.compute.get_server(server.id)
        return found if found.status != "BUILD" else None

    return _cloud_wait(settled, timeout, f"canary {server.name} out of BUILD")


def _servers(conn: Any, compute_hosts: list[str], image: Any, flavor: Any) -> list[tuple[str, Any]]:
    """Each compute's canary server: reused, or created after removing one that moved, broke
    or boots another image."""
    existing = {s.name: s for s in conn.compute.servers(all_projects=True)
                if s.name.startswith(PREFIX)}
    pending = []
    for host in compute_hosts:
        name = f"{PREFIX}-{host}"
        server = existing.get(name)
        if server is not None and server.status == "BUILD":
            server = _built(conn, server)
        if server is not None and (server.compute_host != host
                                   or server.status not in ("ACTIVE", "SHUTOFF")
                                   or (server.image or {}).get("id") != image.id):
            # deleted while its compute's service is down, Nova deletes it in its database
            # alone and leaves the domain running there
            if server.compute_host:
                wait_compute_up(conn, server.compute_host, 300.0)
            conn.compute.delete_server(server)
            conn.compute.wait_for_delete(server, wait=120)
            server = None
        if server is None:
            server = conn.compute.create_server(
                name=name, image_id=image.id, flavor_id=flavor.id, networks="none",
                availability_zone=f"nova:{host}")
        pending.append((host, server))
    return pending


def ensure_canaries(access: CloudAccess, compute_hosts: list[str],
                    timeout: float = 300.0,
                    domain_running: DomainRunning | None = None,
                    guest: GuestFiles | None = None) -> CanaryWorkload:
    conn = access.connection()
    remove_leftovers(conn)
    remove_check_volumes(conn)
    if guest is None:
        image, flavor = _image(conn), _flavor(conn)
    else:
        image, flavor = ensure_guest_image(conn, guest), guest_flavor(conn)
    pending = _servers(conn, compute_hosts, image, flavor)
    servers = {host: _wait_active(conn, server, timeout, domain_running).id
               for host, server in pending}
    ensure_swift_canary(access)
    volumes: dict[str, str] = {}
    if conn.has_service("block-storage"):
        volumes = {host: _attached_volume(conn, host, server_id, timeout)
                   for host, server_id in servers.items()}
    if guest is not None:
        for server_id in servers.values():
            wait_heartbeat(conn, server_id, timeout, acknowledged=bool(volumes))
    return CanaryWorkload(image_id=image.id, flavor_id=flavor.id, servers=servers,
                          volumes=volumes, guest=guest is not None)


def console_tail(conn: Any, server_id: str, lines: int = CONSOLE_TAIL_LINES) -> str:
    """The last ``lines`` of the server's console log, through Nova's API."""
    output = conn.compute.get_server_console_output(server_id, length=lines)
    return str(output.get("output", "")) if isinstance(output, dict) else str(output)


def wait_heartbeat(conn: Any, server_id: str, timeout: float, acknowledged: bool) -> None:
    """Wait until the guest's console shows a heartbeat (one whose ring-log write its volume
    acknowledged, with ``acknowledged``). A guest that never beats fails with its console."""
    def beating() -> bool:
        beats = [r for r in parse_console(console_tail(conn, server_id))
                 if r.kind == HEARTBEAT_TAG]
        return bool(beats) and (beats[-1].ack > 0 or not acknowledged)

    try:
        poll(beating, timeout=timeout, interval=1.0, max_interval=3.0,
             description=f"a heartbeat on the console of canary {server_id}")
    except WaitTimeout as exc:
        tail = " | ".join(console_tail(conn, server_id).strip().splitlines()[-8:])
        raise CloudError(f"{exc}; console: {tail or 'empty'}") from exc


def wait_volume_status(conn: Any, volume_id: str, wanted: str, timeout: float) -> Any:
    def reached() -> Any:
        volume = conn.block_storage.get_volume(volume_id)
        if volume.status in ("error", "error_attaching", "error_detaching"):
            raise CloudError(f"canary volume {volume.name} went to {volume.status}")
        return volume if volume.status == wanted else None

    try:
        found, _ = poll(reached, timeout=timeout, interval=1.0, max_interval=3.0,
                        description=f"canary volume {volume_id} {wanted}")
    except WaitTimeout as exc:
        raise CloudError(str(exc)) from exc
    return found


def _attached_volume(conn: Any, host: str, server_id: str, timeout: float) -> str:
    """The id of the canary volume of ``host``, created and attached to its server if needed."""
    name = volume_name(host)
    volume = conn.block_storage.find_volume(name, ignore_missing=True, all_projects=True)
    if volume is not None:
        attached_to = {a.get("server_id") for a in volume.attachments or []}
        if volume.status == "in-use" and attached_to == {server_id}:
            return str(volume.id)
        if volume.status not in ("available",):
            if volume.status == "in-use":
                for other in attached_to - {None}:
                    # (server, volume), and a 404 raised: an attachment left in place
                    # would only show as a timeout below
                    conn.compute.delete_volume_attachment(other, volume.id,
                                                          ignore_missing=False)
                wait_volume_status(conn, volume.id, "available", timeout)
            else:
                conn.block_storage.delete_volume(volume, force=True)
                conn.block_storage.wait_for_delete(volume, wait=int(timeout))
                volume = None
    if volume is None:
        volume = conn.block_storage.create_volume(name=name, size=VOLUME_GIB)
        wait_volume_status(conn, volume.id, "available", timeout)
    conn.compute.create_volume_attachment(server_id, volume_id=volume.id)
    wait_volume_status(conn, volume.id, "in-use", timeout)
    return str(volume.id)
