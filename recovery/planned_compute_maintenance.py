"""Planned maintenance of a compute node: the operations guide's "Planned Maintenance".

"first ensure that all hosted instances have been moved off the node. If your cloud is utilizing
shared storage, use the nova live-migration command ... After you have migrated all instances,
ensure that the nova-compute service has stopped ... shut down your compute node, perform your
maintenance, and turn the node back on ... Then start the nova-compute service ... You can now
optionally migrate the instances back to their original compute node."

The runbook also disables the compute service before it moves anything, so the scheduler places
nothing new on the host, and enables it once nova-compute is back. ``migration: live`` (the
default, for shared storage) uses ``nova live-migration``; ``migration: cold`` uses ``openstack
server migrate`` and confirms each move. The host's reboot is proven by its boot identity. At
the end every instance is back where it was, and no other instance has moved.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Recovery, RecoveryFailed, ResourceFailed, RunbookStep, wait
from stackdrill.cloud.canary import wait_compute_up
from stackdrill.core.errors import InvalidValue
from stackdrill.core.params import Param, positive_float
from stackdrill.hosts.identity import boot_identity
from stackdrill.hosts.ssh import HostError

RUNNING = 1
REASON = "stackdrill: planned maintenance"
TRANSIENT_REFUSALS = ("No valid host", "is unavailable at this time")


def _migration_kind(text: str) -> str:
    if text not in ("live", "cold"):
        raise InvalidValue("expected live or cold")
    return text


class PlannedComputeMaintenance(Recovery):
    name = "planned_compute_maintenance"
    description = ("The operations guide's planned maintenance of a compute: disable it, "
                   "migrate its instances off, stop nova-compute, reboot, start and enable it, "
                   "migrate the instances back")
    params: ClassVar[Mapping[str, Param]] = {
        "migration": Param("live (shared storage) or cold", _migration_kind, "live"),
        "timeout": Param("seconds for each wait", positive_float, 300.0),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.moved: list[str] = []
        self.placement: dict[str, str] = {}  # every instance of the cloud -> its host before
        self.boot = ""

    def runbook(self) -> list[RunbookStep]:
        name, kind = self.target.name, self.values["migration"]
        verb = "nova live-migration" if kind == "live" else "openstack server migrate --wait"
        return [
            RunbookStep(f"List the instances to move (nova list --host {name} --all-tenants)",
                        self.list_instances, (f"nova list --host {name} --all-tenants",)),
            RunbookStep(f"Disable nova-compute on {name} in the scheduler",
                        functools.partial(self.set_service, False),
                        (f"openstack compute service set --disable {name} nova-compute",)),
            RunbookStep(f"Migrate each instance off {name} ({kind} migration)",
                        self.migrate_off, (f"{verb} <instance>",)),
            RunbookStep(f"Stop nova-compute on {name}", self.stop_compute,
                        (self.target.service("nova-compute").command("stop"),)),
            RunbookStep(f"Reboot {name} and prove it rebooted (boot identity changed)",
                        self.reboot, ("systemctl reboot",)),
            RunbookStep(f"Start nova-compute on {name} and wait for it to be up",
                        self.start_compute,
                        (self.target.service("nova-compute").command("start"),)),
            RunbookStep(f"Enable nova-compute on {name}",
                        functools.partial(self.set_service, True),
                        (f"openstack compute service set --enable {name} nova-compute",)),
            RunbookStep(f"Migrate the instances back to {name}", self.migrate_back,
                        (f"{verb} --host {name} <instance>",)),
            RunbookStep("Check nothing else moved", self.check_placement,
                        ("openstack server list --all-projects --long",)),
        ]

    def rollback(self) -> list[str]:
        """A maintenance window that failed must not leave the compute disabled or its
        nova-compute stopped; instances already moved stay where they run."""
        done = []
        nova_compute = self.target.service("nova-compute")
        if self.target.run(nova_compute.running_test()).exit_status != 0:
            self.target.run(nova_compute.command("start"), check=True)
            done.append(f"started {nova_compute.label} on {self.target.name}")
        conn = self.cloud()
        for service in conn.compute.services(binary="nova-compute", host=self.target.name):
            if service.status == "disabled" and service.disabled_reason == REASON:
                conn.compute.enable_service(service)
                done.append(f"enabled nova-compute@{self.target.name} again")
        return done

    def _placement_now(self) -> dict[str, str]:
        conn = self.cloud()
        return {s.id: s.compute_host for s in conn.compute.servers(all_projects=True)}

    def list_instances(self) -> None:
        self.placement = self._placement_now()
        self.moved = sorted(s for s, host in self.placement.items() if host == self.target.name)
        self.api_call(f"nova list --host {self.target.name} --all-tenants",
                      lambda: self.moved or ["(no instance)"])

    def set_service(self, enabled: bool) -> None:
        conn = self.cloud()
        services = [s for s in conn.compute.services(binary="nova-compute",
                                                     host=self.target.name)]
        if not services:
            raise RecoveryFailed(f"Nova has no nova-compute service on {self.target.name}")
        for service in services:
            if enabled:
                self.api_call(f"openstack compute service set --enable {self.target.name} "
                              f"nova-compute", functools.partial(self._enable, conn, service))
            else:
                self.api_call(f"openstack compute service set --disable --disable-reason "
                              f"'{REASON}' {self.target.name} nova-compute",
                              functools.partial(self._disable, conn, service))

    @staticmethod
    def _enable(conn: Any, service: Any) -> list[str]:
        conn.compute.enable_service(service)
        return [f"nova-compute@{service.host} enabled"]

    @staticmethod
    def _disable(conn: Any, service: Any) -> list[str]:
        conn.compute.disable_service(service, disabled_reason=REASON)
        return [f"nova-compute@{service.host} disabled ({REASON})"]

    def _migrate(self, server_id: str, host: str | None) -> list[str]:
        conn = self.cloud()
        if self.values["migration"] == "live":
            conn.compute.live_migrate_server(server_id, host=host, block_migration="auto")
        else:
            conn.compute.migrate_server(server_id, host=host)
        return [f"{server_id} {self.values['migration']} migration to {host or 'the scheduler'}"
                f"'s choice requested"]

    def _request(self, server_id: str, host: str | None) -> bool:
        """Ask for the migration. Two refusals are asked again until the deadline: "No valid
        host" (a host just enabled may not be schedulable yet: Nova updates its placement trait
        asynchronously), and "Compute service of <host> is unavailable" (a nova-compute started
        a moment ago whose first report is not in yet, while the last one has grown too old)."""
        label = (f"nova live-migration {server_id} {host or ''}".strip()
                 if self.values["migration"] == "live" else
                 f"openstack server migrate {server_id}{' --host ' + host if host else ''}")
        try:
            self.api_call(label, functools.partial(self._migrate, server_id, host))
        except RecoveryFailed as exc:
            if any(transient in str(exc) for transient in TRANSIENT_REFUSALS):
                return False
            raise ResourceFailed(str(exc)) from exc
        return True

    def _arrived(self, server_id: str, where: Any) -> bool:
        conn = self.cloud()
        server = conn.compute.get_server(server_id)
        if server.status == "ERROR":
            raise ResourceFailed(f"instance {server.name} went to ERROR during migration")
        if server.status == "VERIFY_RESIZE":
            conn.compute.confirm_server_resize(server)
            return False
        return bool(server.status == "ACTIVE" and not server.task_state
                    and server.power_state == RUNNING and where(server.compute_host))

    def _move_all(self, host: str | None) -> None:
        away = self.target.name
        for server_id in self.moved:
            wait(functools.partial(self._request, server_id, host), self.values["timeout"],
                 f"the scheduler accepting the migration of {server_id}")
            where = (lambda h: h == host) if host else (lambda h: h != away)
            wait(functools.partial(self._arrived, server_id, where), self.values["timeout"],
                 f"instance {server_id} ACTIVE on {host or 'a host other than ' + away}")

    def migrate_off(self) -> None:
        self._move_all(None)

    def migrate_back(self) -> None:
        self._move_all(self.target.name)

    def stop_compute(self) -> None:
        # nova-compute may outlast its stop timeout and be killed: "failed" is stopped too.
        self.target.service("nova-compute").stop(self.values["timeout"])

    def reboot(self) -> None:
        self.boot = boot_identity(self.target)
        with contextlib.suppress(HostError):  # the connection may close under the reboot
            self.target.run("systemctl reboot", timeout=10, retry_on_disconnect=False)
        wait(lambda: boot_identity(self.target, timeout=3) != self.boot,
             self.values["timeout"], f"{self.target.name} answering with a new boot identity")
        self.target.run("uptime; cat /proc/sys/kernel/random/boot_id")

    def start_compute(self) -> None:
        self.target.service("nova-compute").start(self.values["timeout"])
        wait_compute_up(self.cloud(), self.target.name, self.values["timeout"])

    def check_placement(self) -> None:
        now = self._placement_now()
        self.api_call("openstack server list --all-projects --long",
                      lambda: [f"{s} {h}" for s, h in sorted(now.items())])
        moved = sorted(f"{s}: {self.placement[s]} -> {h}" for s, h in now.items()
                       if s in self.placement and h != self.placement[s])
        if moved:
            raise RecoveryFailed(f"instances moved: {'; '.join(moved)}")
