"""What the boot check (:mod:`stackdrill.cloud.boot_check`) and the volume check
(:mod:`stackdrill.cloud.volume_check`) share: a resource a check created, watched until its
service settles it, then deleted; and the removal of those an earlier run left behind, so that
none becomes part of a verified state."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from stackdrill.cloud.access import CloudError
from stackdrill.core.waiting import WaitTimeout, poll

T = TypeVar("T")

DELETE_TIMEOUT = 120
"""Seconds a check waits for its resource to be gone."""


def wait_settled(read: Callable[[], T | None], timeout: float, description: str) -> T:
    """``read()``'s first answer that is not None, asked every 1 s to 3 s; a resource still
    unsettled after ``timeout`` seconds is a :class:`CloudError` naming ``description``."""
    try:
        found, _ = poll(read, timeout=timeout, interval=1.0, max_interval=3.0,
                        description=description)
    except WaitTimeout as exc:
        raise CloudError(str(exc)) from exc
    return found


def delete_and_wait(proxy: Any, delete: Callable[..., Any], resource: Any, what: str) -> None:
    """Delete ``resource`` with ``delete`` (``proxy.delete_server``, ...) and wait until
    ``proxy`` no longer finds it; a failure is a :class:`CloudError` naming ``what``."""
    from openstack.exceptions import SDKException

    try:
        delete(resource, ignore_missing=True)
        proxy.wait_for_delete(resource, wait=DELETE_TIMEOUT)
    except SDKException as exc:
        raise CloudError(f"{what} {resource.name} was not deleted: {exc}") from exc


def remove_named(resources: Iterable[Any], prefix: str, remove: Callable[[Any], None]) -> None:
    """``remove`` every resource whose name starts with ``prefix`` (a check's own)."""
    for resource in list(resources):
        if (resource.name or "").startswith(prefix):
            remove(resource)
