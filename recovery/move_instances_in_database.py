"""A compute node has failed for good: the operations guide's "Total Compute Node Failure", by
hand, for a cloud whose ``/var/lib/nova/instances`` is shared between the computes:

1. ``select uuid from instances where host = '<failed>' and deleted = 0;``
2. save the instance/volume list with the guide's query (section "Volumes");
3. ``update instances set host = '<healthy>' where host = '<failed>' and deleted = 0;``
4. ``nova reboot --hard`` each instance, which regenerates its libvirt XML on the new host;
5. reattach the volumes from the saved list.

Today's Nova tracks an instance by host *and* node, so the update also sets ``node`` (the healthy
host's hypervisor name); without it the new host's resource tracker ignores the instance. The
guide's volume query predates Cinder's attachment table: the instance and mountpoint are read
from ``volume_attachment``. A hard reboot today reconnects the instance's volumes from Nova's
block device mappings, so step 5 only reattaches a volume the instance came back without; the
runbook records which. Both databases must be reachable from one server for the guide's join.
"""

from __future__ import annotations

import functools
import shlex
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from stackdrill.api import RecoveryFailed, RunbookStep, wait
from stackdrill.cloud.canary import wait_volume_status
from stackdrill.core.params import Param, boolean
from stackdrill.hosts.target import Target

from ._failed_compute import FailedComputeRecovery


def instances_on_host_sql(host: str) -> str:
    return (f"select uuid from instances where host = {_literal(host)} "  # noqa: S608
            f"and deleted = 0;")


def move_instances_sql(failed: str, healthy: str, node: str) -> str:
    return (f"update instances set host = {_literal(healthy)}, node = {_literal(node)} "  # noqa: S608
            f"where host = {_literal(failed)} and deleted = 0;")


def volumes_of_host_sql(host: str, nova: str, cinder: str) -> str:
    """The guide's instance/volume list, through Cinder's attachment table."""
    n, c = _ident(nova), _ident(cinder)
    return (f"select {n}.instances.uuid, {c}.volumes.id, {c}.volumes.status, "  # noqa: S608
            f"{c}.volumes.attach_status, {c}.volume_attachment.mountpoint, "
            f"{c}.volumes.display_name from {c}.volumes "
            f"inner join {c}.volume_attachment on {c}.volume_attachment.volume_id = "
            f"{c}.volumes.id and {c}.volume_attachment.deleted = 0 "
            f"inner join {n}.instances on {c}.volume_attachment.instance_uuid = "
            f"{n}.instances.uuid "
            f"where {n}.instances.host = {_literal(host)} and {n}.instances.deleted = 0;")


def _literal(text: str) -> str:
    """A host name as a SQL string literal; anything but a host name is refused."""
    if not text or not all(ch.isalnum() or ch in "-._" for ch in text):
        raise RecoveryFailed(f"not a host name: {text!r}")
    return f"'{text}'"


def _ident(text: str) -> str:
    if not text or not all(ch.isalnum() or ch == "_" for ch in text):
        raise RecoveryFailed(f"not a database name: {text!r}")
    return f"`{text}`"


@dataclass(frozen=True)
class VolumeRow:
    instance: str
    volume: str
    mountpoint: str

    def line(self) -> str:
        return f"{self.instance} {self.volume} {self.mountpoint}"


def parse_volume_rows(output: str) -> list[VolumeRow]:
    """``mysql --batch --skip-column-names`` rows of :func:`volumes_of_host_sql`."""
    rows = []
    for line in output.splitlines():
        fields = line.split("\t")
        if len(fields) < 5:
            continue
        mountpoint = "" if fields[4] == "NULL" else fields[4]
        rows.append(VolumeRow(str(uuid.UUID(fields[0])), str(uuid.UUID(fields[1])), mountpoint))
    return rows


