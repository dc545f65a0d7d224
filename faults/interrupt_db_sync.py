"""An upgrade whose database synchronisation fails half way: the database stops in the middle of
one service's ``db sync``.

The fault runs the upgrade the way ``upgrade_control_plane`` does, on the controller: stop the
control plane (and Cinder's volume and backup services on the storage hosts), install the new
release (the inventory's ``upgrade.install``), and each schema synchronisation in the documented
order up to the chosen one. That one is caught half way on purpose: a session holds ``LOCK
TABLES <table> READ`` on a table its migration alters, so the synchronisation stops there,
after what it did before (Nova's ``db sync`` migrates cell0 before the cell's database, whose
``migrations`` table Nova 34 indexes); once the database shows the synchronisation waiting on
that table, the database is stopped under it, and the synchronisation fails.

The confirm observes the damage: the synchronisation exited non-zero (its exit status is kept in
``/var/log/stackdrill-db-sync.status``, its output beside it) and the database no longer runs.
The recovery is ``roll_back_upgrade``. The fault is refused unless a backup is there to roll
back from (``back_up_control_plane``'s dumps in ``dir``), because its undo, after a drill killed
half way, is that same rollback: the transient units removed, the database started, every
database loaded from its dump, the configuration put back, the previous release installed again
(``upgrade.install_previous``) and the services started. After a recovery (the database
and every service the fault stopped running again), the undo only removes the units: the
control plane works, and loading the dumps again under it would undo its work since.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Fault, FaultError
from stackdrill.core.errors import InvalidValue
from stackdrill.core.params import Param, positive_float, word_list
from stackdrill.core.waiting import WaitTimeout, poll
from stackdrill.hostkit.databases import identifier
from stackdrill.hostkit.units import start_stopped
from stackdrill.hostkit.upgrades import (
    ALL_DATABASES,
    BACKUP_DIR,
    BLOCK_STORAGE_SERVICES,
    CONTROL_SERVICES,
    SYNCED,
    db_syncs,
    directory,
    install,
    install_command,
    load_dumps,
    put_configs_back,
    storage_hosts,
)
from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import Target

LOG = "/var/log/stackdrill-db-sync.log"
STATUS = "/var/log/stackdrill-db-sync.status"
SYNC_UNIT = "stackdrill-db-sync"
LOCK_UNIT = "stackdrill-db-sync-lock"


def _service(text: str) -> str:
    if text not in SYNCED:
        raise InvalidValue(f"expected one of {', '.join(SYNCED)}")
    return text


def _table(text: str) -> str:
    database, dot, table = text.partition(".")
    if not dot:
        raise InvalidValue("expected <database>.<table>")
    return f"{identifier(database)}.{identifier(table)}"


class InterruptDbSync(Fault):
    name = "interrupt_db_sync"
    description = ("upgrade the control plane and stop the database half way through one "
                   "service's db sync; confirmed when that sync has failed and the database is "
                   "down")
    params: ClassVar[Mapping[str, Param]] = {
        "service": Param("the service whose db sync fails", _service, "nova"),
        "table": Param("<database>.<table> its migration alters, held locked so that the sync "
                       "stops there", _table, "nova.migrations"),
        "services": Param("the controller's services stopped for the upgrade", word_list,
                          list(CONTROL_SERVICES)),
        "block_storage": Param("the services stopped on each storage host that runs them",
                               word_list, list(BLOCK_STORAGE_SERVICES)),
        "database": Param("the database service stopped under the sync", default="mariadb"),
        "timeout": Param("seconds for each service to stop and for the sync to reach the table",
                         positive_float, 300.0),
        "dir": Param("the backup the undo rolls back from (back_up_control_plane's)",
                     directory, BACKUP_DIR),
    }

    def _syncs(self) -> tuple[list[str], str]:
        """The synchronisations before the interrupted one, and the interrupted one."""
        bin_dir = self.target.inventory.upgrade.bin_dir
        chosen = self.values["service"]
        syncs = db_syncs([s for s in SYNCED if SYNCED.index(s) <= SYNCED.index(chosen)],
                         bin_dir)
        return [s.command for s in syncs[:-1]], syncs[-1].command

    def _lock_command(self) -> str:
        sql = f"LOCK TABLES {self.values['table']} READ; SELECT SLEEP(3600)"
        return (f"systemd-run --unit {LOCK_UNIT} --collect mysql -e {shlex.quote(sql)}")

    def _sync_command(self, sync: str) -> str:
        script = f"{sync} >{LOG} 2>&1; echo $? >{STATUS}"
        return (f"rm -f {STATUS} && systemd-run --unit {SYNC_UNIT} --collect "
                f"sh -c {shlex.quote(script)}")

    def plan(self) -> list[str]:
        before, sync = self._syncs()
        database = self.target.service(self.values["database"])
        return [*(self.target.service(s).command("stop") for s in self.values["services"]),
                "<storage hosts>: stop " + " ".join(self.values["block_storage"]),
                self.target.inventory.upgrade.install or "<upgrade.install>", *before,
                self._lock_command(), self._sync_command(sync),
                f"<when the sync waits on {self.values['table']}> "
                f"{database.command('stop')}"]

    def prepare(self) -> dict[str, Any]:
        install_command(self.target.inventory.upgrade)  # the inventory says how
        previous = install_command(self.target.inventory.upgrade, previous=True)
        database = self.target.service(self.values["database"])
        if not database.is_running():
            raise FaultError(f"{self.target.name}: {database.name} is not running")
        backup = self.values["dir"]
        found = self.target.run(f"ls -1 {backup}", record=False).stdout.split()
        if not any(name.endswith(".sql") and name != f"{ALL_DATABASES}.sql" for name in found):
            raise FaultError(f"{self.target.name}: no database dump in {backup} to roll back "
                             f"from (run back_up_control_plane first)")
        return {"database": database.name, "start": database.command("start"),
                "table": self.values["table"], "dir": backup, "previous": previous,
                "services": list(self.values["services"]),
                "block_storage": list(self.values["block_storage"])}

    def inject(self, facts: Mapping[str, Any]) -> None:
        timeout = self.values["timeout"]
        for service in self.values["services"]:
            self.target.service(service).stop(timeout)
        hosts = storage_hosts(self.target, self.values["block_storage"])
        for host, services in hosts:
            for service in services:
                host.service(service).stop(timeout)
        command = install_command(self.target.inventory.upgrade)
        for host in [self.target, *(h for h, _ in hosts)]:
            install(host, command)
        before, sync = self._syncs()
        for command in before:
            self.target.run(command, check=True, timeout=1800)
        self.target.run(self._lock_command(), check=True)
        self.target.run(self._sync_command(sync), check=True)
        self._wait_for_the_sync_to_block(facts["table"], timeout)
        self.target.service(facts["database"]).stop(timeout)

    def _wait_for_the_sync_to_block(self, table: str, timeout: float) -> None:
        database, name = table.split(".")
        query = ("SELECT COUNT(*) FROM information_schema.processlist WHERE "  # noqa: S608
                 f"state LIKE '%metadata lock%' AND info LIKE '%{name}%'")

        def blocked() -> bool:
            if self.target.run(f"test -e {STATUS}", record=False).ok:
                raise FaultError(f"{self.target.name}: the sync ended before it reached "
                                 f"{table}: {self._status()}")
            out = self.target.run(f"mysql -N -B {database} -e {shlex.quote(query)}",
                                  record=False).stdout.strip()
            return out.isdigit() and int(out) > 0

        try:
            poll(blocked, timeout=timeout, interval=0.2, max_interval=1.0,
                 description=f"the sync waiting on {table}")
        except WaitTimeout as exc:
            raise FaultError(str(exc)) from exc
        self.target.run(f"mysql -e {shlex.quote('SHOW PROCESSLIST')}")

    def _status(self) -> str:
        result = self.target.run(f"cat {STATUS}; tail -n 3 {LOG}", record=False)
        return " ".join(result.stdout.split())

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """The sync exited non-zero, and the database does not run."""
        status = self.target.run(f"cat {STATUS}", record=False)
        if not status.ok or not status.stdout.strip():
            return None
        code = status.stdout.strip()
        if code == "0":
            raise FaultError(f"{self.target.name}: the sync succeeded: nothing was interrupted")
        if self.target.service(facts["database"]).is_running():
            return None
        last = self.target.run(f"grep -E '[A-Za-z]+Error: ' {LOG} | tail -n 1",
                               record=False).stdout.strip()
        return (f"the db sync exited {code} on {self.target.name} with {facts['database']} "
                f"stopped half way (waiting on {facts['table']}): {last[:200]}")

    def undo(self, facts: Mapping[str, Any]) -> None:
        """Remove the fault's transient units; then, unless the database and every service the
        fault stopped run again (a recovery brought the control plane back), roll the upgrade
        back from the backup: the services stopped, the database started, every dump loaded,
        the configuration put back, the previous release installed, the services started."""
        self.target.run(f"systemctl stop {LOCK_UNIT} {SYNC_UNIT} 2>/dev/null; true")
        hosts = storage_hosts(self.target, facts["block_storage"])
        if self._running(facts, hosts):
            return
        for service in facts["services"]:
            self.target.service(service).stop(300.0)
        for host, services in hosts:
            for service in services:
                host.service(service).stop(300.0)
        if not self._database_runs(facts):
            self.target.run(facts["start"], check=True, timeout=300)
        load_dumps(self.target, facts["dir"])
        every = [self.target, *(host for host, _ in hosts)]
        put_configs_back(every, facts["dir"])
        for host in every:
            install(host, facts["previous"])
        failed = [line for line in start_stopped(self.target, list(reversed(facts["services"])))
                  if line.startswith("could not")]
        for host, services in hosts:
            failed += [line for line in start_stopped(host, services)
                       if line.startswith("could not")]
        if failed:
            raise FaultError("; ".join(failed))

    def _database_runs(self, facts: Mapping[str, Any]) -> bool:
        try:
            return self.target.service(facts["database"]).is_running()
        except HostError:
            return False

    def _running(self, facts: Mapping[str, Any],
                 hosts: list[tuple[Target, list[str]]]) -> bool:
        """Whether the database and every service the fault stopped run."""
        if not self._database_runs(facts):
            return False
        stopped = [(self.target, list(facts["services"])), *hosts]
        return all(host.service(service).is_running()
                   for host, services in stopped for service in services)
