"""After a compute node reboots: the operations guide's procedure, as a runbook.

"First verify that it booted successfully. This includes ensuring that the nova-compute service
is running ... Also ensure that it has successfully connected to the AMQP server ... you must
deal with the instances that are hosted on that compute node because none of them are running
... start each instance." An instance whose libvirt XML no longer exists gets ``nova reboot
--hard``, which re-creates it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Recovery, RunbookStep, wait
from stackdrill.api._runbook import after_reboot_steps
from stackdrill.core.params import Param, positive_float
from stackdrill.hostkit.amqp import AMQP_PORT, nova_compute_connected


class AfterComputeReboot(Recovery):
    name = "after_compute_reboot"
    description = ("prove the compute rebooted, check nova-compute and its AMQP connection, "
                   "then start its instances (hard reboot where the libvirt XML is gone)")
    params: ClassVar[Mapping[str, Param]] = {
        "timeout": Param("seconds for the host, then for each check", positive_float, 240.0),
    }

    def runbook(self) -> list[RunbookStep]:
        name = self.target.name
        return [
            *after_reboot_steps(self, self.values["timeout"]),
            RunbookStep("Check nova-compute is running (ps aux | grep nova-compute)",
                        self.nova_compute_running, ("ps aux | grep nova-compute",)),
            RunbookStep("Check nova-compute connected to AMQP", self.amqp_connected),
            RunbookStep(f"Start each instance on {name} (nova list --host {name})",
                        self.start_instances),
        ]

    def nova_compute_running(self) -> None:
        nova_compute = self.target.service("nova-compute")
        wait(nova_compute.is_running, self.values["timeout"], f"{nova_compute.label} active")
        self.target.run("ps aux | grep [n]ova-compute")

    def amqp_connected(self) -> None:
        wait(lambda: nova_compute_connected(self.target),
             self.values["timeout"], "nova-compute connected to AMQP")
        self.target.run(f"ss -tnp state established '( dport = :{AMQP_PORT} )'")

    def _servers(self) -> list[Any]:
        conn = self.cloud()
        servers = list(conn.compute.servers(all_projects=True,
                                            compute_host=self.target.name))
        self.api_call(f"nova list --host {self.target.name} --all-tenants",
                      lambda: [f"{s.id} {s.name} {s.status} {s.power_state}" for s in servers])
        return servers

    def _xml_exists(self, server: Any) -> bool:
        path = f"/etc/libvirt/qemu/{server.instance_name}.xml"
        return self.target.run(f"test -e {path} && echo present || echo missing").stdout \
            .strip() == "present"

    def _running(self, server: Any) -> bool:
        result = self.target.run(f"virsh domstate {server.instance_name}", record=False)
        return result.ok and result.stdout.strip() == "running"

    def start_instances(self) -> None:
        conn = self.cloud()
        # Nova notices the guests are down when it syncs power states; until then a server can
        # still say ACTIVE while its domain is shut off.
        for server in self._servers():
            if self._running(server):
                continue
            action = functools.partial(self._start_one, conn, server)
            self.api_call(f"nova {'start' if self._xml_exists(server) else 'reboot --hard'} "
                          f"{server.id}", action)
        wait(lambda: all(s.status == "ACTIVE" and self._running(s) for s in self._servers()),
             self.values["timeout"], f"every instance on {self.target.name} ACTIVE and running")

    def _start_one(self, conn: Any, server: Any) -> list[str]:
        current = conn.compute.get_server(server.id)
        if self._xml_exists(server) and current.status == "SHUTOFF":
            conn.compute.start_server(current)
            return [f"{current.id} start requested"]
        conn.compute.reboot_server(current, "HARD")
        return [f"{current.id} hard reboot requested ({current.status})"]
