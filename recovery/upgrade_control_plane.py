"""Upgrade the control plane to the next OpenStack release, offline: the projects' upgrade
guides' order.

Stop the control plane's services (the APIs first) on the controller, and Cinder's volume and
backup services on the storage hosts that run them; install the new release on those hosts with
the deployment's own command (the inventory's ``upgrade.install``); synchronise each service's
database schema in the documented order (``keystone-manage db_sync``, ``glance-manage db sync``,
``placement-manage db sync``, ``nova-manage api_db sync``, ``nova-manage cell_v2 map_cell0``,
``nova-manage db sync`` per cell, ``cinder-manage db sync``, ``neutron-db-manage upgrade
head``), each its own step; start the services again and wait until Nova's and Cinder's report
up; then run the online data migrations (``nova-manage db online_data_migrations``,
``cinder-manage db online_data_migrations``) until they have nothing left, and ``nova-status
upgrade check``.

The computes keep running the release before (Nova supports computes one release behind the
control plane): ``rolling_upgrade_computes`` upgrades them after this. The operations guide:
"it is critical to ensure that database changes are successful otherwise an inconsistent
cluster state could arise": take a backup first (``back_up_control_plane``); a failed
synchronisation is rolled back from it by ``roll_back_upgrade``, never by starting the services
on a half-migrated database, so this runbook has no rollback of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import ClassVar

from stackdrill.api import Recovery, RunbookStep, wait
from stackdrill.core.errors import InvalidValue
from stackdrill.core.params import Param, positive_float, word_list
from stackdrill.hostkit.upgrades import (
    BLOCK_STORAGE_SERVICES,
    CONTROL_SERVICES,
    MIGRATED,
    SYNCED,
    DbSync,
    UpgradeFailed,
    db_syncs,
    install,
    install_command,
    manage,
    online_migrations,
    run_online_migrations,
    storage_hosts,
    sync_names,
)

STATUS_FAILURE = 2  # nova-status upgrade check: 0 success, 1 warning, 2 failure, 255 error


def _cell_configs(text: str) -> list[str]:
    configs = word_list(text)
    for conf in configs:
        if not conf.startswith("/") or any(ch.isspace() or ch in "'\";$`\\" for ch in conf):
            raise InvalidValue(f"not an absolute path without spaces or quotes: {conf!r}")
    return configs


class UpgradeControlPlane(Recovery):
    name = "upgrade_control_plane"
    description = ("upgrade the control plane offline: stop its services, install the new "
                   "release (the inventory's upgrade.install), each service's db sync in the "
                   "documented order, start, then the online data migrations")
    params: ClassVar[Mapping[str, Param]] = {
        "services": Param("the controller's services to stop, and start on the new release",
                          word_list, list(CONTROL_SERVICES)),
        "block_storage": Param("the services to stop, upgrade and start on each storage host "
                               "that runs them", word_list, list(BLOCK_STORAGE_SERVICES)),
        "syncs": Param("the services whose schemas to synchronise (kept in the documented "
                       "order)", sync_names, list(SYNCED)),
        "cells": Param("nova.conf of each cell, for nova-manage db sync", _cell_configs,
                       ["/etc/nova/nova.conf"]),
        "migrations": Param("the services whose online data migrations to run", sync_names,
                            list(MIGRATED)),
        "timeout": Param("seconds for each service to stop or start, and each wait",
                         positive_float, 300.0),
    }

    @property
    def bin_dir(self) -> str | None:
        return self.target.inventory.upgrade.bin_dir

    def runbook(self) -> list[RunbookStep]:
        host, services = self.target.name, self.values["services"]
        install = self.target.inventory.upgrade.install or "<upgrade.install>"
        steps = [
            RunbookStep(f"Stop the control plane on {host} ({', '.join(services)})",
                        self.stop_controller,
                        tuple(self.target.service(s).command("stop") for s in services)),
            RunbookStep("Stop the block storage services on the storage hosts",
                        self.stop_block_storage,
                        tuple(f"<storage host>: stop {s}" for s in self.values["block_storage"])),
            RunbookStep(f"Install the new release on {host} and the storage hosts",
                        self.install, (install,)),
        ]
        steps += [RunbookStep(f"Synchronise the {sync.service} schema ({sync.title})",
                              functools.partial(self.sync, sync), (sync.command,))
                  for sync in db_syncs(self.values["syncs"], self.bin_dir, self.values["cells"])]
        steps += [
            RunbookStep(f"Start the control plane on {host} on the new release",
                        self.start_controller,
                        tuple(self.target.service(s).command("start")
                              for s in reversed(services))),
            RunbookStep("Start the block storage services on the new release",
                        self.start_block_storage,
                        tuple(f"<storage host>: start {s}" for s in self.values["block_storage"])),
            RunbookStep("Wait for Nova's and Cinder's services to report up", self.wait_up,
                        ("openstack compute service list", "openstack volume service list")),
        ]
        steps += [RunbookStep(f"Run {service}'s online data migrations until none is left",
                              functools.partial(self.migrate, command), (command,))
                  for service, command in online_migrations(self.values["migrations"],
                                                            self.bin_dir)]
        steps.append(RunbookStep("Check the upgrade (nova-status upgrade check)",
                                 self.status_check, (self._status_command(),)))
        return steps

    # -- the hosts ---------------------------------------------------------------------------
    def stop_controller(self) -> None:
        for service in self.values["services"]:
            self.target.service(service).stop(self.values["timeout"])

    def stop_block_storage(self) -> None:
        for host, services in storage_hosts(self.target, self.values["block_storage"]):
            for service in services:
                host.service(service).stop(self.values["timeout"])

    def install(self) -> None:
        command = install_command(self.target.inventory.upgrade)
        for host in [self.target, *(h for h, _ in storage_hosts(
                self.target, self.values["block_storage"]))]:
            install(host, command)
        self.target.run(self._version_command())

    def _version_command(self) -> str:
        return " ; ".join(f"{manage(self.bin_dir, f'{s}-manage')} --version"
                          for s in ("nova", "cinder", "glance", "keystone", "placement"))

    def sync(self, sync: DbSync) -> None:
        result = self.target.run(sync.command, timeout=1800)
        if not result.ok:
            raise UpgradeFailed(f"{self.target.name}: {sync.title} exited "
                                f"{result.exit_status}; the database may be half migrated: "
                                f"restore it from the backup (roll_back_upgrade)")

    def start_controller(self) -> None:
        for service in reversed(self.values["services"]):
            self.target.service(service).start_again(self.values["timeout"])

    def start_block_storage(self) -> None:
        for host, services in storage_hosts(self.target, self.values["block_storage"]):
            for service in services:
                host.service(service).start_again(self.values["timeout"])

    def wait_up(self) -> None:
        conn = self.cloud()

        def all_up() -> list[str] | None:
            services = [*(("compute", s.binary, s.host, s.state)
                          for s in conn.compute.services()),
                        *(("volume", s.binary, s.host, s.state)
                          for s in conn.block_storage.services())]
            down = [f"{b}@{h}" for _, b, h, state in services if state != "up"]
            return None if down or not services else [f"{b}@{h} {state}"
                                                      for _, b, h, state in services]

        lines = wait(all_up, self.values["timeout"], "every Nova and Cinder service up")
        self.api_call("openstack compute service list; openstack volume service list",
                      lambda: list(lines))

    def migrate(self, command: str) -> None:
        runs = run_online_migrations(self.target, command)
        self.api_call(f"{command} (until it exits 0)",
                      lambda: [f"nothing left to migrate after {runs} run(s)"])

    def _status_command(self) -> str:
        return manage(self.bin_dir, "nova-status upgrade check")

    def status_check(self) -> None:
        result = self.target.run(self._status_command(), timeout=300)
        if result.exit_status >= STATUS_FAILURE:
            raise UpgradeFailed(f"{self.target.name}: nova-status upgrade check exited "
                                f"{result.exit_status} (a check failed)")

