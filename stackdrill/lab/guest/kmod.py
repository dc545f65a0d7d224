"""Kernel modules out of a kernel package: their names, their dependencies and the order to load
them in.

Debian's kernel package ships no ``modules.dep`` (``depmod`` writes it when the package is
installed, and the package is only downloaded here), so a module's dependencies come from its
own ``depends=`` field in its ``.modinfo`` ELF section: modpost writes that field from the same
symbol resolution that ``depmod`` later turns into ``modules.dep``. Compressed modules
(``.ko.xz``, ``.ko.gz``, and Ubuntu's ``.ko.zst``) are decompressed, since busybox's ``insmod``
loads plain ``.ko`` files; zstd, which Python 3.11 does not read, by the ``zstd`` command.
"""

from __future__ import annotations

import gzip
import lzma
import struct
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath

from stackdrill.lab.guest.debs import GuestBuildError

_ELF64_LE = b"\x7fELF\x02\x01"
_SUFFIXES = (".ko", ".ko.xz", ".ko.gz", ".ko.zst")


def module_name(path: str) -> str | None:
    """The name a module file loads as (``-`` and ``_`` are the same to the kernel), or None
    for a file that is not a module."""
    base = PurePosixPath(path).name
    for suffix in _SUFFIXES:
        if base.endswith(suffix):
            return base[: -len(suffix)].replace("-", "_")
    return None


def decompress(path: str, data: bytes) -> bytes:
    try:
        if path.endswith(".ko.xz"):
            return lzma.decompress(data)
        if path.endswith(".ko.gz"):
            return gzip.decompress(data)
        if path.endswith(".ko.zst"):
            return _unzstd(path, data)
    except (lzma.LZMAError, OSError, EOFError) as exc:
        raise GuestBuildError(f"{path}: cannot decompress: {exc}") from exc
    return data


def _unzstd(path: str, data: bytes) -> bytes:
    """A ``.ko.zst`` module decompressed by the ``zstd`` command."""
    try:
        done = subprocess.run(["zstd", "-d", "-c", "-q"], input=data, capture_output=True,
                              check=False, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        raise GuestBuildError(f"{path}: zstd-compressed, and the zstd command, which "
                              f"decompresses it, cannot be run ({exc}); apt-get install zstd"
                              ) from exc
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise GuestBuildError(f"{path}: cannot decompress: "
                              f"{said[-1] if said else f'zstd exit status {done.returncode}'}")
    return done.stdout


def modinfo(module: bytes) -> dict[str, list[str]]:
    """The ``key=value`` strings of a module's ``.modinfo`` section (64-bit little-endian ELF)."""
    if module[:6] != _ELF64_LE:
        raise GuestBuildError("not a 64-bit little-endian ELF module")
    try:
        shoff, = struct.unpack_from("<Q", module, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", module, 0x3A)
        sections = [struct.unpack_from("<I4xQQQQ", module, shoff + i * shentsize)
                    for i in range(shnum)]
        _, _, _, names_offset, _ = sections[shstrndx]
        for name_offset, _, _, offset, size in sections:
            end = module.index(b"\0", names_offset + name_offset)
            if module[names_offset + name_offset:end] == b".modinfo":
                return _fields(module[offset:offset + size])
    except (struct.error, IndexError, ValueError) as exc:
        raise GuestBuildError(f"malformed ELF module: {exc}") from exc
    return {}


def _fields(section: bytes) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for item in section.split(b"\0"):
        key, sep, value = item.decode("utf-8", errors="replace").partition("=")
        if sep:
            fields.setdefault(key, []).append(value)
    return fields


def depends(module: bytes) -> list[str]:
    """The modules ``module`` needs loaded first, by name."""
    listed = ",".join(modinfo(module).get("depends", []))
    return sorted({name.replace("-", "_") for name in listed.split(",") if name})


def load_order(roots: Iterable[str], deps: Mapping[str, Iterable[str]]) -> list[str]:
    """Every module ``roots`` need, each after its dependencies; ties broken by name, so the
    order is the same on every build. Modules absent from ``deps`` are built into the kernel."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == "done" or name not in deps:
            return
        if state.get(name) == "visiting":
            raise GuestBuildError(f"module dependency cycle: {' -> '.join((*path, name))}")
        state[name] = "visiting"
        for dep in sorted(deps[name]):
            visit(dep, (*path, name))
        state[name] = "done"
        order.append(name)

    for root in sorted(roots):
        visit(root, ())
    return order
