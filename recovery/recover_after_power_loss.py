"""Recover the cloud after a power loss: the admin guide's "Recover cloud after disaster", in its
exact order ("Do not add any steps or change the order of steps in this procedure"):

1. record the relationship between each volume and its instance (``openstack volume list``);
2. update the database to clean the stalled state (the guide's SQL, below);
3. restart the instances (``openstack server reboot INSTANCE``, ``--hard`` for one Nova has
   already stopped; never a second time);
4. reattach the volumes from the saved list (``openstack server add volume``).

Before step 1 it waits for what "after power resumes and all hardware components restart"
takes for granted: the APIs answer, and nova-compute and cinder-volume are up.

The guide's SQL predates Cinder's attachment table: ``mountpoint`` and ``instance_id`` have moved
from ``volumes`` to ``volume_attachment``, so those two statements act on the attachments (which
are detached and soft-deleted). Nova also keeps its own record of each attachment (the block
device mapping); it is soft-deleted too, or step 4 is refused as "already attached". Every
statement is limited to the volumes in the saved list, never the whole table.
"""

from __future__ import annotations

import fnmatch
import functools
import shlex
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from keystoneauth1.exceptions import ClientException
from openstack.exceptions import SDKException

from stackdrill.api import Recovery, ResourceFailed, RunbookStep, wait
from stackdrill.core.params import Param, positive_float

ACTIVE_POWER = 1


@dataclass(frozen=True)
class Attachment:
    volume: str
    server: str
    mountpoint: str

    def line(self) -> str:
        return f"{self.volume} {self.server} {self.mountpoint}"


def stale_state_sql(volume_ids: list[str]) -> dict[str, list[str]]:
    """The guide's statements, per database, in the guide's order, for these volumes only."""
    # Volume ids are UUIDs; anything else is refused before it reaches SQL.
    ids = ", ".join(f"'{uuid.UUID(v)}'" for v in volume_ids)
    return {
        "cinder": [
            # mysql> update volumes set mountpoint=NULL;
            f"update volume_attachment set mountpoint=NULL where deleted=0 and "  # noqa: S608
            f"volume_id in ({ids});",
            # mysql> update volumes set status="available" where status <>"error_deleting";
            f"update volumes set status='available' where status<>'error_deleting' and "  # noqa: S608
            f"id in ({ids});",
            # mysql> update volumes set attach_status="detached";
            f"update volumes set attach_status='detached' where id in ({ids});",  # noqa: S608
            # mysql> update volumes set instance_id=0;
            f"update volume_attachment set attach_status='detached', deleted=1, "  # noqa: S608
            f"deleted_at=NOW() where deleted=0 and volume_id in ({ids});",
        ],
        "nova": [
            f"update block_device_mapping set deleted=id, deleted_at=NOW() where deleted=0 "  # noqa: S608
            f"and volume_id in ({ids});",
        ],
    }


