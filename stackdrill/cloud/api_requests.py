"""The requests a tenant makes, one per API, each through an openstacksdk connection of its own
(:mod:`stackdrill.cloud.api_sampler` sends them).

- identity: a token issued to a fresh authentication with the clouds.yaml credentials (the
  cached token is dropped first, so a Keystone that cannot authenticate shows);
- compute: show a canary server; block storage: show its volume; image: show the canary image;
- object storage: read a canary object (:mod:`stackdrill.cloud.swift_canary`).

Each connection is built from the clouds.yaml entry with the sampler's timeout as its
``api_timeout`` and every retry openstacksdk would make turned off, so a sample is one request
and takes at most that long. After a failed request its
connection pool is closed, and the next request opens new connections rather than reuse one a
controller's reboot left half-open; the token is kept (Keystone is the identity request's to
test, and keystoneauth authenticates again when a service refuses it). After
:data:`RENEW_AFTER` failures in a row the connection is dropped whole, and the next request
starts from a new one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stackdrill.cloud.access import CloudAccess, CloudError
from stackdrill.cloud.canary import CanaryWorkload
from stackdrill.cloud.swift_canary import CONTAINER, OBJECTS
from stackdrill.cloud.tenant_view import API_PREFIX

#: Failures in a row after which a request's connection is replaced whole.
RENEW_AFTER = 10


@dataclass(frozen=True)
class TenantResources:
    """What the requests show: a server, a volume, an image and a Swift object (container,
    name). An API whose resource is None is not sampled, except identity, which needs none."""

    server_id: str | None = None
    volume_id: str | None = None
    image_id: str | None = None
    swift_object: tuple[str, str] | None = None

    @classmethod
    def of_canaries(cls, canaries: CanaryWorkload | None, object_store: bool) -> TenantResources:
        """The canary workload's resources: the first server and volume by compute host, the
        canary image, and the first canary object if the cloud has object storage."""
        if canaries is None:
            return cls()
        first = sorted(canaries.servers)[:1]
        volume = sorted(canaries.volumes)[:1]
        return cls(server_id=canaries.servers[first[0]] if first else None,
                   volume_id=canaries.volumes[volume[0]] if volume else None,
                   image_id=canaries.image_id or None,
                   swift_object=(CONTAINER, sorted(OBJECTS)[0]) if object_store else None)


class TenantConnection:
    """One API's own openstacksdk connection, created on first use (in the sampling thread)."""

    def __init__(self, access: CloudAccess, timeout: float) -> None:
        self.access = access
        self.timeout = timeout
        self._conn: Any = None
        self._failures = 0

    def get(self) -> Any:
        if self._conn is None:
            import openstack
            import openstack.config
            from openstack.exceptions import ConfigException

            try:
                loader = openstack.config.OpenStackConfig(config_files=self.access.config_files)
                region = loader.get_one(cloud=self.access.cloud, api_timeout=self.timeout,
                                        connect_retries=0, status_code_retries=0,
                                        image_status_code_retries=0)
            except ConfigException as exc:
                raise CloudError(f"cloud {self.access.cloud!r}: {exc}") from exc
            self._conn = openstack.connection.Connection(config=region)
        return self._conn

    def succeeded(self) -> None:
        self._failures = 0

    def failed(self) -> None:
        """After a failed request: new connections for the next (the pool closed), or a new
        connection altogether after :data:`RENEW_AFTER` failures in a row."""
        self._failures += 1
        if self._conn is None:
            return
        if self._failures >= RENEW_AFTER:
            self._failures = 0
            self.close()
            return
        with contextlib.suppress(Exception):
            self._conn.session.session.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


@dataclass
class TenantRequest:
    """One API's request (an :class:`~stackdrill.cloud.api_sampler.Request`): ``action`` is
    sent on the API's own connection."""

    subject: str
    action: Callable[[Any], object]
    connection: TenantConnection

    def send(self) -> None:
        self.action(self.connection.get())
        self.connection.succeeded()

    def reset(self) -> None:
        self.connection.failed()

    def close(self) -> None:
        self.connection.close()


def fresh_token(conn: Any) -> None:
    """A new token: the cached one dropped, the credentials authenticated again."""
    conn.session.invalidate()
    if not conn.session.get_token():
        raise CloudError("Keystone issued no token")


def _actions(resources: TenantResources) -> dict[str, Callable[[Any], object]]:
    """Each API's request that ``resources`` allow, by API name."""
    actions: dict[str, Callable[[Any], object]] = {"identity": fresh_token}
    server, volume, image = resources.server_id, resources.volume_id, resources.image_id
    if server:
        actions["compute"] = lambda conn: conn.compute.get_server(server)
    if volume:
        actions["block-storage"] = lambda conn: conn.block_storage.get_volume(volume)
    if image:
        actions["image"] = lambda conn: conn.image.get_image(image)
    if resources.swift_object is not None:
        container, name = resources.swift_object
        actions["object-store"] = lambda conn: conn.object_store.download_object(
            name, container=container)
    return actions


def tenant_requests(access: CloudAccess, resources: TenantResources,
                    timeout: float) -> list[TenantRequest]:
    """One request per API that ``resources`` allow, each on a connection of its own."""
    return [TenantRequest(f"{API_PREFIX}{api}", action, TenantConnection(access, timeout))
            for api, action in _actions(resources).items()]
