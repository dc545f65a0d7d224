"""A deterministic initramfs: a ``newc`` cpio archive, gzip-compressed, as the kernel unpacks it.

The same entries always give the same bytes: entries sorted by path (parents first), owner root,
one fixed modification time, inode numbers in that order, and a gzip stream with no name and a
zero timestamp. So the image's checksum is the identity of what went into it.
"""

from __future__ import annotations

import gzip
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from stackdrill.lab.guest.debs import GuestBuildError

MTIME = 0
"""Every entry's modification time (the epoch): a rebuild must not change the archive."""
_MAGIC = "070701"
_TRAILER = "TRAILER!!!"


@dataclass(frozen=True)
class Entry:
    """One file of the archive. ``data`` is a file's contents or a symlink's target; ``rdev``
    a device node's (major, minor)."""

    path: str
    mode: int
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)

    @classmethod
    def directory(cls, path: str, perms: int = 0o755) -> Entry:
        return cls(path, stat.S_IFDIR | perms)

    @classmethod
    def file(cls, path: str, data: bytes, perms: int = 0o644) -> Entry:
        return cls(path, stat.S_IFREG | perms, data)

    @classmethod
    def symlink(cls, path: str, target: str) -> Entry:
        return cls(path, stat.S_IFLNK | 0o777, target.encode())

    @classmethod
    def char_device(cls, path: str, major: int, minor: int, perms: int = 0o600) -> Entry:
        return cls(path, stat.S_IFCHR | perms, rdev=(major, minor))


def _pad(size: int) -> bytes:
    return b"\0" * (-size % 4)


def _header(ino: int, entry: Entry, name: bytes) -> bytes:
    nlink = 2 if stat.S_ISDIR(entry.mode) else 1
    fields = (ino, entry.mode, 0, 0, nlink, MTIME, len(entry.data), 0, 0, *entry.rdev,
              len(name) + 1, 0)
    return (_MAGIC + "".join(f"{value:08x}" for value in fields)).encode("ascii")


def _complete(entries: Iterable[Entry]) -> list[Entry]:
    """The entries with every missing parent directory added, sorted parents first."""
    by_path: dict[str, Entry] = {}
    for entry in entries:
        path = entry.path.strip("/")
        if not path or path in by_path or ".." in PurePosixPath(path).parts:
            raise GuestBuildError(f"initramfs: bad or repeated path {entry.path!r}")
        by_path[path] = Entry(path, entry.mode, entry.data, entry.rdev)
    for path in list(by_path):
        for parent in PurePosixPath(path).parents:
            if str(parent) != "." and str(parent) not in by_path:
                by_path[str(parent)] = Entry.directory(str(parent))
    return sorted(by_path.values(), key=lambda entry: PurePosixPath(entry.path).parts)


def archive(entries: Iterable[Entry]) -> bytes:
    """The uncompressed ``newc`` archive of ``entries``."""
    chunks: list[bytes] = []
    for ino, entry in enumerate([*_complete(entries), Entry(_TRAILER, 0)], start=1):
        name = entry.path.encode()
        head = _header(0 if entry.path == _TRAILER else ino, entry, name) + name + b"\0"
        chunks += [head, _pad(len(head)), entry.data, _pad(len(entry.data))]
    return b"".join(chunks)


def initramfs(entries: Iterable[Entry]) -> bytes:
    """The gzip-compressed archive, as a kernel's ``initrd`` (or a Glance ramdisk image)."""
    return gzip.compress(archive(entries), compresslevel=9, mtime=0)
