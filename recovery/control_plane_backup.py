"""Back up the control plane and restore it: the operations guide's backup and recovery chapter.

Backup: "mysqldump --opt --all-databases > openstack.sql", one dump per database ("If you only
want to backup a single database, you can instead run: mysqldump --opt nova > nova.sql"), and the
configuration directories (/etc/nova, /etc/glance, /etc/keystone, /etc/cinder, /etc/swift) of
every host that has them ("The /etc/nova directory on both the cloud controller and compute nodes
should be regularly backed up").

Restore, on the host that holds the backup: "first ensure that the service you are recovering is
not running ... stop all nova services", then "mysql nova < nova.sql", then move the damaged
configuration aside and copy the backup in ("mv /etc/nova{,.orig}; cp -a /root/backup/nova
/etc/"), then start the services again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from stackdrill.api import Recovery, RecoveryFailed, RunbookStep
from stackdrill.core.params import Param, positive_float, word_list
from stackdrill.hostkit.databases import identifier
from stackdrill.hostkit.units import start_stopped
from stackdrill.hostkit.upgrades import BACKUP_DIR, SYSTEM_DATABASES, directory

CONFIGS = ("nova", "glance", "keystone", "cinder", "swift")


def _config_names(text: str) -> list[str]:
    names = word_list(text)
    for name in names:
        identifier(name)
    return names


def _databases(text: str) -> list[str]:
    return [identifier(name) for name in word_list(text)]


class BackUpControlPlane(Recovery):
    name = "back_up_control_plane"
    description = ("mysqldump every database (all at once and one by one) on the database "
                   "host, and copy each host's /etc/<service> directories, into a backup "
                   "directory")
    params: ClassVar[Mapping[str, Param]] = {
        "dir": Param("the backup directory on each host", directory, BACKUP_DIR),
        "configs": Param("the /etc directories to copy", _config_names, list(CONFIGS)),
    }

    def runbook(self) -> list[RunbookStep]:
        backup = self.values["dir"]
        return [
            RunbookStep("Dump every database (mysqldump --opt --all-databases)", self.dump_all,
                        (f"mysqldump --opt --all-databases > {backup}/openstack.sql",)),
            RunbookStep("Dump each OpenStack database on its own", self.dump_each,
                        (f"mysqldump --opt <database> > {backup}/<database>.sql",)),
            RunbookStep("Copy the configuration directories of every host", self.copy_configs,
                        tuple(f"cp -a /etc/{name} {backup}/etc/"
                              for name in self.values["configs"])),
        ]

    def dump_all(self) -> None:
        backup = self.values["dir"]
        self.target.run(f"mkdir -p {backup} && chmod 700 {backup} && "
                        f"mysqldump --opt --all-databases > {backup}/openstack.sql.tmp && "
                        f"mv {backup}/openstack.sql.tmp {backup}/openstack.sql", check=True,
                        timeout=600)

    def dump_each(self) -> None:
        backup = self.values["dir"]
        listed = self.target.run("mysql --batch --skip-column-names -e 'SHOW DATABASES'",
                                 check=True).stdout.split()
        for database in listed:
            if database in SYSTEM_DATABASES:
                continue
            identifier(database)
            self.target.run(f"mysqldump --opt {database} > {backup}/{database}.sql.tmp && "
                            f"mv {backup}/{database}.sql.tmp {backup}/{database}.sql",
                            check=True, timeout=600)
        self.target.run(f"ls -l {backup}", check=True)

    def copy_configs(self) -> None:
        backup = self.values["dir"]
        hosts = list(self.context.targets) if self.context.targets else [self.target]
        for host in hosts:
            copies = " ; ".join(
                f"if [ -d /etc/{name} ]; then rm -rf {backup}/etc/{name} && "
                f"cp -a /etc/{name} {backup}/etc/; fi" for name in self.values["configs"])
            host.run(f"mkdir -p {backup}/etc && chmod 700 {backup} && {copies} && "
                     f"ls {backup}/etc", check=True)


class RestoreControlPlane(Recovery):
    name = "restore_control_plane"
    description = ("stop the affected services, load their databases from the backup's dumps, "
                   "put their configuration back from the backup, and start them")
    params: ClassVar[Mapping[str, Param]] = {
        "services": Param("the services to stop while restoring and start afterwards",
                          word_list),
        "databases": Param("the databases to load from <dir>/<database>.sql", _databases, []),
        "configs": Param("the /etc directories to put back from <dir>/etc", _config_names, []),
        "dir": Param("the backup directory", directory, BACKUP_DIR),
        "timeout": Param("seconds for each service to stop or start", positive_float, 120.0),
    }

    def runbook(self) -> list[RunbookStep]:
        backup, services = self.values["dir"], self.values["services"]
        steps = [RunbookStep(f"Stop {', '.join(services)}", self.stop,
                             tuple(self.target.service(s).command("stop") for s in services))]
        if self.values["databases"]:
            steps.append(RunbookStep(
                "Load each database from its dump", self.load_databases,
                tuple(f"mysql {db} < {backup}/{db}.sql" for db in self.values["databases"])))
        if self.values["configs"]:
            steps.append(RunbookStep(
                "Put each configuration directory back from the backup", self.put_configs,
                tuple(f"mv /etc/{name} /etc/{name}.orig; cp -a {backup}/etc/{name} /etc/"
                      for name in self.values["configs"])))
        steps.append(RunbookStep(f"Start {', '.join(services)}", self.start,
                                 tuple(self.target.service(s).command("start")
                                       for s in services)))
        return steps

    def rollback(self) -> list[str]:
        """Failed or interrupted with the services stopped: start them again (a service whose
        configuration is still missing says so, and stays down)."""
        return start_stopped(self.target, self.values["services"], self.values["timeout"])

    def stop(self) -> None:
        for service in self.values["services"]:
            self.target.service(service).stop(self.values["timeout"])

    def load_databases(self) -> None:
        backup = self.values["dir"]
        for database in self.values["databases"]:
            dump = f"{backup}/{database}.sql"
            if not self.target.run(f"test -s {dump}").ok:
                raise RecoveryFailed(f"{self.target.name}: no dump of {database} at {dump}")
            self.target.run(f"mysql -e 'CREATE DATABASE IF NOT EXISTS {database}' && "
                            f"mysql {database} < {dump}", check=True, timeout=600)

    def put_configs(self) -> None:
        backup = self.values["dir"]
        for name in self.values["configs"]:
            if not self.target.run(f"test -d {backup}/etc/{name}").ok:
                raise RecoveryFailed(f"{self.target.name}: no backup of /etc/{name} in "
                                     f"{backup}/etc")
            self.target.run(f"rm -rf /etc/{name}.orig && "
                            f"{{ [ ! -e /etc/{name} ] || mv /etc/{name} /etc/{name}.orig; }} && "
                            f"cp -a {backup}/etc/{name} /etc/", check=True)

    def start(self) -> None:
        for service in self.values["services"]:
            # a service that failed without its configuration may have hit its start limit
            self.target.service(service).start_again(self.values["timeout"])
