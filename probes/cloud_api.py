"""The cloud as Nova's and Cinder's APIs report it: compute and volume services, hypervisors,
servers, volumes (Glance's images are ``cloud_images``).

Each resource kind is one list call, paged at the services' maximum page size (no GET per
resource, but for a server deleted without a trace, below); the kinds are listed concurrently.
Servers and volumes, the lists that grow with the cloud, are read as the services' JSON pages,
without openstacksdk's resource objects: at 10,000 servers, building those objects took longer
than Nova took to answer (``benchmarks/api_snapshot.py --breakdown``).

Between a drill's boundaries (``context.incremental``), servers and volumes are re-polled by
what changed since the drill's last listing of them and merged into it
(:mod:`stackdrill.cloud.listings`), giving the values a full listing gives:

- servers: ``/servers/detail?changes-since=``, which also returns the servers deleted since,
  with the status ``DELETED``. Nova deletes a server that has no host (one still building, one
  its scheduler buried in cell0) without saving it first, so leaves no such trace; while the
  listing holds servers without a host, the servers of each status they have are listed
  (``/servers?status=``, IDs only), and one missing there is read alone (``/servers/<id>``):
  gone when Nova answers 404.
- volumes: ``/volumes/detail?updated_at=gte:`` (Block Storage microversion 3.60). Cinder's API
  never lists a deleted volume (its queries read deleted rows only when the caller's context
  asks, and the API never does), so the volumes are counted first (``/volumes/summary``, a
  ``COUNT`` in its database): when the listing merged with the changes does not hold as many,
  a volume was deleted, or created and not yet updated, and the volumes are listed in full.

A service that cannot filter (an older Cinder, an answer without a ``Date``) is listed in full;
the drill's evidence says how each kind was listed. Services, hypervisors and volume services,
a few items each, are always listed in full.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from openstack import exceptions

from stackdrill.api import CloudContext, CloudProbe, run_calls
from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.listings import ListInFull, Listing, iso, merged, relisted, server_clock

#: The page size asked of every list call: the services' default maximum (Nova's and Cinder's
#: ``max_limit``/``osapi_max_limit``, Glance's ``api_limit_max``), so 10,000 servers are 10 pages.
PAGE = 1000
#: The status of a server Nova deleted through its compute (its vm_state saved as deleted,
#: then the row destroyed in the same call): gone from the listing.
DELETED = "DELETED"
#: The Block Storage microversion of the ``updated_at`` filter (``/volumes/summary`` has 3.12).
VOLUME_CHANGES = "3.60"
#: The Compute microversion from which Nova refuses a status it cannot filter by, where before
#: it answered an empty list (which would read as every such server deleted).
STATUS_FILTER = "2.38"
#: A service's answers to a filter, a path or a version it does not offer.
REFUSED = frozenset({400, 404, 406})

T = TypeVar("T")
Item = Mapping[str, Any]


class CloudApi(CloudProbe):
    name = "cloud_api"
    description = "compute and volume services, hypervisors, servers and volumes, via openstacksdk"
    rules = ("cloud/service:*/updated ignore",)

    def observe_cloud(self, context: CloudContext) -> dict[str, Any]:
        access = context.access
        calls: dict[str, Callable[[], dict[str, Any]]] = {
            "services": partial(_services, access), "hypervisors": partial(_hypervisors, access),
            "servers": partial(_servers, context)}
        if access.connection().has_service("block-storage"):
            calls["volumes"] = partial(_volumes, context)
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


def _volume_services(access: CloudAccess) -> dict[str, Any]:
    return _service_values(access.connection().block_storage.services(), "state", "status")


# -- JSON pages ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pages:
    """Every item of a paged list; the service's clock when the first page was asked for
    (``mark``, see :func:`~stackdrill.cloud.listings.server_clock`); the microversion the
    first answer says it used (its ``OpenStack-API-Version``, empty when it names none)."""

    items: list[dict[str, Any]]
    mark: datetime | None
    version: str


def json_pages(proxy: Any, path: str, key: str, **query: Any) -> Iterator[dict[str, Any]]:
    """Every item of a paged list (``GET path?limit=PAGE&marker=<last id>``) as the service's
    JSON has it, page after page while the service links a next one (``<key>_links``: a cloud
    whose ``max_limit`` is below PAGE answers shorter pages, and they are not the end); an
    error answer raises as openstacksdk's calls do."""
    yield from _paged(proxy, path, key, query, None, [])


