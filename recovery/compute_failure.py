"""A compute node has failed for good: bring its instances up on a healthy compute.

Two runbooks, both from the guides, both for a cloud whose ``/var/lib/nova/instances`` is shared
between the computes ("you can relaunch all instances that are hosted on the failed node if you
use shared storage for /var/lib/nova/instances"):

``evacuate_instances``: the admin guide's "Evacuate instances" (``openstack server evacuate``).
Nova refuses to evacuate from a compute whose service is up, so the runbook first waits for Nova
to see it down. It never touches the failed host. Since compute API 2.95 an evacuated instance
arrives stopped; the runbook starts it, as an operator would.

``move_instances_in_database``: the operations guide's "Total Compute Node Failure", by hand:

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

from stackdrill.api.runbook import Recovery, RecoveryFailed, ResourceFailed, RunbookStep
from stackdrill.cloud.canary import wait_compute_up, wait_volume_status
from stackdrill.core.params import Param, boolean, positive_float
from stackdrill.hosts.target import Target

from .reboot import wait

RUNNING = 1  # Nova's power_state of a running guest


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


class EvacuateInstances(FailedComputeRecovery):
    name = "evacuate_instances"
    description = ("The admin guide's evacuation of a failed compute: wait for Nova to see it "
                   "down, openstack server evacuate each instance, check the volumes followed "
                   "and virsh agrees")

    def runbook(self) -> list[RunbookStep]:
        failed = self.failed
        return [
            RunbookStep(f"Wait for Nova to report nova-compute on {failed} down",
                        self.wait_service_down, ("openstack compute service list",)),
            RunbookStep(f"List the instances of {failed} and their volumes",
                        self.save_volumes,
                        (f"openstack server list --all-projects --host {failed} --long",)),
            RunbookStep("Evacuate each instance (openstack server evacuate)", self.evacuate,
                        ("openstack server evacuate [--host <healthy>] <instance>",)),
            RunbookStep("Wait for each instance ACTIVE and running on its new host",
                        self.wait_running_elsewhere),
            RunbookStep("Check each volume is attached to its instance on the new host",
                        self.check_volumes, ("openstack volume list --all-projects --long",)),
            RunbookStep("Check Nova and the new hosts' virsh list agree",
                        self.check_hypervisors, ("virsh list --uuid",)),
        ]

    def evacuate(self) -> None:
        if not self.instances:
            return
        chosen = self.healthy_hosts()
        host = self.values["to"] or None
        conn = self.cloud()
        for server_id in self.instances:
            self.api_call(
                f"openstack server evacuate {'--host ' + host + ' ' if host else ''}{server_id}",
                functools.partial(self._evacuate, conn, server_id, host, chosen))

    @staticmethod
    def _evacuate(conn: Any, server_id: str, host: str | None, chosen: list[str]) -> list[str]:
        conn.compute.evacuate_server(server_id, host=host)
        return [f"{server_id} evacuation requested to {host or 'any of ' + ', '.join(chosen)}"]


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


class RemoveStaleDomains(Recovery):
    """When the failed compute is repaired and powered on, its libvirt still defines the domains
    of the instances moved away by hand. On shared storage, starting one would run a second
    qemu on the same disk; the runbook undefines every domain Nova places elsewhere (or no
    longer knows), after the host and its nova-compute are back."""

    name = "remove_stale_domains"
    description = ("On a returned compute, undefine the libvirt domains of instances Nova "
                   "places on another host (domains Nova does not know are left alone), then "
                   "wait for its nova-compute to be up")
    params: ClassVar[Mapping[str, Param]] = {
        "timeout": Param("seconds for the host, then for nova-compute", positive_float, 300.0),
    }

    def runbook(self) -> list[RunbookStep]:
        name = self.target.name
        return [
            RunbookStep(f"Wait for {name}'s libvirtd to answer", self.wait_libvirt,
                        ("virsh list --all --uuid",)),
            RunbookStep("Undefine each domain Nova places on another host",
                        self.undefine_stale, ("virsh destroy <domain>",
                                              "virsh undefine <domain>")),
            RunbookStep(f"Wait for nova-compute on {name} up", self.wait_compute_up,
                        ("openstack compute service list",)),
        ]

    def _domains(self) -> list[str]:
        return self.target.run("virsh list --all --uuid", check=True, timeout=10).stdout.split()

    def wait_libvirt(self) -> None:
        wait(lambda: self._domains() is not None, self.values["timeout"],
             f"libvirtd answering on {self.target.name}")

    def undefine_stale(self) -> None:
        conn = self.cloud()
        for domain in self._domains():
            server = conn.compute.find_server(domain, ignore_missing=True, all_projects=True)
            if server is None:
                # Not an instance Nova knows: not this runbook's to remove.
                self.target.run(f"virsh dominfo {domain} | head -3")
                continue
            if server.compute_host == self.target.name:
                continue
            state = self.target.run(f"virsh domstate {domain}", check=True).stdout.strip()
            if state == "running":
                self.target.run(f"virsh destroy {domain}", check=True)
            self.target.run(f"virsh undefine {domain}", check=True)

    def wait_compute_up(self) -> None:
        wait_compute_up(self.cloud(), self.target.name, self.values["timeout"])
