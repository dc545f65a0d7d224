"""What ``tempest.conf`` needs that the cloud itself can say: the service types its catalog
lists, the middleware Swift's ``/info`` names, whether a cinder-backup service is up, and the
IDs of the image and flavor Tempest boots (the inventory's, or the canary workload's, which are
created if missing)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stackdrill.cloud.canary import image_and_flavor
from stackdrill.cloud.tempest import TempestError
from stackdrill.inventory.model import TempestSpec

__all__ = ["CloudFacts", "discover", "swift_info_url"]

_VERSION_PATH = re.compile(r"/v\d+(?:\.\d+)?(?:/.*)?$")


@dataclass(frozen=True)
class CloudFacts:
    """What the cloud said: its catalog's service types, the image and flavor IDs Tempest
    boots, Swift's middleware and whether a cinder-backup service is up (each None: not asked,
    or no answer), how many compute hosts the inventory lists, and what the evidence should
    say of what could not be asked."""

    catalog: frozenset[str]
    image: str
    image_alt: str
    flavor: str
    flavor_alt: str
    swift_apis: tuple[str, ...] | None = None
    backup_service: bool | None = None
    compute_hosts: int = 1
    notes: tuple[str, ...] = ()

    def has(self, *types: str) -> bool:
        """Whether the catalog lists a service of any of ``types``."""
        return any(kind in self.catalog for kind in types)

    def volume_type(self) -> str:
        """The block storage service's type as the catalog spells it (``volumev3`` in the lab;
        Tempest's default is ``block-storage``)."""
        for kind in ("block-storage", "volumev3", "volume"):
            if kind in self.catalog:
                return kind
        return "block-storage"


def catalog_types(conn: Any) -> frozenset[str]:
    """The service types of the token's catalog."""
    access = conn.session.auth.get_access(conn.session)
    return frozenset(access.service_catalog.get_endpoints())


def swift_info_url(endpoint: str) -> str:
    """Swift's ``/info`` beside its ``/v1/AUTH_...`` endpoint."""
    return _VERSION_PATH.sub("/info", endpoint.rstrip("/")) if _VERSION_PATH.search(
        endpoint) else endpoint.rstrip("/") + "/info"


def swift_apis(conn: Any) -> tuple[tuple[str, ...] | None, str | None]:
    """The middleware Swift's ``/info`` names (``container_sync``, ``versioned_writes``...),
    sorted; or None and why, when it does not answer with a mapping."""
    stand = "Tempest's defaults stand for its middleware"
    try:
        response = conn.object_store.get(swift_info_url(conn.object_store.get_endpoint()))
        if response.status_code >= 400:  # openstacksdk's proxies do not raise on an error
            return None, f"Swift's /info answered HTTP {response.status_code}: {stand}"
        info = response.json()
    except Exception as exc:  # reported in the evidence; Tempest's own defaults stand
        return None, f"Swift's /info did not answer ({_first_line(exc)}): {stand}"
    if not isinstance(info, dict):
        return None, f"Swift's /info is not a mapping: {stand}"
    return tuple(sorted(key for key in info if key != "swift")), None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def backup_service_up(conn: Any) -> bool:
    """Whether Cinder lists a cinder-backup service that is up."""
    return any(service.binary == "cinder-backup" and service.state == "up"
               for service in conn.block_storage.services())


def _resolve(find: Callable[[str], Any], kind: str, name: str) -> str:
    found = find(name)
    if found is None:
        raise TempestError(f"Tempest's {kind}: no {kind} named {name!r} on the cloud "
                           f"(tempest.{kind} in the inventory)")
    return str(found.id)


#: Image visibilities under which Tempest's own projects can boot an image by its ID.
OPEN_VISIBILITIES = ("public", "community")


def _canary_ids(conn: Any, spec: TempestSpec) -> tuple[str, str]:
    """The canary workload's image and flavor IDs (created if missing), where the inventory
    leaves Tempest's image or flavor to them."""
    if spec.image is not None and spec.flavor is not None:
        return "", ""
    image, flavor = image_and_flavor(conn)
    if image.visibility not in OPEN_VISIBILITIES:
        # Tempest boots in projects it makes for each test class, which see neither a private
        # nor a shared image: the canary image (stackdrill's own, blank) is opened to them as a
        # community image, bootable by ID from any project, listed in none
        image = conn.image.update_image(image, visibility="community")
    return str(image.id), str(flavor.id)


def _images_and_flavors(conn: Any, spec: TempestSpec) -> tuple[str, str, str, str]:
    """The IDs of the image, alternate image, flavor and alternate flavor: the inventory's
    (by name or ID), else the canary workload's."""
    canary_image, canary_flavor = _canary_ids(conn, spec)

    def image(name: str | None, default: str) -> str:
        return _resolve(lambda n: conn.image.find_image(n, ignore_missing=True), "image",
                        name) if name else default

    def flavor(name: str | None, default: str) -> str:
        return _resolve(lambda n: conn.compute.find_flavor(n, ignore_missing=True), "flavor",
                        name) if name else default

    first_image, first_flavor = image(spec.image, canary_image), flavor(spec.flavor,
                                                                        canary_flavor)
    return (first_image, image(spec.image_alt, first_image), first_flavor,
            flavor(spec.flavor_alt, first_flavor))


def discover(conn: Any, spec: TempestSpec, compute_hosts: int) -> CloudFacts:
    """Ask the cloud what ``tempest.conf`` needs; a cloud that does not answer, or lacks the
    image or flavor the inventory names, raises :class:`TempestError` (one line)."""
    try:
        catalog = catalog_types(conn)
        image, image_alt, flavor, flavor_alt = _images_and_flavors(conn, spec)
        apis, note = swift_apis(conn) if "object-store" in catalog else (None, None)
        backups = (backup_service_up(conn) if spec.backups is None
                   and {"block-storage", "volumev3", "volume"} & catalog else None)
    except TempestError:
        raise
    except Exception as exc:  # openstacksdk's and keystoneauth's errors alike
        raise TempestError(f"Tempest's configuration: the cloud did not answer: "
                           f"{_first_line(exc)}") from exc
    return CloudFacts(catalog, image, image_alt, flavor, flavor_alt, apis, backups,
                      max(compute_hosts, 1), tuple(n for n in (note,) if n))
