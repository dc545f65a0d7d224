"""Reading the downloaded Debian packages without installing them: the cache's manifest
(``packages.tsv``, written by ``fetch-guest-packages``), and a package's files, streamed
out of its ``data.tar`` (a .deb is an ``ar`` archive) so that only the files wanted are kept.

Debian's packages compress ``data.tar`` with xz, which Python reads. Ubuntu's may use zstd,
which Python 3.11 does not read: such a package's tree comes from ``dpkg-deb --fsys-tarfile``,
present wherever apt is, as an uncompressed stream."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from stackdrill.lab.prerequisites import guest_packages_hint
from stackdrill.lab.system import LabError

DEFAULT_CACHE = Path("/var/cache/stackdrill/guest")
MANIFEST = "packages.tsv"
_AR_MAGIC = b"!<arch>\n"
_AR_HEADER = 60
_TarMode = Literal["r|xz", "r|gz", "r|bz2", "r|"]
_TAR_MODES: dict[str, _TarMode] = {"data.tar.xz": "r|xz", "data.tar.gz": "r|gz",
                                   "data.tar.bz2": "r|bz2", "data.tar": "r|"}
_VIA_DPKG_DEB = ("data.tar.zst",)
"""Members whose compression Python cannot read: ``dpkg-deb`` decompresses them."""


class GuestBuildError(LabError):
    """The guest cannot be built: a package missing from the cache, or not as expected."""


@dataclass(frozen=True)
class CachedPackage:
    name: str
    version: str
    path: Path
    sha256: str


def cache_dir() -> Path:
    return Path(os.environ.get("STACKDRILL_GUEST_CACHE", str(DEFAULT_CACHE)))


def read_manifest(cache: Path) -> dict[str, CachedPackage]:
    """The cached packages by name, as ``fetch-guest-packages`` recorded them."""
    manifest = cache / MANIFEST
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GuestBuildError(f"no guest packages in {cache} ({exc.strerror or exc}); "
                              f"{guest_packages_hint()}") from exc
    packages = {}
    for line in lines:
        fields = line.split("\t")
        if len(fields) != 4:
            raise GuestBuildError(f"{manifest}: not 'name version file sha256': {line!r}")
        name, version, file, sha256 = fields
        packages[name] = CachedPackage(name, version, cache / file, sha256)
    return packages


def verify(package: CachedPackage) -> None:
    digest = hashlib.sha256()
    try:
        with package.path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise GuestBuildError(f"{package.name}: {exc}; {guest_packages_hint()}") from exc
    if digest.hexdigest() != package.sha256:
        raise GuestBuildError(f"{package.path}: checksum differs from {MANIFEST}; "
                              f"{guest_packages_hint()}")


class _Window(io.RawIOBase):
    """``length`` bytes of ``handle`` from its current position, as a file."""

    def __init__(self, handle: BinaryIO, length: int) -> None:
        self._handle = handle
        self._left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        size = min(len(buffer), self._left)
        data = self._handle.read(size)
        buffer[:len(data)] = data
        self._left -= len(data)
        return len(data)


def _data_member(handle: BinaryIO, deb: Path) -> tuple[str, int]:
    """Moves ``handle`` to the start of the .deb's ``data.tar*`` member: (its name, its size)."""
    if handle.read(len(_AR_MAGIC)) != _AR_MAGIC:
        raise GuestBuildError(f"{deb}: not a Debian package (no ar header)")
    while len(header := handle.read(_AR_HEADER)) == _AR_HEADER:
        name = header[:16].decode("ascii", errors="replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        if name.startswith("data.tar"):
            if name not in _TAR_MODES and name not in _VIA_DPKG_DEB:
                readable = ", ".join((*_TAR_MODES, *_VIA_DPKG_DEB))
                raise GuestBuildError(f"{deb}: {name} is compressed in a way this builder "
                                      f"cannot read (it reads {readable})")
            return name, size
        handle.seek(size + size % 2, os.SEEK_CUR)
    raise GuestBuildError(f"{deb}: no data.tar member")


def members(deb: Path) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    """Every entry of the package's file tree, in archive order, with the open archive to read
    it from; names lose their leading ``./``."""
    with deb.open("rb") as handle:
        name, size = _data_member(handle, deb)
        if name in _VIA_DPKG_DEB:
            yield from _dpkg_deb_members(deb)
            return
        window = io.BufferedReader(_Window(handle, size), buffer_size=1 << 20)
        try:
            with tarfile.open(fileobj=window, mode=_TAR_MODES[name]) as tar:
                for info in tar:
                    info.name = info.name.removeprefix("./")
                    yield info, tar
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise GuestBuildError(f"{deb}: cannot read its files: {exc}") from exc


def _dpkg_deb_members(deb: Path) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    """:func:`members` of a package whose ``data.tar`` only ``dpkg-deb`` can decompress."""
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)],
                                       stdout=subprocess.PIPE, stderr=errors)
        except OSError as exc:
            raise GuestBuildError(f"{deb}: its files are compressed with zstd, and dpkg-deb, "
                                  f"which reads them, cannot be run: {exc}") from exc
        stream = process.stdout
        assert stream is not None
        problem, complete = "", False
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for info in tar:
                    info.name = info.name.removeprefix("./")
                    yield info, tar
            while stream.read(1 << 16):  # the archive's padding, so that dpkg-deb exits 0
                pass
            complete = True
        except (tarfile.TarError, EOFError, OSError) as exc:
            problem = f"cannot read its files: {exc}"
        finally:
            stream.close()
            if not complete and process.poll() is None:
                process.kill()
            process.wait()
        errors.seek(0)
        said = errors.read().decode("utf-8", errors="replace").strip().splitlines()
        if said and (problem or process.returncode != 0):
            problem = f"dpkg-deb --fsys-tarfile: {said[-1]}"
        elif process.returncode != 0 and not problem:
            problem = f"dpkg-deb --fsys-tarfile: exit status {process.returncode}"
        if problem:
            raise GuestBuildError(f"{deb}: {problem}")


def extract(deb: Path, wanted: Callable[[str], bool]) -> dict[str, bytes]:
    """The regular files of the package whose path ``wanted`` accepts, by path."""
    found = {}
    for info, tar in members(deb):
        if info.isfile() and wanted(info.name):
            handle = tar.extractfile(info)
            if handle is not None:
                found[info.name] = handle.read()
    return found
