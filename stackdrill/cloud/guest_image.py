"""The canary guest in Glance: a kernel image, a ramdisk image and a machine image that boots
them, as Nova's libvirt driver boots ``kernel_id``/``ramdisk_id`` images.

The guest itself (a Debian kernel and a busybox initramfs whose ``/init`` writes the heartbeat of
:mod:`stackdrill.cloud.heartbeat`) is built from files on the drill host; this module only
registers a build. A build is known by its key (a digest of everything it was built from, and of
the properties it is registered with), stored as each image's ``stackdrill_guest`` property: the
images are uploaded once per build, and those of older builds are removed once no server uses
them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackdrill.cloud.access import CloudError

MACHINE = "stackdrill-canary-guest"
KERNEL = f"{MACHINE}-kernel"
RAMDISK = f"{MACHINE}-ramdisk"
KEY_PROPERTY = "stackdrill_guest"
ROOT_DISK_BYTES = b"\0" * (1 << 20)
"""The machine image's own disk: the guest runs from its initramfs and never reads it."""
UPLOAD_TIMEOUT = 300
SHUTDOWN_TIMEOUT = "10"
"""Nova's ``os_shutdown_timeout`` for the guest: it does not answer ACPI's power button (its
``/init`` runs no ACPI daemon), so a stop powers it off after 10 s instead of Nova's default 60.
Acknowledged writes are on the volume already; a tenant whose guest ignores ACPI sees the same."""


@dataclass(frozen=True)
class GuestFiles:
    """A built guest on the drill host: its kernel, its initramfs, the kernel command line and
    the build's key."""

    kernel: Path
    initrd: Path
    command_line: str
    key: str


def _identity(guest: GuestFiles) -> str:
    """The build's key and how it is registered: a change to either uploads it again."""
    registration = json.dumps({"key": guest.key, "command_line": guest.command_line,
                               "os_shutdown_timeout": SHUTDOWN_TIMEOUT}, sort_keys=True)
    return hashlib.sha256(registration.encode()).hexdigest()


def _find(conn: Any, name: str, key: str) -> Any:
    for image in conn.image.images(name=name):
        if image.status == "active" and image.properties.get(KEY_PROPERTY) == key:
            return image
    return None


def _upload(conn: Any, name: str, data: bytes, disk_format: str, key: str,
            **properties: str) -> Any:
    from openstack.exceptions import SDKException

    try:
        return conn.image.create_image(
            name=name, data=data, disk_format=disk_format, container_format=disk_format
            if disk_format in ("aki", "ari") else "bare", wait=True, timeout=UPLOAD_TIMEOUT,
            allow_duplicates=True, **{KEY_PROPERTY: key}, **properties)
    except SDKException as exc:
        raise CloudError(f"uploading {name} to Glance failed: {exc}") from exc


def _remove_older(conn: Any, key: str) -> None:
    """Images of other builds go, unless a server still boots from them (Glance refuses)."""
    in_use = {s.image.get("id") for s in conn.compute.servers(all_projects=True) if s.image}
    for name in (MACHINE, KERNEL, RAMDISK):
        for image in conn.image.images(name=name):
            if image.properties.get(KEY_PROPERTY) != key and image.id not in in_use:
                conn.image.delete_image(image, ignore_missing=True)


def ensure_guest_image(conn: Any, guest: GuestFiles) -> Any:
    """The machine image of ``guest``, uploaded with its kernel and ramdisk if Glance lacks
    this build."""
    key = _identity(guest)
    machine = _find(conn, MACHINE, key)
    if machine is not None:
        return machine
    kernel = _find(conn, KERNEL, key) or _upload(
        conn, KERNEL, guest.kernel.read_bytes(), "aki", key)
    ramdisk = _find(conn, RAMDISK, key) or _upload(
        conn, RAMDISK, guest.initrd.read_bytes(), "ari", key)
    machine = _upload(conn, MACHINE, ROOT_DISK_BYTES, "raw", key, kernel_id=kernel.id,
                      ramdisk_id=ramdisk.id, os_command_line=guest.command_line,
                      os_shutdown_timeout=SHUTDOWN_TIMEOUT)
    _remove_older(conn, key)
    return machine
