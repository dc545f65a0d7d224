"""Nova's and Cinder's own records, read from their databases, and whether Nova's view of each
hypervisor agrees with that hypervisor's ``virsh list``.

The DSN comes from the controller's service configuration, as the ops guide finds it with
``grep connection /etc/nova/nova.conf``. libvirt is only asked on hosts where libvirtd is active,
so the probe does not socket-activate it in the middle of a drill. Each table is one set-based
query; the hypervisors are asked concurrently.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from stackdrill.api.probe import CloudContext, CloudProbe, run_calls
from stackdrill.cloud.access import CloudError, Dsn, database, dsn_from_config
from stackdrill.hosts.target import Target

INSTANCES = ("SELECT uuid, display_name, host, vm_state, power_state, task_state "
             "FROM instances WHERE deleted = 0")
VOLUMES = "SELECT id, display_name, status, attach_status, host FROM volumes WHERE deleted = 0"
VIRSH = "if {running}; then {list}; else echo libvirtd-down; fi"


class NovaDatabase(CloudProbe):
    name = "nova_db"
    description = "nova.instances and cinder.volumes rows; Nova's view against virsh list"

    def __init__(self) -> None:
        self._dsn: dict[str, Dsn] = {}

    def _controller(self, context: CloudContext) -> Target:
        controllers = context.targets.with_role("controller")
        if not controllers:
            raise CloudError("the inventory has no controller to read the database DSN from")
        return controllers[0]

    def _dsn_for(self, context: CloudContext, service: str) -> Dsn:
        if service not in self._dsn:
            path = f"/etc/{service}/{service}.conf"
            self._dsn[service] = dsn_from_config(self._controller(context), path)
        return self._dsn[service]

    def observe_cloud(self, context: CloudContext) -> dict[str, Any]:
        redactor = context.access.redactor
        values: dict[str, Any] = {}
        with database(self._dsn_for(context, "nova"), redactor) as conn, conn.cursor() as cur:
            cur.execute(INSTANCES)
            instances = list(cur.fetchall())
        for row in instances:
            key = f"db:instance:{row['display_name']}"
            values[f"{key}/host"] = row["host"]
            values[f"{key}/vm_state"] = row["vm_state"]
            values[f"{key}/power_state"] = row["power_state"]
            values[f"{key}/task_state"] = row["task_state"]
        if "cinder-api" in context.targets.inventory.services:
            with database(self._dsn_for(context, "cinder"), redactor) as conn, \
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
