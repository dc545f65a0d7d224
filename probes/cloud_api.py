"""The cloud as its APIs report it: compute services, hypervisors, servers, volumes, images.

Each resource kind is one list call (paged by the SDK), never one GET per resource.
"""

from __future__ import annotations

from typing import Any

from stackdrill.probe import CloudContext, CloudProbe


class CloudApi(CloudProbe):
    name = "cloud_api"
    description = "compute services, hypervisors, servers, volumes and images, via openstacksdk"
    rules = ("cloud/service:*/updated ignore",)

    def observe_cloud(self, context: CloudContext) -> dict[str, Any]:
        conn = context.access.connection()
        values: dict[str, Any] = {}
        for service in conn.compute.services():
            key = f"service:{service.binary}@{service.host}"
            values[f"{key}/state"] = service.state
            values[f"{key}/status"] = service.status
            values[f"{key}/disabled_reason"] = service.disabled_reason
        for hypervisor in conn.compute.hypervisors():
            values[f"hypervisor:{hypervisor.name}/state"] = hypervisor.state
            values[f"hypervisor:{hypervisor.name}/status"] = hypervisor.status
        for server in conn.compute.servers(all_projects=True):
            key = f"server:{server.name}"
            values[f"{key}/status"] = server.status
            values[f"{key}/host"] = server.compute_host
            values[f"{key}/power_state"] = server.power_state
        if conn.has_service("volumev3"):
            for volume in conn.block_storage.volumes(all_projects=True):
                key = f"volume:{volume.name or volume.id}"
                values[f"{key}/status"] = volume.status
                values[f"{key}/attached_to"] = sorted(
                    a.get("server_id", "") for a in volume.attachments or [])
        for image in conn.image.images():
            values[f"image:{image.name}/status"] = image.status
        return values

    def problems(self, values: dict[str, Any]) -> list[str]:
        healthy = {("service", "state"): "up", ("hypervisor", "state"): "up",
                   ("service", "status"): "enabled", ("hypervisor", "status"): "enabled",
                   ("server", "status"): "ACTIVE"}
        found = []
        for path, value in sorted(values.items()):
            kind = path.split(":", 1)[0]
            resource, _, field = path.rpartition("/")
            expected = healthy.get((kind, field))
            if expected is not None and value != expected:
                found.append(f"{resource} is {value}")
        return found
