"""The cloud as Nova's and Cinder's APIs report it: compute and volume services, hypervisors,
servers, volumes (Glance's images are ``cloud_images``).

Each resource kind is one list call, paged at the services' maximum page size (never one GET
per resource); the kinds are listed concurrently. Servers and volumes, the lists that grow with
the cloud, are read as the services' JSON pages, without openstacksdk's resource objects: at
10,000 servers, building those objects took longer than Nova took to answer
(``benchmarks/api_snapshot.py --breakdown``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from openstack import exceptions

from stackdrill.api import CloudContext, CloudProbe, run_calls
from stackdrill.cloud.access import CloudAccess

#: The page size asked of every list call: the services' default maximum (Nova's and Cinder's
#: ``max_limit``/``osapi_max_limit``, Glance's ``api_limit_max``), so 10,000 servers are 10 pages.
PAGE = 1000


class CloudApi(CloudProbe):
    name = "cloud_api"
    description = "compute and volume services, hypervisors, servers and volumes, via openstacksdk"
    rules = ("cloud/service:*/updated ignore",)

    def observe_cloud(self, context: CloudContext) -> dict[str, Any]:
        access = context.access
        calls: dict[str, Callable[[], dict[str, Any]]] = {
            "services": partial(_services, access), "hypervisors": partial(_hypervisors, access),
            "servers": partial(_servers, access)}
        if access.connection().has_service("block-storage"):
            calls["volumes"] = partial(_volumes, access)
            calls["volume services"] = partial(_volume_services, access)
        values: dict[str, Any] = {}
        for part in run_calls(calls).values():
            values.update(part)
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
            broken_volume = (kind, field) == ("volume", "status") and \
                str(value).startswith("error")
            if broken_volume or (expected is not None and value != expected):
                found.append(f"{resource} is {value}")
        return found


# Each list runs on its own worker thread, with that thread's connection.

def _service_values(services: Any, *fields: str) -> dict[str, Any]:
    """``service:<binary>@<host>/<field>`` for each service, Nova's and Cinder's alike."""
    return {f"service:{s.binary}@{s.host}/{name}": getattr(s, name)
            for s in services for name in fields}


def _services(access: CloudAccess) -> dict[str, Any]:
    return _service_values(access.connection().compute.services(),
                           "state", "status", "disabled_reason")


def _hypervisors(access: CloudAccess) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for hypervisor in access.connection().compute.hypervisors(details=False):
        values[f"hypervisor:{hypervisor.name}/state"] = hypervisor.state
        values[f"hypervisor:{hypervisor.name}/status"] = hypervisor.status
    return values


def json_pages(proxy: Any, path: str, key: str, **query: Any) -> Iterator[dict[str, Any]]:
    """Every item of a paged list (``GET path?limit=PAGE&marker=<last id>``) as the service's
    JSON has it, page after page while the service links a next one (``<key>_links``: a cloud
    whose ``max_limit`` is below PAGE answers shorter pages, and they are not the end); an
    error answer raises as openstacksdk's calls do."""
    marker = None
    while True:
        params = {**query, "limit": PAGE, **({"marker": marker} if marker else {})}
        response = proxy.get(path, params=params)
        exceptions.raise_from_response(response)
        body = response.json()
        items: list[dict[str, Any]] = body[key]
        yield from items
        if not items or not any(link.get("rel") == "next"
                                for link in body.get(f"{key}_links") or []):
            return
        marker = items[-1]["id"]


def _servers(access: CloudAccess) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for server in json_pages(access.connection().compute, "/servers/detail", "servers",
                             all_tenants=1):
        key = f"server:{server['name']}"
        values[f"{key}/status"] = server["status"]
        values[f"{key}/host"] = server.get("OS-EXT-SRV-ATTR:host")
        values[f"{key}/power_state"] = server.get("OS-EXT-STS:power_state")
    return values


def _volumes(access: CloudAccess) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for volume in json_pages(access.connection().block_storage, "/volumes/detail", "volumes",
                             all_tenants=1):
        key = f"volume:{volume.get('name') or volume['id']}"
        values[f"{key}/status"] = volume["status"]
        attachments = volume.get("attachments") or []
        values[f"{key}/attached_to"] = sorted(a.get("server_id", "") for a in attachments)
        # The mountpoint each attachment has in its guest (/dev/vdb): a volume reattached after
        # a disaster must come back where the guest had it.
        values[f"{key}/devices"] = sorted(a.get("device") or "" for a in attachments)
    return values


def _volume_services(access: CloudAccess) -> dict[str, Any]:
    return _service_values(access.connection().block_storage.services(), "state", "status")

