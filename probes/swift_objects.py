"""Every object storage canary object readable through the proxy, with the right ETag.

One GET per canary object (three small objects), through the cloud's ``object-store``
endpoint as any user reads it. A cloud without object storage yields nothing.
"""

from __future__ import annotations

from typing import Any

from stackdrill.api import CloudContext, CloudProbe
from stackdrill.cloud.swift_canary import CONTAINER, EXPECTED_ETAGS, etag, has_object_store


def read_object(conn: Any, name: str) -> bytes | None:
    """The object's content through the proxy, or None when it cannot be read."""
    try:
        return bytes(conn.object_store.download_object(name, container=CONTAINER))
    except Exception:
        return None


class SwiftObjects(CloudProbe):
    name = "swift_objects"
    description = "each object storage canary object readable through the proxy, right ETag"

    def observe_cloud(self, context: CloudContext) -> dict[str, Any]:
        conn = context.access.connection()
        if not has_object_store(conn):
            return {}
        values: dict[str, Any] = {}
        for name, expected in sorted(EXPECTED_ETAGS.items()):
            data = read_object(conn, name)
            values[f"swift_object:{name}/readable"] = data is not None and etag(data) == expected
        return values

    def problems(self, values: dict[str, Any]) -> list[str]:
        return [f"{path.rsplit('/', 1)[0]} is not readable with its ETag"
                for path, value in sorted(values.items())
                if path.endswith("/readable") and value is not True]
