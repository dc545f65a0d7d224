"""What upgrading OpenStack does on a host, as the upgrade procedures run it: install a release
with the deployment's own command (the inventory's ``upgrade`` key), each service's database
schema synchronisation in the order the projects' upgrade guides give, and the online data
migrations that run once the new release is started.

The order: Keystone (``keystone-manage db_sync``), Glance (``glance-manage db sync``), Placement
(``placement-manage db sync``), Nova (``nova-manage api_db sync``, ``nova-manage cell_v2
map_cell0``, then ``nova-manage db sync`` per cell: with a cell's configuration it syncs that
cell, and cell0 first), Cinder (``cinder-manage db sync``), Neutron (``neutron-db-manage ...
upgrade head``). Then, with the services started on the new release, ``nova-manage db
online_data_migrations`` and ``cinder-manage db online_data_migrations``, each run again while
it reports that it did work (exit status 1) and failing on anything but 0 or 1.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from stackdrill.core.errors import ActionFailed, InvalidValue
from stackdrill.hostkit.databases import identifier
from stackdrill.hosts.target import Target
from stackdrill.inventory.model import UpgradeSpec

__all__ = [
    "BACKUP_DIR",
    "BLOCK_STORAGE_SERVICES",
    "CONTROL_SERVICES",
    "MIGRATED",
    "SYNCED",
    "DbSync",
    "UpgradeFailed",
    "db_syncs",
    "directory",
    "install",
    "install_command",
    "load_dumps",
    "manage",
    "online_migrations",
    "put_configs_back",
    "run_online_migrations",
    "storage_hosts",
    "sync_names",
]


class UpgradeFailed(ActionFailed):
    """An upgrade command failed, or the inventory does not say how to install a release."""


# the control plane's services on a controller, by the inventory's logical names, stopped in this
# order (the APIs first, so that nothing new reaches the workers) and started in the reverse
CONTROL_SERVICES = ("nova-api", "cinder-api", "neutron-api", "glance-api", "placement-api",
                    "keystone", "nova-scheduler", "nova-conductor", "cinder-scheduler")
BLOCK_STORAGE_SERVICES = ("cinder-volume", "cinder-backup")
SYNCED = ("keystone", "glance", "placement", "nova", "cinder", "neutron")
"""The services whose schemas the upgrade synchronises, in the order it does."""
MIGRATED = ("nova", "cinder")
"""The services whose online data migrations run after the upgrade."""
NEUTRON_CONFIGS = ("/etc/neutron/neutron.conf", "/etc/neutron/plugins/ml2/ml2_conf.ini")
MORE_TO_DO = 1  # nova-manage and cinder-manage: the migrations did work, run them again
BACKUP_DIR = "/var/backups/openstack"
"""Where ``back_up_control_plane`` keeps its dumps and configuration copies by default."""
ALL_DATABASES = "openstack"  # <dir>/openstack.sql: every database at once, not loaded alone
SYSTEM_DATABASES = ("information_schema", "performance_schema", "mysql", "sys")


@dataclass(frozen=True)
class DbSync:
    """One schema synchronisation: the service it belongs to, what the step says, and the
    command run on the controller."""

    service: str
    title: str
    command: str


def manage(bin_dir: str | None, command: str) -> str:
    """``command`` (``nova-manage db sync``) from ``bin_dir``, else from PATH."""
    return f"{bin_dir.rstrip('/')}/{command}" if bin_dir else command


def sync_names(text: str) -> list[str]:
    """A comma-separated subset of :data:`SYNCED` (or of :data:`MIGRATED`), kept in the
    documented order whatever order it is written in."""
    names = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    unknown = [name for name in names if name not in SYNCED]
    if unknown:
        raise InvalidValue(f"unknown service {unknown[0]!r} (known: {', '.join(SYNCED)})")
    return [name for name in SYNCED if name in names]


def db_syncs(services: Sequence[str], bin_dir: str | None,
             cell_configs: Sequence[str] = ("/etc/nova/nova.conf",)) -> list[DbSync]:
    """The synchronisations of ``services``, in the documented order; Nova's ``db sync`` once
    per cell configuration."""
    syncs: list[DbSync] = []
    for service in (name for name in SYNCED if name in services):
        if service == "keystone":
            syncs.append(DbSync(service, "keystone-manage db_sync",
                                manage(bin_dir, "keystone-manage db_sync")))
        elif service in ("glance", "placement", "cinder"):
            syncs.append(DbSync(service, f"{service}-manage db sync",
                                manage(bin_dir, f"{service}-manage db sync")))
        elif service == "nova":
            syncs += [DbSync(service, "nova-manage api_db sync",
                             manage(bin_dir, "nova-manage api_db sync")),
                      DbSync(service, "nova-manage cell_v2 map_cell0",
                             manage(bin_dir, "nova-manage cell_v2 map_cell0"))]
            for conf in cell_configs:
                syncs.append(DbSync(service, f"nova-manage --config-file {conf} db sync",
                                    manage(bin_dir, f"nova-manage --config-file "
                                                    f"{shlex.quote(conf)} db sync")))
        elif service == "neutron":
            configs = " ".join(f"--config-file {conf}" for conf in NEUTRON_CONFIGS)
            syncs.append(DbSync(service, "neutron-db-manage upgrade head",
                                manage(bin_dir, f"neutron-db-manage {configs} upgrade head")))
    return syncs


def online_migrations(services: Sequence[str], bin_dir: str | None) -> list[tuple[str, str]]:
    """``(service, command)`` of each service's online data migrations, in order."""
    return [(service, manage(bin_dir, f"{service}-manage db online_data_migrations"))
            for service in MIGRATED if service in services]


