"""Upgrade the computes one at a time with their instances running: the operations guide's "To
complete an upgrade of OpenStack Compute while keeping instances running, you should be able to
use live migration to move machines around while performing updates, and then move them back
afterward".

For each compute, in turn, the steps of ``planned_compute_maintenance`` with the reboot
replaced by the upgrade: list its instances, disable it in the scheduler, live-migrate every
instance off (``migration: cold`` migrates them instead: they stop), stop nova-compute, install
the new release (the inventory's ``upgrade.install_compute``, else ``upgrade.install``), start
nova-compute and wait until Nova shows a report of the new process (newer than the stopped
one's last: Nova shows a stopped nova-compute up for ``service_down_time``), enable it, migrate
the instances back, and check that every instance of the cloud is where it was. Run after
``upgrade_control_plane``: Nova's control plane takes computes one release behind it, so old
and new computes migrate to each other while the upgrade goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from stackdrill.api import Recovery, RecoveryFailed, RunbookStep, wait
from stackdrill.core.errors import InvalidValue
from stackdrill.core.params import Param, positive_float, word_list
from stackdrill.hostkit.upgrades import install, install_command

from .planned_compute_maintenance import PlannedComputeMaintenance, _migration_kind


class RollingUpgradeComputes(Recovery):
    name = "rolling_upgrade_computes"
    description = ("upgrade each compute in turn with its instances running: live-migrate "
                   "them off, stop nova-compute, install the new release, start it, migrate "
                   "them back")
    params: ClassVar[Mapping[str, Param]] = {
        "migration": Param("live (shared storage) or cold", _migration_kind, "live"),
        "computes": Param("the computes to upgrade, in this order (default: every compute of "
                          "the inventory, by name)", word_list, []),
        "timeout": Param("seconds for each wait", positive_float, 300.0),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._maintenance: dict[str, PlannedComputeMaintenance] = {}
        self._last_report: dict[str, str] = {}  # compute -> its stopped nova-compute's report

    def computes(self) -> list[str]:
        known = [spec.name for spec in self.target.inventory.with_role("compute")]
        chosen = self.values["computes"] or known
        unknown = [name for name in chosen if name not in known]
        if unknown:
            raise InvalidValue(f"recovery {self.name!r}: {unknown[0]!r} is not a compute of "
                               f"the inventory (computes: {', '.join(known)})")
        return list(chosen)

    def maintenance(self, compute: str) -> PlannedComputeMaintenance:
        """The planned maintenance of ``compute``, made when its first step runs (the dry run
        makes none: it cannot reach the compute)."""
        if compute not in self._maintenance:
            self._maintenance[compute] = PlannedComputeMaintenance(
                self.target.peer(compute), {"migration": self.values["migration"],
                                            "timeout": str(self.values["timeout"])},
                self.context)
        return self._maintenance[compute]

    def _on(self, compute: str, action: Callable[[PlannedComputeMaintenance], object]
            ) -> Callable[[], object]:
        return lambda: action(self.maintenance(compute))

    def runbook(self) -> list[RunbookStep]:
        kind = self.values["migration"]
        verb = "nova live-migration" if kind == "live" else "openstack server migrate --wait"
        nova_compute = self.target.service("nova-compute")
        install = self.target.inventory.upgrade.on_compute() or "<upgrade.install_compute>"
        steps: list[RunbookStep] = []
        for name in self.computes():
            steps += [
                RunbookStep(f"{name}: list its instances and disable it in the scheduler",
                            self._on(name, self._list_and_disable),
                            (f"nova list --host {name} --all-tenants",
                             f"openstack compute service set --disable {name} nova-compute")),
                RunbookStep(f"{name}: migrate each instance off ({kind} migration)",
                            self._on(name, PlannedComputeMaintenance.migrate_off),
                            (f"{verb} <instance>",)),
                RunbookStep(f"{name}: stop nova-compute", self._on(name, self._stop),
                            (nova_compute.command("stop"),
                             f"openstack compute service list --host {name} "
                             f"--service nova-compute")),
                RunbookStep(f"{name}: install the new release", self._on(name, self._install),
                            (install,)),
                RunbookStep(f"{name}: start nova-compute on the new release and wait for its "
                            f"first report", self._on(name, self._start),
                            (nova_compute.command("start"),
                             f"openstack compute service list --host {name} "
                             f"--service nova-compute")),
                RunbookStep(f"{name}: enable it and migrate the instances back",
                            self._on(name, self._enable_and_return),
                            (f"openstack compute service set --enable {name} nova-compute",
                             f"{verb} --host {name} <instance>")),
                RunbookStep(f"{name}: check that every instance is where it was",
                            self._on(name, PlannedComputeMaintenance.check_placement),
                            ("openstack server list --all-projects --long",)),
            ]
        return steps

    @staticmethod
    def _list_and_disable(maintenance: PlannedComputeMaintenance) -> None:
        maintenance.list_instances()
        maintenance.set_service(False)

    @staticmethod
    def _enable_and_return(maintenance: PlannedComputeMaintenance) -> None:
        maintenance.set_service(True)
        maintenance.migrate_back()

    def _report(self, compute: str) -> tuple[str, str]:
        """nova-compute's state on ``compute`` and when it last reported, as Nova shows them."""
        conn = self.cloud()
        services = list(conn.compute.services(binary="nova-compute", host=compute))
        if not services:
            raise RecoveryFailed(f"Nova has no nova-compute service on {compute}")
        return str(services[0].state), str(services[0].updated_at)

    def _stop(self, maintenance: PlannedComputeMaintenance) -> None:
        """Stop nova-compute, and note its last report: Nova shows it up for a while after
        (``service_down_time``), so the new one is known by a report after that one."""
        maintenance.stop_compute()
        compute = maintenance.target.name
        state, updated = self._report(compute)
        self._last_report[compute] = updated
        self.api_call(f"openstack compute service list --host {compute} --service nova-compute",
                      lambda: [f"nova-compute@{compute} {state}, last report {updated} "
                               f"(stopped)"])

    def _start(self, maintenance: PlannedComputeMaintenance) -> None:
        """Start nova-compute, and wait until Nova shows it up with a report newer than the
        stopped one's: the new release's process reporting, not the old one's last report."""
        compute = maintenance.target.name
        maintenance.target.service("nova-compute").start(self.values["timeout"])
        stale = self._last_report.get(compute)

        def reported() -> str | None:
            state, updated = self._report(compute)
            return updated if state == "up" and updated != stale else None

        updated = wait(reported, self.values["timeout"],
                       f"a report of the new nova-compute on {compute}")
        self.api_call(f"openstack compute service list --host {compute} --service nova-compute",
                      lambda: [f"nova-compute@{compute} up, reported {updated} (the stopped "
                               f"one last reported {stale})"])

    def _install(self, maintenance: PlannedComputeMaintenance) -> None:
        install(maintenance.target, install_command(self.target.inventory.upgrade,
                                                    compute=True))

    def rollback(self) -> list[str]:
        """No compute is left disabled or without its nova-compute: each compute's planned
        maintenance rollback, on every compute (whichever the runbook reached)."""
        done: list[str] = []
        for name in self.computes():
            done += self.maintenance(name).rollback()
        return done