class MoveInstancesInDatabase(FailedComputeRecovery):
    name = "move_instances_in_database"
    description = ("The operations guide's manual recovery of a failed compute: select its "
                   "instances, save their volumes, move the rows to a healthy host in SQL, "
                   "hard-reboot each instance, reattach the volumes")
    params: ClassVar[Mapping[str, Param]] = {
        **FailedComputeRecovery.params,
        "nova_database": Param("Nova's cell database", str, "nova"),
        "cinder_database": Param("Cinder's database", str, "cinder"),
        "offline": Param("stop each instance around the reattachment (a guest that cannot "
                         "answer a hot-unplug)", boolean, False),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.saved: list[VolumeRow] = []
        self.destination = ""

    def runbook(self) -> list[RunbookStep]:
        failed, nova = self.failed, self.values["nova_database"]
        return [
            RunbookStep(f"Wait for Nova to report nova-compute on {failed} down",
                        self.wait_service_down, ("openstack compute service list",)),
            RunbookStep(f"List the instances of {failed} in the nova database",
                        self.select_instances,
                        (f"mysql {nova} -e \"{instances_on_host_sql(failed)}\"",)),
            RunbookStep("Save the instance/volume list (the guide's volume query)",
                        self.save_volume_rows, ("mysql -e \"select nova.instances.uuid, "
                                                "cinder.volumes.id, ... inner join ...\"",)),
            RunbookStep("Move the instances to a healthy host in the nova database",
                        self.move_rows,
                        (f"mysql {nova} -e \"{move_instances_sql(failed, 'HEALTHY', 'NODE')}\"",)),
            RunbookStep("Hard-reboot each instance (nova reboot --hard), regenerating its XML",
                        self.hard_reboot, ("openstack server reboot --hard <instance>",)),
            RunbookStep("Reattach the volumes from the saved list where one is missing",
                        self.reattach, ("openstack server add volume <instance> <volume> "
                                        "--device <mountpoint>",)),
            RunbookStep("Check each volume is attached to its instance on the new host",
                        self.check_volumes, ("openstack volume list --all-projects --long",)),
            RunbookStep("Check Nova and the new host's virsh list agree",
                        self.check_hypervisors, ("virsh list --uuid",)),
        ]

    def _database_host(self) -> Target:
        targets = self.context.targets
        if targets is None:
            raise RecoveryFailed("no hosts to run the SQL on")
        hosts = targets.with_role("database") or targets.with_role("controller")
        if not hosts:
            raise RecoveryFailed("the inventory has no database or controller host")
        return hosts[0]

    def _mysql(self, statement: str, database: str = "") -> str:
        db = f"{shlex.quote(database)} " if database else ""
        return self._database_host().run(
            f"mysql --batch --skip-column-names {db}-e {shlex.quote(statement)}",
            check=True).stdout

    def select_instances(self) -> None:
        output = self._mysql(instances_on_host_sql(self.failed), self.values["nova_database"])
        self.instances = sorted(str(uuid.UUID(line.strip())) for line in output.splitlines()
                                if line.strip())

    def save_volume_rows(self) -> None:
        self.saved = parse_volume_rows(self._mysql(volumes_of_host_sql(
            self.failed, self.values["nova_database"], self.values["cinder_database"])))
        self.volumes = {server: sorted(r.volume for r in self.saved if r.instance == server)
                        for server in self.instances}

    def move_rows(self) -> None:
        if not self.instances:
            return
        self.destination = self.healthy_hosts()[0]
        conn = self.cloud()
        nodes = self.api_call("openstack hypervisor list", lambda: [
            f"{h.name} {h.state} {h.status}" for h in conn.compute.hypervisors(details=True)
            if h.name.split(".")[0] == self.destination])
        node = nodes[0].split()[0] if nodes else self.destination
        self._mysql(move_instances_sql(self.failed, self.destination, node),
                    self.values["nova_database"])

    def hard_reboot(self) -> None:
        conn = self.cloud()
        for server_id in self.instances:
            self.api_call(f"openstack server reboot --hard {server_id}",
                          functools.partial(self._hard_reboot, conn, server_id))
        self.wait_running_elsewhere()

    @staticmethod
    def _hard_reboot(conn: Any, server_id: str) -> list[str]:
        server = conn.compute.get_server(server_id)
        conn.compute.reboot_server(server_id, "HARD")
        return [f"{server.name}: hard reboot requested on {server.compute_host} "
                f"(was {server.status})"]

    def reattach(self) -> None:
        conn = self.cloud()
        for server_id in self.instances:
            rows = [row for row in self.saved if row.instance == server_id]
            server = conn.compute.get_server(server_id)
            stale = [row for row in rows if not self._volume_follows(server_id, row.volume)
                     or not self._in_domain(server, row.volume)]
            kept = [f"{row.volume} attached at {row.mountpoint or '?'} on "
                    f"{server.compute_host} after the hard reboot: not reattached"
                    for row in rows if row not in stale]
            if kept:
                self.api_call(f"openstack server volume list {server_id}",
                              functools.partial(list, kept))
            if not stale:
                continue
            offline = self.values["offline"]
            if offline:
                self._power(server_id, "stop", "SHUTOFF")
            for row in stale:
                self._detach(conn, row)
                self.api_call(f"openstack server add volume {row.instance} {row.volume} "
                              f"--device {row.mountpoint}",
                              functools.partial(self._attach, conn, row))
                wait_volume_status(conn, row.volume, "in-use", self.values["timeout"])
            if offline:
                self._power(server_id, "start", "ACTIVE")

    def _power(self, server_id: str, action: str, wanted: str) -> None:
        conn = self.cloud()
        call = conn.compute.stop_server if action == "stop" else conn.compute.start_server

        def request() -> list[str]:
            call(server_id)
            return [f"{server_id} {action} requested"]

        self.api_call(f"openstack server {action} {server_id}", request)

        def reached() -> bool:
            server = conn.compute.get_server(server_id)
            return bool(server.status == wanted and not server.task_state)

        wait(reached, self.values["timeout"], f"instance {server_id} {wanted}")

    def _detach(self, conn: Any, row: VolumeRow) -> None:
        def request() -> list[str]:
            conn.compute.delete_volume_attachment(row.instance, row.volume)
            return [f"{row.volume} detach from {row.instance} requested"]

        self.api_call(f"openstack server remove volume {row.instance} {row.volume}", request)
        wait_volume_status(conn, row.volume, "available", self.values["timeout"])

    def _in_domain(self, server: Any, volume_id: str) -> bool:
        """The volume is a disk of the instance's running domain on its new host."""
        targets = self.context.targets
        if targets is None:
            return False
        xml = targets.get(server.compute_host).run(
            f"virsh dumpxml {shlex.quote(server.instance_name)}", check=True).stdout
        return volume_id in xml

    @staticmethod
    def _attach(conn: Any, row: VolumeRow) -> list[str]:
        created = conn.compute.create_volume_attachment(
            row.instance, volume_id=row.volume, device=row.mountpoint or None)
        return [f"{row.volume} attached to {row.instance} at {created.device or row.mountpoint}"]