def read_pages(proxy: Any, path: str, key: str, query: Mapping[str, Any],
               microversion: str | None = None) -> Pages:
    """Every page of ``path`` at once (:func:`json_pages`), with the first answer's clock and
    microversion."""
    first: list[tuple[Any, float]] = []
    items = list(_paged(proxy, path, key, query, microversion, first))
    response, elapsed = first[0]
    headers = getattr(response, "headers", None) or {}
    return Pages(items, server_clock(response, elapsed),
                 str(headers.get("OpenStack-API-Version") or ""))


def _paged(proxy: Any, path: str, key: str, query: Mapping[str, Any], microversion: str | None,
           first: list[tuple[Any, float]]) -> Iterator[dict[str, Any]]:
    """:func:`json_pages`, with ``microversion`` asked for when given; the first answer and
    the seconds it took are appended to ``first``."""
    version = {"microversion": microversion} if microversion else {}
    marker = None
    while True:
        params = {**query, "limit": PAGE, **({"marker": marker} if marker else {})}
        clock = time.monotonic()
        response = proxy.get(path, params=params, **version)
        if not first:
            first.append((response, time.monotonic() - clock))
        exceptions.raise_from_response(response)
        body = response.json()
        items: list[dict[str, Any]] = body[key]
        yield from items
        if not items or not any(link.get("rel") == "next"
                                for link in body.get(f"{key}_links") or []):
            return
        marker = items[-1]["id"]


def _refusable(what: str, call: Callable[[], T]) -> T:
    """``call()``; a refusal (:data:`REFUSED`) of what a re-poll asks raises
    :class:`~stackdrill.cloud.listings.ListInFull`, any other error goes on."""
    try:
        return call()
    except exceptions.HttpException as exc:
        if exc.status_code in REFUSED:
            raise ListInFull(f"{what} refused with HTTP {exc.status_code}") from exc
        raise


def _newest_first(items: Mapping[str, Item]) -> list[Item]:
    """The items in the services' default order (creation time, then ID, both descending),
    however they were listed: where two share a name, the values kept are the older one's,
    in a full listing and in a merged one alike."""
    return [item for _, item in sorted(items.items(),
                                       key=lambda pair: (pair[1]["created"], pair[0]),
                                       reverse=True)]


# -- servers -------------------------------------------------------------------------------------

def _server_item(server: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": server["name"], "status": server["status"],
            "host": server.get("OS-EXT-SRV-ATTR:host"),
            "power_state": server.get("OS-EXT-STS:power_state"),
            "created": server.get("created") or ""}


def _servers(context: CloudContext) -> dict[str, Any]:
    compute = context.access.connection().compute
    listing = relisted("servers", context.listings, context.incremental,
                       partial(_all_servers, compute), partial(_server_changes, compute))
    values: dict[str, Any] = {}
    for item in _newest_first(listing.items):
        key = f"server:{item['name']}"
        values[f"{key}/status"] = item["status"]
        values[f"{key}/host"] = item["host"]
        values[f"{key}/power_state"] = item["power_state"]
    return values


def _all_servers(compute: Any) -> Listing:
    started = time.monotonic()
    pages = read_pages(compute, "/servers/detail", "servers", {"all_tenants": 1})
    return Listing({s["id"]: _server_item(s) for s in pages.items}, pages.mark, started)


def _server_changes(compute: Any, base: Listing) -> Listing:
    started = time.monotonic()
    since = iso(base.since)
    pages = _refusable("Nova's changes-since", partial(
        read_pages, compute, "/servers/detail", "servers",
        {"all_tenants": 1, "changes-since": since}))
    changed = {s["id"]: _server_item(s) for s in pages.items if s["status"] != DELETED}
    gone = {s["id"] for s in pages.items if s["status"] == DELETED}
    items = merged(base.items, changed, gone)
    return Listing(merged(items, *_without_host(compute, items)), pages.mark, started)


