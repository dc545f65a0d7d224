"""On the lab, the servers and volumes a drill re-polls between its boundaries (Nova's
``changes-since``, Cinder's ``updated_at`` filter, merged into the drill's last listing) are
those a full listing gives: while servers are created and deleted, while a volume is attached,
detached and deleted, and across a compute's reset and its recovery.

The cloud moves while it is read, so a full listing is compared with the re-polls taken just
before and just after it: it must equal one of them. A change a re-poll misses for good (one
whose ``updated_at`` the service did not move) never agrees, and the wait for agreement fails.
Each test also checks that the drill's snapshots did re-poll, rather than list everything again.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from stackdrill.builtin.probes.cloud_api import CloudApi

from stackdrill.api._probe import CloudContext
from stackdrill.api._registry import load_registries
from stackdrill.cloud.access import CloudAccess, CloudError
from stackdrill.cloud.canary import CanaryWorkload, image_and_flavor, wait_volume_status
from stackdrill.core.state import Rule
from stackdrill.core.waiting import poll_until
from stackdrill.engine.drill import Drill
from stackdrill.engine.journal import Journal
from stackdrill.engine.snapshot import health_problems, take_snapshot
from stackdrill.hosts.target import Targets

# Part of the long tier, not of CI: scripts/test -m long tests/lab runs it (README).
pytestmark = pytest.mark.long

PREFIX = "stackdrill-incremental"
FOCUS = frozenset({"cloud/probe:cloud_api"})
AGREE = 90.0
_names = itertools.count()


def _servers_and_volumes(values: Mapping[str, Any]) -> dict[str, Any]:
    return {path: value for path, value in values.items()
            if path.startswith(("cloud/server:", "cloud/volume:"))}


def repolled(drill: Drill) -> dict[str, Any]:
    """What the drill's next snapshot between its boundaries sees of servers and volumes."""
    snap = take_snapshot([], drill.probes, cloud=drill.cloud, focus=FOCUS, boundary=False)
    assert snap.errors == {}, snap.errors
    return _servers_and_volumes(snap.values)


def listed_in_full(access: CloudAccess, targets: Targets) -> dict[str, Any]:
    snap = take_snapshot([], [CloudApi()], cloud=CloudContext(access, targets))
    assert snap.errors == {}, snap.errors
    return _servers_and_volumes(snap.values)


def same_as_full(drill: Drill, access: CloudAccess, targets: Targets, what: str) -> None:
    def agree() -> bool:
        before = repolled(drill)
        full = listed_in_full(access, targets)
        return full in (before, repolled(drill))

    poll_until(agree, timeout=AGREE, interval=1.0, max_interval=3.0,
               description=f"the re-polled servers and volumes equal to a full listing: {what}")


@pytest.fixture
def healthy_after(lab_targets: Targets, cloud_access: CloudAccess,
                  canaries: CanaryWorkload) -> Iterator[Targets]:
    """The lab's hosts; after each test, its servers and volumes are deleted and the cloud
    must be healthy again, so that tests do not leak."""
    yield lab_targets
    conn = cloud_access.connection()
    for server in conn.compute.servers(all_projects=True):
        if server.name.startswith(PREFIX):
            conn.compute.delete_server(server)
    for volume in conn.block_storage.volumes(all_projects=True):
        if (volume.name or "").startswith(PREFIX):
            conn.block_storage.delete_volume(volume, force=True)
    probes = [cls() for name in load_registries().probes
              for cls in [load_registries().probes.get(name)]]
    context = CloudContext(cloud_access, lab_targets)
    poll_until(lambda: not health_problems(lab_targets, probes, context), timeout=300,
               interval=2.0, max_interval=5.0, description="the lab cloud healthy again")


@pytest.fixture
def drill(healthy_after: Targets, tmp_path: Path, cloud_access: CloudAccess) -> Iterator[Drill]:
    drill = Drill("incremental-polls", healthy_after, load_registries(),
                  Journal(tmp_path / "journal.jsonl"), cloud=cloud_access)
    yield drill
    assert drill.undo_all() == []
    drill.close()


