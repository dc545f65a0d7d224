"""A FUSE filesystem of disk images that can be switched to fail every I/O with EIO.

Run on the lab machine as
``python -m stackdrill.lab.cloud.swift_eiofs BACKING MOUNTPOINT HOST/DISK...``:

- ``MOUNTPOINT/images/<host>-<disk>.img`` passes reads and writes through to
  ``BACKING/<host>-<disk>.img``; a loop device over it is the host's disk;
- ``MOUNTPOINT/control/<host>/<disk>`` reads ``ok`` or ``eio``; writing ``eio`` makes every
  read, write and flush of that image fail with EIO (as a dying drive does, so XFS above the
  loop device shuts down), writing ``ok`` brings it back. The lab binds ``control/<host>`` into
  the storage host.

``direct_io`` keeps the kernel from answering reads from its page cache once the disk fails.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import threading
import time
from typing import Any

from stackdrill.core.errors import InvalidValue

STATES = ("ok", "eio")


def parse_state(data: bytes) -> str:
    """The state written to a control file: ``ok`` or ``eio`` (whitespace ignored)."""
    text = data.decode(errors="replace").strip().lower()
    if text not in STATES:
        raise InvalidValue(f"expected one of {', '.join(STATES)}, got {text!r}")
    return text


class EioImages:
    """The filesystem's logic, independent of the FUSE binding: paths, states, I/O."""

    def __init__(self, backing: str, disks: list[tuple[str, str]]) -> None:
        self.backing = backing
        self.disks = disks
        self.state = dict.fromkeys(disks, "ok")
        self.lock = threading.Lock()
        self.started = time.time()

    def image_of(self, path: str) -> tuple[str, str] | None:
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "images":
            for host, disk in self.disks:
                if parts[1] == f"{host}-{disk}.img":
                    return host, disk
        return None

    def control_of(self, path: str) -> tuple[str, str] | None:
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "control" and (parts[1], parts[2]) in self.state:
            return parts[1], parts[2]
        return None

    def directories(self) -> dict[str, list[str]]:
        hosts = sorted({host for host, _ in self.disks})
        tree = {"/": ["images", "control"],
                "/images": [f"{h}-{d}.img" for h, d in self.disks],
                "/control": hosts}
        for host in hosts:
            tree[f"/control/{host}"] = [d for h, d in self.disks if h == host]
        return tree

    def backing_file(self, key: tuple[str, str]) -> str:
        return os.path.join(self.backing, f"{key[0]}-{key[1]}.img")

    def check(self, key: tuple[str, str]) -> None:
        if self.state[key] == "eio":
            raise OSError(errno.EIO, os.strerror(errno.EIO))

    def control_text(self, key: tuple[str, str]) -> bytes:
        return f"{self.state[key]}\n".encode()

    def set_state(self, key: tuple[str, str], data: bytes) -> None:
        self.state[key] = parse_state(data)


def _fail(code: int) -> Exception:
    from fuse import FuseOSError  # type: ignore[import-untyped]

    return FuseOSError(code)  # type: ignore[no-any-return]


class EioOperations:
    """The FUSE operations over :class:`EioImages`. :func:`_operations` mixes them into
    fusepy's ``Operations``, imported only where the filesystem is mounted."""

    def __init__(self, images: EioImages) -> None:
        self.images = images

    def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
        now = self.images.started
        if path in self.images.directories():
            return {"st_mode": stat.S_IFDIR | 0o755, "st_nlink": 2, "st_ctime": now,
                    "st_mtime": now, "st_atime": now}
        image = self.images.image_of(path)
        if image is not None:
            st = os.lstat(self.images.backing_file(image))
            return {key: getattr(st, key) for key in ("st_mode", "st_nlink", "st_size",
                    "st_ctime", "st_mtime", "st_atime", "st_uid", "st_gid")}
        control = self.images.control_of(path)
        if control is not None:
            return {"st_mode": stat.S_IFREG | 0o644, "st_nlink": 1,
                    "st_size": len(self.images.control_text(control)), "st_ctime": now,
                    "st_mtime": now, "st_atime": now}
        raise _fail(errno.ENOENT)

    def readdir(self, path: str, fh: Any) -> list[str]:
        return [".", "..", *self.images.directories().get(path, [])]

    def open(self, path: str, flags: int) -> int:
        image = self.images.image_of(path)
        if image is not None:
            return os.open(self.images.backing_file(image), flags & ~os.O_CREAT)
        if self.images.control_of(path) is not None:
            return 0
        raise _fail(errno.ENOENT)

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        control = self.images.control_of(path)
        if control is not None:
            return self.images.control_text(control)[offset:offset + size]
        self._healthy_image(path)
        return os.pread(fh, size, offset)

    def _healthy_image(self, path: str) -> None:
        """ENOENT for a path that is no image, EIO for an image whose state fails it."""
        image = self.images.image_of(path)
        if image is None:
            raise _fail(errno.ENOENT)
        try:
            self.images.check(image)
        except OSError:
            raise _fail(errno.EIO) from None

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        control = self.images.control_of(path)
        if control is not None:
            try:
                self.images.set_state(control, data)
            except InvalidValue:
                raise _fail(errno.EINVAL) from None
            return len(data)
        self._healthy_image(path)
        return os.pwrite(fh, data, offset)

    def truncate(self, path: str, length: int, fh: Any = None) -> None:
        image = self.images.image_of(path)
        if image is not None:
            os.truncate(self.images.backing_file(image), length)

    def fsync(self, path: str, datasync: int, fh: int) -> None:
        image = self.images.image_of(path)
        if image is not None:
            try:
                self.images.check(image)
            except OSError:
                raise _fail(errno.EIO) from None
            os.fsync(fh)

    def flush(self, path: str, fh: int) -> None:
        return None

    def release(self, path: str, fh: int) -> None:
        if self.images.image_of(path) is not None:
            os.close(fh)


def _operations(images: EioImages) -> Any:
    from fuse import Operations

    class Ops(EioOperations, Operations):  # type: ignore[misc]
        pass

    return Ops(images)


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print("usage: swift_eiofs BACKING MOUNTPOINT HOST/DISK...", file=sys.stderr)
        return 2
    backing, mountpoint, *specs = argv
    disks = []
    for spec in specs:
        host, _, disk = spec.partition("/")
        if not host or not disk:
            print(f"swift_eiofs: expected HOST/DISK, got {spec!r}", file=sys.stderr)
            return 2
        disks.append((host, disk))
    from fuse import FUSE

    FUSE(_operations(EioImages(backing, disks)), mountpoint, foreground=True, nothreads=False,
         direct_io=True, allow_other=True, fsname="stackdrill-eiofs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
