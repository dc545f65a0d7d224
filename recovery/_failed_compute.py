"""What the two runbooks for a compute that has failed for good share (``evacuate_instances``
and ``move_instances_in_database``); registers nothing.

Both are for a cloud whose ``/var/lib/nova/instances`` is shared between the computes ("you can
relaunch all instances that are hosted on the failed node if you use shared storage for
/var/lib/nova/instances"). The failed host is the target, and is never contacted: the runbooks
wait for Nova to see it down, find its instances and their volumes, wait for them to run
elsewhere, and check that the volumes followed and that the new hosts' ``virsh list`` agrees.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Recovery, RecoveryFailed, ResourceFailed, wait
from stackdrill.core.params import Param, positive_float

RUNNING = 1  # Nova's power_state of a running guest


class FailedComputeRecovery(Recovery):
    """What both runbooks share: the failed host is the target and is never contacted."""

    params: ClassVar[Mapping[str, Param]] = {
        "to": Param("the healthy compute to move the instances to (default: the scheduler's "
                    "choice, or any compute that is up)", str, ""),
        "timeout": Param("seconds for each wait", positive_float, 300.0),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instances: list[str] = []
        self.volumes: dict[str, list[str]] = {}  # instance -> its volumes before the move

    @property
    def failed(self) -> str:
        return self.target.name

    def _compute_services(self) -> list[str]:
        conn = self.cloud()
        return self.api_call("openstack compute service list --service nova-compute", lambda: [
            f"{s.host} {s.status} {s.state}" for s in conn.compute.services(binary="nova-compute")])

    def wait_service_down(self) -> None:
        conn = self.cloud()

        def down() -> bool:
            return any(s.host == self.failed and s.state == "down"
                       for s in conn.compute.services(binary="nova-compute"))

        wait(down, self.values["timeout"], f"Nova reporting nova-compute on {self.failed} down")
        self._compute_services()

    def healthy_hosts(self) -> list[str]:
        up = [line.split()[0] for line in self._compute_services()
              if line.split()[1:] == ["enabled", "up"] and line.split()[0] != self.failed]
        wanted = self.values["to"]
        if wanted:
            if wanted not in up:
                raise RecoveryFailed(f"{wanted} is not an enabled, up compute "
                                     f"(up: {', '.join(up) or 'none'})")
            return [wanted]
        if not up:
            raise RecoveryFailed("no other compute is enabled and up")
        return up

    def save_volumes(self) -> None:
        conn = self.cloud()
        servers = list(conn.compute.servers(all_projects=True, compute_host=self.failed))
        self.instances = sorted(s.id for s in servers)
        self.volumes = {s.id: sorted(v["id"] for v in s.attached_volumes or []) for s in servers}
        self.api_call(f"openstack server list --all-projects --host {self.failed} --long",
                      lambda: [f"{s.id} {s.name} {s.status} volumes="
                               f"{','.join(self.volumes[s.id]) or '-'}" for s in servers]
                      or ["(no instance)"])

    def _moved_and_running(self, server_id: str) -> bool:
        server = self.cloud().compute.get_server(server_id)
        if server.status == "ERROR":
            fault = (server.fault or {}).get("message", "no fault recorded")
            raise ResourceFailed(f"instance {server.name} went to ERROR: {fault}")
        if server.task_state or server.compute_host == self.failed:
            return False
        if server.status == "SHUTOFF":
            # Compute API 2.95 and later leave an evacuated instance stopped.
            self.api_call(f"openstack server start {server.id}", functools.partial(
                self._start, server))
            return False
        return bool(server.status == "ACTIVE" and server.power_state == RUNNING)

    def _start(self, server: Any) -> list[str]:
        self.cloud().compute.start_server(server)
        return [f"{server.name} start requested (it arrived stopped on {server.compute_host})"]

    def wait_running_elsewhere(self) -> None:
        for server_id in self.instances:
            wait(functools.partial(self._moved_and_running, server_id), self.values["timeout"],
                 f"instance {server_id} ACTIVE and running on a compute other than "
                 f"{self.failed}")

    def _volume_follows(self, server_id: str, volume_id: str) -> bool:
        conn = self.cloud()
        server = conn.compute.get_server(server_id)
        volume = conn.block_storage.get_volume(volume_id)
        if volume.status.startswith("error"):
            raise ResourceFailed(f"volume {volume_id} went to {volume.status}")
        return volume.status == "in-use" and any(
            a.get("server_id") == server_id and a.get("host_name") == server.compute_host
            for a in volume.attachments or [])

    def check_volumes(self) -> None:
        conn = self.cloud()
        for server_id, volumes in self.volumes.items():
            for volume_id in volumes:
                wait(functools.partial(self._volume_follows, server_id, volume_id),
                     self.values["timeout"],
                     f"volume {volume_id} in-use by {server_id} on its new host")
        moved = {volume for volumes in self.volumes.values() for volume in volumes}
        self.api_call("openstack volume list --all-projects --long", lambda: [
            f"{v.id} {v.name} {v.status} " + ",".join(
                f"{a.get('server_id')}@{a.get('host_name') or '?'}" for a in v.attachments or [])
            for v in conn.block_storage.volumes(all_projects=True) if v.id in moved]
            or ["(no volume)"])

    def check_hypervisors(self) -> None:
        """Nova's database and each new host's ``virsh list`` agree on the moved instances."""
        targets = self.context.targets
        if targets is None:
            raise RecoveryFailed("no hosts to ask virsh on")
        conn = self.cloud()
        by_host: dict[str, set[str]] = {}
        for server_id in self.instances:
            by_host.setdefault(conn.compute.get_server(server_id).compute_host,
                               set()).add(server_id)
        for host, expected in sorted(by_host.items()):
            listed = set(targets.get(host).run("virsh list --uuid", check=True).stdout.split())
            if expected - listed:
                raise RecoveryFailed(f"Nova places {', '.join(sorted(expected - listed))} on "
                                     f"{host}, but its virsh list does not run them")