def boot(access: CloudAccess, host: str) -> Any:
    conn = access.connection()
    image, flavor = image_and_flavor(conn)
    return conn.compute.create_server(
        name=f"{PREFIX}-{next(_names)}", image_id=image.id, flavor_id=flavor.id,
        networks="none", availability_zone=f"nova:{host}")


def gone(access: CloudAccess, server_id: str) -> None:
    conn = access.connection()
    poll_until(lambda: conn.compute.find_server(server_id, ignore_missing=True,
                                                all_projects=True) is None,
               timeout=180, interval=1.0, description=f"server {server_id} deleted",
               ignore=(CloudError,))


def test_servers_created_and_deleted(drill: Drill, healthy_after: Targets,
                                     cloud_access: CloudAccess) -> None:
    conn = cloud_access.connection()
    drill.record_baseline()
    same_as_full(drill, cloud_access, healthy_after, "before anything changed")
    server = boot(cloud_access, "compute1")
    same_as_full(drill, cloud_access, healthy_after, "a server building")
    conn.compute.wait_for_server(server, status="ACTIVE", wait=300)
    same_as_full(drill, cloud_access, healthy_after, "the server ACTIVE")
    conn.compute.delete_server(server)
    same_as_full(drill, cloud_access, healthy_after, "the server being deleted")
    gone(cloud_access, server.id)
    same_as_full(drill, cloud_access, healthy_after, "the server deleted")
    ways = drill.listings.report()
    assert "servers: re-polled" in ways, ways
    assert "servers: full (fallback" not in ways, ways


def test_a_volume_attached_detached_and_deleted(drill: Drill, healthy_after: Targets,
                                                cloud_access: CloudAccess) -> None:
    conn = cloud_access.connection()
    drill.record_baseline()
    server = conn.compute.wait_for_server(boot(cloud_access, "compute2"), wait=300)
    volume = conn.block_storage.create_volume(name=f"{PREFIX}-vol", size=1)
    wait_volume_status(conn, volume.id, "available", 180)
    same_as_full(drill, cloud_access, healthy_after, "a volume created")
    conn.compute.create_volume_attachment(server.id, volume_id=volume.id)
    wait_volume_status(conn, volume.id, "in-use", 180)
    same_as_full(drill, cloud_access, healthy_after, "the volume attached")
    # the lab's blank image answers no hot-unplug: the server is stopped to detach
    conn.compute.stop_server(server)
    conn.compute.wait_for_server(server, status="SHUTOFF", wait=180)
    conn.compute.delete_volume_attachment(server.id, volume.id)
    wait_volume_status(conn, volume.id, "available", 180)
    same_as_full(drill, cloud_access, healthy_after, "the volume detached")
    conn.block_storage.delete_volume(volume)
    conn.block_storage.wait_for_delete(volume, wait=180)
    same_as_full(drill, cloud_access, healthy_after, "the volume deleted")
    ways = drill.listings.report()
    assert "volumes: re-polled" in ways, ways
    # Cinder lists no deleted volume: the count found it, and the volumes were listed in full
    assert "volumes: full (fallback: Cinder counts" in ways, ways


def test_a_compute_reset_and_its_recovery(drill: Drill, healthy_after: Targets,
                                          cloud_access: CloudAccess,
                                          canaries: CanaryWorkload) -> None:
    compute = healthy_after.get("compute1")
    drill.record_baseline()
    # as the compute reboot drills say: the guests run again, as new qemu processes
    drill.tolerate([Rule.parse("host:*/domain:*/qemu_pid ignore")])
    active = drill.inject("reboot_host", compute, {"mode": "hard"})
    drill.confirm(active, timeout=60)
    same_as_full(drill, cloud_access, healthy_after, "compute1 reset")
    drill.recover("after_compute_reboot", compute, {})
    same_as_full(drill, cloud_access, healthy_after, "compute1's instances started again")
    drill.wait_verified(300)
    same_as_full(drill, cloud_access, healthy_after, "the verified state back")
    ways = drill.listings.report()
    assert "servers: re-polled" in ways, ways
    assert "servers: full (the harness acted on the cloud since the last listing)" in ways, ways
    assert canaries.servers["compute1"]
