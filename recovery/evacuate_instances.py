"""A compute node has failed for good: the admin guide's "Evacuate instances" (``openstack server
evacuate``), for a cloud whose ``/var/lib/nova/instances`` is shared between the computes.

Nova refuses to evacuate from a compute whose service is up, so the runbook first waits for Nova
to see it down. It never touches the failed host. Since compute API 2.95 an evacuated instance
arrives stopped; the runbook starts it, as an operator would.
"""

from __future__ import annotations

import functools
from typing import Any

from stackdrill.api import RunbookStep

from ._failed_compute import FailedComputeRecovery


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
