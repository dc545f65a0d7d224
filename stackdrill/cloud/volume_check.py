"""Can the cloud create a volume now, and if not, why: a volume of the size asked for, created
with Cinder's defaults (its default volume type and availability zone, so Cinder's scheduler
chooses the backend), watched until Cinder settles it (``available`` or ``error``), then deleted.

Cinder's reason is what an operator reads with ``openstack volume message list``: Cinder's user
messages (``GET /v3/messages``) about that volume, such as ``schedule allocate volume:Could not
find any available weighted backend.``. A creation the API refuses outright (a quota exceeded,
a size over the volume type's limit) is refused, with the API's answer as its reason.

The volume is named :data:`PREFIX`. One left behind by a run that died is deleted before the
next volume check and by the canary set-up, so it never becomes part of a verified state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from stackdrill.cloud.access import CloudAccess, CloudError
from stackdrill.cloud.resource_check import delete_and_wait, remove_named, wait_settled
from stackdrill.core.waiting import WaitTimeout, poll

PREFIX = "stackdrill-volume-check"
AVAILABLE = "available"
REFUSED = "refused"
MESSAGES_VERSION = "3.5"
"""The Block Storage microversion from which ``/messages`` takes a ``resource_uuid`` filter."""
MESSAGE_WAIT = 10.0
"""Seconds to wait for Cinder's message about a volume in error: the scheduler writes it just
after the volume's status."""


@dataclass(frozen=True)
class VolumeOutcome:
    """How the creation of a volume of ``size`` GiB ended, after ``seconds``: ``available``,
    ``error`` (or another error status) with Cinder's messages, or ``refused`` by the API with
    its answer; ``backend`` is where Cinder put it (``host@backend#pool``, when the credentials
    may see it)."""

    size: int
    status: str
    reason: str
    seconds: float
    backend: str = ""

    @property
    def available(self) -> bool:
        return self.status == AVAILABLE

    def render(self) -> str:
        said = f": {self.reason}" if self.reason else ""
        if self.status == REFUSED:
            return f"a volume of {self.size} GiB was refused in {self.seconds:.1f}s{said}"
        where = f" on {self.backend}" if self.backend else ""
        return (f"a volume of {self.size} GiB created on the cloud went {self.status}{where} "
                f"in {self.seconds:.1f}s{said}")


def remove_leftovers(conn: Any) -> None:
    """Delete every check volume (a run that died may have left one); nothing on a cloud
    without block storage."""
    if conn.has_service("block-storage"):
        remove_named(conn.block_storage.volumes(details=False, all_projects=True), PREFIX,
                     lambda volume: _delete(conn, volume))


def create_volume(access: CloudAccess, size: int, timeout: float) -> VolumeOutcome:
    """Create a volume of ``size`` GiB, wait up to ``timeout`` seconds for Cinder to settle it,
    read why it failed if it did, and delete it."""
    conn = access.connection()
    if not conn.has_service("block-storage"):
        raise CloudError("the cloud has no block storage: no volume service in its catalog")
    remove_leftovers(conn)
    started = time.monotonic()
    volume, refusal = _create(conn, size)
    if volume is None:
        return VolumeOutcome(size, REFUSED, refusal, time.monotonic() - started)
    settled = None
    try:
        settled = _settled(conn, volume.id, timeout)
        seconds = time.monotonic() - started
        reason = "" if settled.status == AVAILABLE else _reason(conn, settled.id)
        return VolumeOutcome(size, settled.status, reason, seconds, settled.host or "")
    finally:
        # a volume Cinder never settled (still creating) is deleted only by force
        _delete(conn, volume, force=settled is None)


def _create(conn: Any, size: int) -> tuple[Any, str]:
    """The volume Cinder accepted to create, or None and the API's refusal."""
    from keystoneauth1.exceptions import ClientException
    from openstack.exceptions import HttpException, SDKException

    try:
        return conn.block_storage.create_volume(name=PREFIX, size=size), ""
    except HttpException as exc:
        return None, " ".join(str(exc).split())
    except (SDKException, ClientException) as exc:
        raise CloudError(f"the volume check could not ask for a volume: {exc}") from exc


def _settled(conn: Any, volume_id: str, timeout: float) -> Any:
    def settled() -> Any:
        current = conn.block_storage.get_volume(volume_id)
        status = str(current.status or "")
        return current if status == AVAILABLE or status.startswith("error") else None

    return wait_settled(settled, timeout, "the check volume available or in error")


def _reason(conn: Any, volume_id: str) -> str:
    """Cinder's user messages about the volume, oldest first, once there is one (for up to
    :data:`MESSAGE_WAIT` seconds)."""
    from keystoneauth1.exceptions import ClientException
    from openstack.exceptions import SDKException

    try:
        found, _ = poll(lambda: _messages(conn, volume_id), timeout=MESSAGE_WAIT,
                        interval=1.0, max_interval=2.0,
                        description="Cinder's message about the check volume")
    except WaitTimeout:
        return "Cinder recorded no message about the volume"
    except (SDKException, ClientException) as exc:
        return f"Cinder's messages could not be read: {' '.join(str(exc).split())}"
    return "; ".join(dict.fromkeys(found))


def _messages(conn: Any, volume_id: str) -> list[str]:
    """The ``user_message`` of each message Cinder keeps about ``volume_id``, oldest first."""
    from openstack import exceptions

    response = conn.block_storage.get("/messages", params={"resource_uuid": volume_id},
                                      microversion=MESSAGES_VERSION)
    exceptions.raise_from_response(response)
    messages = [m for m in response.json().get("messages") or []
                if m.get("resource_uuid") == volume_id and m.get("user_message")]
    return [str(m["user_message"]) for m in sorted(messages,
                                                    key=lambda m: str(m.get("created_at")))]


def _delete(conn: Any, volume: Any, force: bool = False) -> None:
    delete_and_wait(conn.block_storage, partial(conn.block_storage.delete_volume, force=force),
                    volume, "the check volume")
