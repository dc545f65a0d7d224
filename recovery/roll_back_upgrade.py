"""Roll a failed upgrade back from the backup taken before it: the operations guides' way out
when "database changes" did not succeed and "an inconsistent cluster state could arise".

On the controller that holds the database and the backup (``back_up_control_plane``'s
directory): stop the control plane's services (and Cinder's volume and backup services on the
storage hosts), start the database if it is down, load every database the backup dumped one by
one (each dropped and created again first, so that nothing a half-done migration added stays),
put the configuration directories back from the backup on each host that has a copy, install
the release before the upgrade again (the inventory's ``upgrade.install_previous``), start the
services and wait until Nova's and Cinder's report up. The drill then checks the pre-upgrade
state: the cloud back to its verified state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from stackdrill.api import Recovery, RunbookStep
from stackdrill.core.params import Param, positive_float, word_list
from stackdrill.hostkit.upgrades import (
    BACKUP_DIR,
    BLOCK_STORAGE_SERVICES,
    CONTROL_SERVICES,
    directory,
    install,
    install_command,
    load_dumps,
    put_configs_back,
    storage_hosts,
)
from stackdrill.hosts.target import Target

from .upgrade_control_plane import UpgradeControlPlane


class RollBackUpgrade(Recovery):
    name = "roll_back_upgrade"
    description = ("roll a failed upgrade back: stop the services, load every database from "
                   "the backup, put the configuration back, install the previous release "
                   "(the inventory's upgrade.install_previous), start")
    params: ClassVar[Mapping[str, Param]] = {
        "services": Param("the controller's services to stop, and start on the previous "
                          "release", word_list, list(CONTROL_SERVICES)),
        "block_storage": Param("the services to stop and start on each storage host that "
                               "runs them", word_list, list(BLOCK_STORAGE_SERVICES)),
        "database": Param("the database service, started if it is down", default="mariadb"),
        "dir": Param("the backup directory", directory, BACKUP_DIR),
        "timeout": Param("seconds for each service to stop or start, and each wait",
                         positive_float, 300.0),
    }

    def runbook(self) -> list[RunbookStep]:
        backup, host = self.values["dir"], self.target.name
        database = self.target.service(self.values["database"])
        previous = self.target.inventory.upgrade.install_previous or \
            "<upgrade.install_previous>"
        upgrade = self._upgrade()
        return [
            RunbookStep(f"Stop the control plane on {host}", upgrade.stop_controller,
                        tuple(self.target.service(s).command("stop")
                              for s in self.values["services"])),
            RunbookStep("Stop the block storage services on the storage hosts",
                        upgrade.stop_block_storage,
                        tuple(f"<storage host>: stop {s}" for s in self.values["block_storage"])),
            RunbookStep(f"Start the database on {host} if it is down", self.start_database,
                        (database.command("start"),)),
            RunbookStep("Load each database from its dump", self.load_databases,
                        (f"mysql -e 'DROP DATABASE <db>; CREATE DATABASE <db>' && "
                         f"mysql <db> < {backup}/<db>.sql",)),
            RunbookStep("Put the configuration back from the backup on each host",
                        self.put_configs,
                        (f"mv /etc/<name> /etc/<name>.orig; cp -a {backup}/etc/<name> /etc/",)),
            RunbookStep("Install the previous release again", self.reinstall, (previous,)),
            RunbookStep(f"Start the control plane on {host} on the previous release",
                        upgrade.start_controller,
                        tuple(self.target.service(s).command("start")
                              for s in reversed(self.values["services"]))),
            RunbookStep("Start the block storage services", upgrade.start_block_storage,
                        tuple(f"<storage host>: start {s}"
                              for s in self.values["block_storage"])),
            RunbookStep("Wait for Nova's and Cinder's services to report up", upgrade.wait_up,
                        ("openstack compute service list", "openstack volume service list")),
        ]

    def _upgrade(self) -> UpgradeControlPlane:
        """The upgrade's own stop, start and wait, on the same services."""
        return UpgradeControlPlane(self.target, {
            "services": ",".join(self.values["services"]),
            "block_storage": ",".join(self.values["block_storage"]),
            "timeout": str(self.values["timeout"])}, self.context)

    def hosts(self) -> list[Target]:
        return [self.target, *(host for host, _ in storage_hosts(
            self.target, self.values["block_storage"]))]

    def start_database(self) -> None:
        database = self.target.service(self.values["database"])
        if not database.is_running():
            database.start_again(self.values["timeout"])
        self.target.run("mysqladmin status", check=True)

    def load_databases(self) -> None:
        load_dumps(self.target, self.values["dir"])

    def put_configs(self) -> None:
        put_configs_back(self.hosts(), self.values["dir"])

    def reinstall(self) -> None:
        command = install_command(self.target.inventory.upgrade, previous=True)
        for host in self.hosts():
            install(host, command)
