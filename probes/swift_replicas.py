"""Every object storage canary (account, container, objects) has a replica on each device the
ring names for it, found as an operator finds them (:mod:`stackdrill.cloud.swift_replicas`):
``swift-get-nodes`` on a host holding the rings, then a direct HEAD to each primary's storage
server. A cloud without object storage, or without a host holding
``/etc/swift/object.ring.gz``, yields nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

from stackdrill.api import CloudContext, CloudProbe
from stackdrill.cloud.swift_canary import account_of, has_object_store
from stackdrill.cloud.swift_replicas import observe_replicas, replica_problems, ring_host


class SwiftReplicas(CloudProbe):
    name = "swift_replicas"
    description = ("each canary account, container and object present on every device the "
                   "ring names for it (swift-get-nodes, direct HEADs to the storage servers)")
    roles: ClassVar[tuple[str, ...]] = ("controller", "storage")

    def observe_cloud(self, context: CloudContext) -> dict[str, Any]:
        conn = context.access.connection()
        if not has_object_store(conn):
            return {}
        target = ring_host(context.targets, self.roles)
        if target is None:
            return {}
        return observe_replicas(target, account_of(conn))

    def problems(self, values: dict[str, Any]) -> list[str]:
        return replica_problems(values)
