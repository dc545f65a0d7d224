"""The instances of every Nova cell and Cinder's volumes, read from their databases, and
whether Nova's view of each hypervisor agrees with that hypervisor's ``virsh list``.

The cells are found as Nova finds them (:mod:`stackdrill.cloud.nova_cells`): the first
controller's ``/etc/nova/nova.conf``, read where ``nova-api`` runs (on the host, in Kolla's
``nova_api`` container, in OpenStack-Ansible's ``nova_api_container``), names the API database
in ``[api_database] connection``; its ``cell_mappings`` table names each cell's database, and
the instances are read from every cell but cell0 (which holds only instances never scheduled).
A templated cell URL is filled from the same file's ``[database] connection``, as Nova does.
So DevStack's superconductor layout, whose ``nova.conf`` points ``[database]`` at
``nova_cell0``, is read in ``nova_cell1``; a single-cell cloud records what it always did.

There is no fallback to ``[database] connection``: when the configuration has no
``[api_database] connection``, the API database cannot be read, it maps no cell besides cell0,
or a cell's database cannot be read, the probe fails with that reason (``cloud/probe:nova_db``)
rather than record the rows of whatever database that file names, which on a superconductor
layout would read as every instance gone. The cells are read once per probe, on its first
successful observation, as Nova's services read them once; each observation then reads every
cell's database. Cinder's DSN is the ``[database] connection`` of ``/etc/cinder/cinder.conf``,
read where ``cinder-api`` runs. libvirt is only asked on hosts where libvirtd is active, so the
probe does not socket-activate it in the middle of a drill. Each table is one set-based query
per database; the cells and the hypervisors are asked concurrently.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from stackdrill.api import CloudContext, CloudProbe, run_calls
from stackdrill.cloud.access import CloudError, Dsn, database
from stackdrill.cloud.nova_cells import NOVA_CONF, Cell, read_cells, read_config
from stackdrill.core.evidence import Redactor
from stackdrill.hosts.target import Target

INSTANCES = ("SELECT uuid, display_name, host, vm_state, power_state, task_state "
             "FROM instances WHERE deleted = 0")
VOLUMES = "SELECT id, display_name, status, attach_status, host FROM volumes WHERE deleted = 0"
VIRSH = "if {running}; then {list}; else echo libvirtd-down; fi"
CINDER_CONF = "/etc/cinder/cinder.conf"


class NovaDatabase(CloudProbe):
    name = "nova_db"
    description = ("instances rows of every Nova cell but cell0, cinder.volumes rows; Nova's "
                   "view against virsh list")

    def __init__(self) -> None:
        self._cells: list[Cell] | None = None
        self._cinder: Dsn | None = None

    def _controller(self, context: CloudContext) -> Target:
        controllers = context.targets.with_role("controller")
        if not controllers:
            raise CloudError("the inventory has no controller to read the database DSN from")
        return controllers[0]

    def _cells_of(self, context: CloudContext) -> list[Cell]:
        """Nova's cells but cell0, read from the API database once."""
        if self._cells is None:
            config = read_config(self._controller(context), "nova-api", NOVA_CONF)
            self._cells = read_cells(config, context.access.redactor)
        return self._cells

    def _cinder_dsn(self, context: CloudContext) -> Dsn:
        if self._cinder is None:
            config = read_config(self._controller(context), "cinder-api", CINDER_CONF)
            self._cinder = config.dsn("database")
        return self._cinder

    def _instances(self, context: CloudContext) -> list[dict[str, Any]]:
        """Every cell's instances rows, in the cells' order; one cell that cannot be read fails
        the whole observation (the others' rows alone would read as its instances gone)."""
        redactor = context.access.redactor
        cells = self._cells_of(context)
        rows = run_calls({cell.uuid: partial(_cell_instances, cell, redactor) for cell in cells})
        return [row for cell in cells for row in rows[cell.uuid]]

    def observe_cloud(self, context: CloudContext) -> dict[str, Any]:
        redactor = context.access.redactor
        values: dict[str, Any] = {}
        instances = self._instances(context)
        for row in instances:
            key = f"db:instance:{row['display_name']}"
            values[f"{key}/host"] = row["host"]
            values[f"{key}/vm_state"] = row["vm_state"]
            values[f"{key}/power_state"] = row["power_state"]
            values[f"{key}/task_state"] = row["task_state"]
        if "cinder-api" in context.targets.inventory.services:
            with database(self._cinder_dsn(context), redactor) as conn, \
                    conn.cursor() as cur:
                cur.execute(VOLUMES)
                for row in cur.fetchall():
                    key = f"db:volume:{row['display_name'] or row['id']}"
                    values[f"{key}/status"] = row["status"]
                    values[f"{key}/attach_status"] = row["attach_status"]
        computes = context.targets.with_role("compute")
        agreements = run_calls({t.name: partial(self._agreement, t, instances)
                                for t in computes})
        for agreement in agreements.values():
            values.update(agreement)
        return values

    def _agreement(self, target: Target, instances: list[dict[str, Any]]) -> dict[str, Any]:
        key = f"agreement:{target.name}"
        libvirtd = target.service("libvirtd")
        result = target.run(VIRSH.format(running=libvirtd.running_test(), list=libvirtd.inside(
            "virsh -c qemu:///system list --uuid")), record=False)
        listed = result.stdout.split()
        if not result.ok or listed == ["libvirtd-down"]:
            seen = "virsh not answering" if not result.ok else "libvirtd down"
            return {f"{key}/nova_only": seen, f"{key}/virsh_only": seen}
        running = set(listed)
        expected = {row["uuid"] for row in instances
                    if row["host"] == target.name and row["vm_state"] == "active"}
        return {f"{key}/nova_only": sorted(expected - running),
                f"{key}/virsh_only": sorted(running - expected)}

    def problems(self, values: dict[str, Any]) -> list[str]:
        return [f"{path}: {value}" for path, value in sorted(values.items())
                if path.startswith("agreement:") and value != []]


def _cell_instances(cell: Cell, redactor: Redactor) -> list[dict[str, Any]]:
    """The instances rows of one cell's database; one that cannot be reached is a
    :class:`CloudError` naming the cell."""
    try:
        with database(cell.dsn, redactor) as conn, conn.cursor() as cur:
            cur.execute(INSTANCES)
            return list(cur.fetchall())
    except CloudError as exc:
        raise CloudError(f"cell {cell.label}: {exc}") from None
