"""The object storage canary: a container of a few objects of known content, so drills can prove
every object stays readable (with the right ETag) and keeps its replicas.

Creation is idempotent: objects already there with the right ETag are kept, missing or altered
ones are uploaded again. A cloud without an ``object-store`` endpoint has no canary (None).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from stackdrill.cloud.access import CloudAccess, CloudError

CONTAINER = "stackdrill-canary"
# name -> content; small, distinct, and fixed so that the ETag (MD5) is known in advance.
OBJECTS: dict[str, bytes] = {
    f"canary-{n}": (f"stackdrill object storage canary {n}\n".encode() * (64 * n))
    for n in (1, 2, 3)
}


def etag(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


EXPECTED_ETAGS = {name: etag(data) for name, data in OBJECTS.items()}


@dataclass(frozen=True)
class SwiftCanary:
    account: str  # AUTH_<project id>, as the rings and object servers name it
    container: str
    etags: dict[str, str]  # object name -> expected ETag


def account_of(conn: Any) -> str:
    """The Swift account of the connection's project (reseller prefix AUTH_)."""
    project = conn.current_project_id
    if not project:
        raise CloudError("the cloud connection has no project: cannot name its Swift account")
    return f"AUTH_{project}"


def has_object_store(conn: Any) -> bool:
    return bool(conn.has_service("object-store"))


def _current_etag(conn: Any, name: str) -> str | None:
    from openstack.exceptions import NotFoundException

    try:
        meta = conn.object_store.get_object_metadata(name, container=CONTAINER)
    except NotFoundException:
        return None
    return str(meta.etag).strip('"') if meta.etag else None


def ensure_swift_canary(access: CloudAccess) -> SwiftCanary | None:
    """Create (or repair) the canary container and objects; None without object storage."""
    conn = access.connection()
    if not has_object_store(conn):
        return None
    try:
        conn.object_store.create_container(name=CONTAINER)
        for name, data in OBJECTS.items():
            if _current_etag(conn, name) != EXPECTED_ETAGS[name]:
                conn.object_store.upload_object(container=CONTAINER, name=name, data=data)
        wrong = [name for name in OBJECTS if _current_etag(conn, name) != EXPECTED_ETAGS[name]]
    except CloudError:
        raise
    except Exception as exc:
        raise CloudError(f"swift canary: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
    if wrong:
        raise CloudError(f"swift canary: {', '.join(wrong)} stored with the wrong ETag")
    return SwiftCanary(account=account_of(conn), container=CONTAINER,
                       etags=dict(EXPECTED_ETAGS))