def run_online_migrations(target: Target, command: str, *, rounds: int = 20,
                          timeout: float = 600.0) -> int:
    """Run ``command`` until it reports nothing left to migrate (exit 0); another run while it
    says it did work (exit 1); anything else, or work left after ``rounds`` runs, fails.
    Returns how many runs it took."""
    for run in range(1, rounds + 1):
        result = target.run(command, timeout=timeout)
        if result.exit_status == 0:
            return run
        if result.exit_status != MORE_TO_DO:
            raise UpgradeFailed(f"{target.name}: {command!r} exited {result.exit_status}: "
                                f"{_last_line(result.stderr or result.stdout)}")
    raise UpgradeFailed(f"{target.name}: {command!r} still had work after {rounds} runs")


def install_command(spec: UpgradeSpec, *, compute: bool = False,
                    previous: bool = False) -> str:
    """The inventory's command installing the new release (on a compute, or the previous
    release back); :class:`UpgradeFailed` naming the key when the inventory has none."""
    if previous:
        command, key = spec.install_previous, "install_previous"
    elif compute:
        command, key = spec.on_compute(), "install_compute (or install)"
    else:
        command, key = spec.install, "install"
    if not command:
        raise UpgradeFailed(f"the inventory does not say how to install a release: set "
                            f"upgrade.{key}")
    return command


def storage_hosts(target: Target, services: Sequence[str]) -> list[tuple[Target, list[str]]]:
    """Each storage host of ``target``'s inventory that runs some of ``services``, with those
    it runs."""
    names = [spec.name for role in ("storage", "block-storage")
             for spec in target.inventory.with_role(role)]
    found = []
    for host in (target.peer(name) for name in dict.fromkeys(names)):
        present = [service for service in services if host.service(service).is_present()]
        if present:
            found.append((host, present))
    return found


def install(host: Target, command: str) -> None:
    """Run the deployment's install ``command`` on ``host``; :class:`UpgradeFailed` when it
    fails."""
    result = host.run(command, timeout=1800)
    if not result.ok:
        raise UpgradeFailed(f"{host.name}: {command!r} failed (exit {result.exit_status}): "
                            f"{_last_line(result.stderr or result.stdout)}")


def directory(text: str) -> str:
    """A backup directory parameter: an absolute path without spaces or quotes."""
    if not text.startswith("/") or any(ch.isspace() or ch in "'\";$`\\" for ch in text):
        raise InvalidValue("expected an absolute path without spaces or quotes")
    return text.rstrip("/")


def load_dumps(target: Target, backup: str) -> list[str]:
    """Load each OpenStack database dumped one by one in ``backup`` on ``target``, each dropped
    and created again first (nothing a half-done migration added stays); return their names.
    :class:`UpgradeFailed` when ``backup`` holds no such dump."""
    listed = target.run(f"ls -1 {shlex.quote(backup)}", check=True).stdout.split()
    dumps = sorted(name[:-len(".sql")] for name in listed if name.endswith(".sql"))
    databases = [identifier(name) for name in dumps
                 if name != ALL_DATABASES and name not in SYSTEM_DATABASES]
    if not databases:
        raise UpgradeFailed(f"{target.name}: no database dump in {backup}")
    for database in databases:
        target.run(f"test -s {backup}/{database}.sql && "
                   f"mysql -e 'DROP DATABASE IF EXISTS {database}; "
                   f"CREATE DATABASE {database}' && "
                   f"mysql {database} < {backup}/{database}.sql", check=True, timeout=900)
    return databases


def put_configs_back(hosts: Sequence[Target], backup: str) -> None:
    """On each of ``hosts``, every configuration directory copied into ``<backup>/etc`` put
    back in /etc, the one there moved aside to ``<name>.orig``."""
    for host in hosts:
        host.run(f"for saved in {backup}/etc/*; do [ -d \"$saved\" ] || continue; "
                 f"name=$(basename \"$saved\"); rm -rf /etc/$name.orig; "
                 f"{{ [ ! -e /etc/$name ] || mv /etc/$name /etc/$name.orig; }} && "
                 f"cp -a \"$saved\" /etc/ && echo \"/etc/$name put back\" || exit 1; done",
                 check=True)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"