class RecoverAfterPowerLoss(Recovery):
    name = "recover_after_power_loss"
    description = ("The admin guide's disaster recovery after a power loss: save the "
                   "volume/instance list, reset Cinder's stale state with SQL, reboot the "
                   "instances, reattach the volumes")
    params: ClassVar[Mapping[str, Param]] = {
        "volumes": Param("shell pattern of the volume names to recover", str, "*"),
        "nova_database": Param("Nova's cell database", str, "nova"),
        "cinder_database": Param("Cinder's database", str, "cinder"),
        "timeout": Param("seconds for each wait", positive_float, 300.0),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.saved: list[Attachment] = []

    def runbook(self) -> list[RunbookStep]:
        return [
            RunbookStep("Wait for the APIs, nova-compute and cinder-volume after power returns",
                        self.wait_for_services, ("openstack compute service list",
                                                 "openstack volume service list")),
            RunbookStep("Save the volume/instance relations (openstack volume list)",
                        self.save_relations, ("openstack volume list --all-projects --long",)),
            RunbookStep("Clean the stalled state in the databases (the guide's SQL)",
                        self.reset_stale_state, ("mysql cinder -e '<the guide's updates>'",
                                                 "mysql nova -e '<block device mappings>'")),
            RunbookStep("Reboot each instance once (openstack server reboot)",
                        self.reboot_instances, ("openstack server reboot <instance>",)),
            RunbookStep("Reattach the volumes from the saved list (openstack server add volume)",
                        self.reattach, ("openstack server add volume <instance> <volume> "
                                        "--device <mountpoint>",)),
        ]

    def wait_for_services(self) -> None:
        def up() -> bool:
            conn = self.cloud()
            try:
                compute = list(conn.compute.services(binary="nova-compute"))
                volume = [s for s in conn.block_storage.services()
                          if s.binary == "cinder-volume"]
            except (SDKException, ClientException):
                return False  # the APIs are still starting; the wait records each attempt
            return bool(compute) and bool(volume) and all(
                s.state == "up" for s in [*compute, *volume])

        wait(up, self.values["timeout"], "the APIs answering, every nova-compute and "
                                         "cinder-volume up")
        conn = self.cloud()
        self.api_call("openstack compute service list", lambda: [
            f"{s.binary} {s.host} {s.status} {s.state}" for s in conn.compute.services()])
        self.api_call("openstack volume service list", lambda: [
            f"{s.binary} {s.host} {s.status} {s.state}" for s in conn.block_storage.services()])

    def save_relations(self) -> None:
        conn = self.cloud()
        saved: list[Attachment] = []
        for volume in conn.block_storage.volumes(all_projects=True):
            if not fnmatch.fnmatchcase(volume.name or "", self.values["volumes"]):
                continue
            saved.extend(Attachment(volume.id, a["server_id"], a.get("device") or "")
                         for a in volume.attachments or [] if a.get("server_id"))
        self.saved = saved
        self.api_call("openstack volume list --all-projects --long",
                      lambda: [a.line() for a in saved] or ["(no attached volume)"])

    def reset_stale_state(self) -> None:
        if not self.saved:
            return
        databases = {"cinder": self.values["cinder_database"],
                     "nova": self.values["nova_database"]}
        for kind, statements in stale_state_sql(sorted({a.volume for a in self.saved})).items():
            for statement in statements:
                self.target.run(f"mysql {shlex.quote(databases[kind])} -e "
                                f"{shlex.quote(statement)}", check=True)

    def _server_up(self, server_id: str) -> bool:
        server = self.cloud().compute.get_server(server_id)
        if server.status == "ERROR":
            raise ResourceFailed(f"instance {server.name} went to ERROR")
        return bool(server.status == "ACTIVE" and server.power_state == ACTIVE_POWER
                    and not server.task_state)

    def reboot_instances(self) -> None:
        conn = self.cloud()
        servers = sorted({a.server for a in self.saved})
        for server_id in servers:
            self.api_call(f"openstack server reboot {server_id}",
                          functools.partial(self._reboot, conn, server_id))
        for server_id in servers:
            wait(functools.partial(self._server_up, server_id), self.values["timeout"],
                 f"instance {server_id} ACTIVE and running")

    @staticmethod
    def _reboot(conn: Any, server_id: str) -> list[str]:
        # Nova may already have stopped the instance when its compute came back (it syncs the
        # power state); a stopped instance only takes a hard reboot.
        server = conn.compute.get_server(server_id)
        kind = "HARD" if server.status == "SHUTOFF" else "SOFT"
        conn.compute.reboot_server(server_id, kind)
        return [f"{server.name}: was {server.status}, {kind.lower()} reboot requested"]

    @staticmethod
    def _attach(conn: Any, attachment: Attachment) -> list[str]:
        created = conn.compute.create_volume_attachment(
            attachment.server, volume_id=attachment.volume,
            device=attachment.mountpoint or None)
        return [f"{attachment.volume} attached to {attachment.server} "
                f"at {created.device or attachment.mountpoint}"]

    def reattach(self) -> None:
        conn = self.cloud()
        for attachment in self.saved:
            self.api_call(
                f"openstack server add volume {attachment.server} {attachment.volume} "
                f"--device {attachment.mountpoint}",
                functools.partial(self._attach, conn, attachment))

            def attached(a: Attachment = attachment) -> bool:
                volume = conn.block_storage.get_volume(a.volume)
                if volume.status.startswith("error"):
                    raise ResourceFailed(f"volume {a.volume} went to {volume.status}")
                return bool(volume.status == "in-use")

            wait(attached, self.values["timeout"], f"volume {attachment.volume} in-use")
