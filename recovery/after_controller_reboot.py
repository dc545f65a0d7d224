"""After a cloud controller reboots: the operations guide's checks, as a runbook.

"After a cloud controller reboots, ensure that all required services were successfully
started" (ps aux | grep nova-, glance-, keystone, cinder), then check they work: image list,
server list, project list. The guide also warns that nova-compute does not always reconnect to
the message queue after a long controller outage; computes whose service stays down get their
nova-compute restarted.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import ClassVar

from stackdrill.api import Recovery, RecoveryFailed, RunbookStep, wait
from stackdrill.api._runbook import after_reboot_steps
from stackdrill.core.params import Param, positive_float, word_list
from stackdrill.core.waiting import WaitTimeout, poll


class AfterControllerReboot(Recovery):
    name = "after_controller_reboot"
    description = "wait for the controller, prove it rebooted, then the ops guide's checks"
    params: ClassVar[Mapping[str, Param]] = {
        "timeout": Param("seconds for the host, then for each check", positive_float, 240.0),
        "processes": Param("process names `ps aux | grep` must find", word_list,
                           ["nova-api", "nova-conductor", "nova-scheduler", "glance-api",
                            "keystone", "cinder-api", "cinder-scheduler"]),
        "reconnect_grace": Param("seconds nova-compute gets to reconnect before a restart",
                                 positive_float, 60.0),
    }

    def runbook(self) -> list[RunbookStep]:
        return [
            *after_reboot_steps(self, self.values["timeout"]),
            RunbookStep("Check the services were started (ps aux | grep nova- glance- "
                        "keystone cinder)", self.check_processes, ("ps aux",)),
            RunbookStep("Check the services work: openstack image list",
                        functools.partial(self.listing, "openstack image list", "image")),
            RunbookStep("Check the services work: openstack server list",
                        functools.partial(self.listing, "openstack server list", "server")),
            RunbookStep("Check the services work: openstack project list",
                        functools.partial(self.listing, "openstack project list", "project")),
            RunbookStep("Restart nova-compute where it did not reconnect",
                        self.reconnect_computes),
        ]

    def check_processes(self) -> None:
        def all_running() -> bool:
            listing = self.target.run("ps aux", record=False).stdout
            return all(name in listing for name in self.values["processes"])

        wait(all_running, self.values["timeout"], "every OpenStack service process running")
        pattern = "|".join(self.values["processes"])
        self.target.run(f"ps aux | grep -E '{pattern}' | grep -v grep")

    def listing(self, label: str, kind: str) -> None:
        def call() -> list[str]:
            conn = self.cloud()
            if kind == "image":
                return [f"{i.id} {i.name} {i.status}" for i in conn.image.images()]
            if kind == "server":
                return [f"{s.id} {s.name} {s.status}"
                        for s in conn.compute.servers(all_projects=True)]
            return [f"{p.id} {p.name}" for p in conn.identity.projects()]

        wait(lambda: self.api_call(label, call) is not None, self.values["timeout"],
             f"{label} answering")

    def reconnect_computes(self) -> None:
        conn_services = self._compute_services_down
        try:
            poll(lambda: not conn_services(), timeout=self.values["reconnect_grace"],
                 interval=1.0, max_interval=3.0, description="nova-compute services up",
                 ignore=(RecoveryFailed,))
            return
        except WaitTimeout:
            pass
        targets = self.context.targets
        if targets is None:
            raise RecoveryFailed("no hosts to restart nova-compute on")
        for host in conn_services():
            targets.get(host).service("nova-compute").restart()
        wait(lambda: not conn_services(), self.values["timeout"], "nova-compute services up")

    def _compute_services_down(self) -> list[str]:
        down = self.api_call("openstack compute service list --service nova-compute", lambda: [
            f"{s.host} {s.state} {s.status}"
            for s in self.cloud().compute.services(binary="nova-compute")])
        return [line.split()[0] for line in down if line.split()[1] != "up"]