def _without_host(compute: Any, items: Mapping[str, Item]) -> tuple[dict[str, Item], set[str]]:
    """For the servers without a host in ``items``: the current item of each that changed
    unseen, and the IDs of those gone (no request when every server has a host). Nova deletes
    such a server (one still building, one buried in cell0) without saving it first: no
    ``DELETED`` trace, and a deleted row saved shortly before comes back from
    ``changes-since`` as it was. So the servers of each status they have are listed (IDs only),
    and each one missing there is read alone: gone when Nova answers 404."""
    hostless = {key for key, item in items.items() if item["host"] is None}
    listed: set[str] = set()
    for status in sorted({str(items[key]["status"]) for key in hostless}):
        listed.update(_refusable(f"Nova's listing of the {status} servers",
                                 partial(_ids, compute, status)))
    changed: dict[str, Item] = {}
    gone: set[str] = set()
    for key in sorted(hostless - listed):
        server = _server_now(compute, key)
        if server is None:
            gone.add(key)
        else:
            changed[key] = _server_item(server)
    return changed, gone


def _ids(compute: Any, status: str) -> set[str]:
    """The IDs of the servers Nova lists under ``status``, across all projects."""
    return {server["id"] for server in _paged(compute, "/servers", "servers",
                                              {"all_tenants": 1, "status": status},
                                              STATUS_FILTER, [])}


def _server_now(compute: Any, key: str) -> dict[str, Any] | None:
    """The server ``key`` as Nova shows it now, or None when Nova has no such server."""
    response = compute.get(f"/servers/{key}")
    if response.status_code == 404:
        return None
    exceptions.raise_from_response(response)
    server: dict[str, Any] = response.json()["server"]
    return server


# -- volumes -------------------------------------------------------------------------------------

def _volume_item(volume: Mapping[str, Any]) -> dict[str, Any]:
    attachments = volume.get("attachments") or []
    return {"name": volume.get("name") or volume["id"], "status": volume["status"],
            "attached_to": sorted(a.get("server_id", "") for a in attachments),
            "devices": sorted(a.get("device") or "" for a in attachments),
            "created": volume.get("created_at") or ""}


def _volumes(context: CloudContext) -> dict[str, Any]:
    block_storage = context.access.connection().block_storage
    listing = relisted("volumes", context.listings, context.incremental,
                       partial(_all_volumes, block_storage),
                       partial(_volume_changes, block_storage))
    values: dict[str, Any] = {}
    for item in _newest_first(listing.items):
        key = f"volume:{item['name']}"
        values[f"{key}/status"] = item["status"]
        values[f"{key}/attached_to"] = list(item["attached_to"])
        # The mountpoint each attachment has in its guest (/dev/vdb): a volume reattached after
        # a disaster must come back where the guest had it.
        values[f"{key}/devices"] = list(item["devices"])
    return values


def _all_volumes(block_storage: Any) -> Listing:
    started = time.monotonic()
    pages = read_pages(block_storage, "/volumes/detail", "volumes", {"all_tenants": 1})
    return Listing({v["id"]: _volume_item(v) for v in pages.items}, pages.mark, started)


def _volume_changes(block_storage: Any, base: Listing) -> Listing:
    started = time.monotonic()
    since = iso(base.since)
    count = _refusable("Cinder's volume count (/volumes/summary)",
                       partial(_volume_count, block_storage))
    pages = _refusable(f"Cinder's updated_at filter (microversion {VOLUME_CHANGES})", partial(
        read_pages, block_storage, "/volumes/detail", "volumes",
        {"all_tenants": 1, "updated_at": f"gte:{since}"}, VOLUME_CHANGES))
    if pages.version.split()[-1:] != [VOLUME_CHANGES]:
        raise ListInFull(f"Cinder answered without microversion {VOLUME_CHANGES} "
                         f"({pages.version or 'none named'}), so without its updated_at filter")
    items = merged(base.items, {v["id"]: _volume_item(v) for v in pages.items})
    if len(items) != count:
        raise ListInFull(f"Cinder counts {count} volumes where the last listing and its "
                         f"changes hold {len(items)}: one was deleted, or created and not "
                         f"yet updated")
    return Listing(items, pages.mark, started)


def _volume_count(block_storage: Any) -> int:
    response = block_storage.get("/volumes/summary", params={"all_tenants": 1},
                                 microversion=VOLUME_CHANGES)
    exceptions.raise_from_response(response)
    return int(response.json()["volume-summary"]["total_count"])
