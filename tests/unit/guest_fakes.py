"""Fake Debian and Ubuntu packages and kernel modules for the guest builder's tests: a .deb is an
ar archive of debian-binary, control.tar.xz and data.tar.xz (data.tar.zst as Ubuntu may have
it); a module is a 64-bit ELF file whose .modinfo section holds its ``depends=``."""

from __future__ import annotations

import hashlib
import io
import lzma
import struct
import subprocess
import tarfile
from pathlib import Path


def fake_module(name: str, depends: list[str], padding: int = 64) -> bytes:
    """A minimal ELF64 little-endian object with a .modinfo section (and some bytes of "code")."""
    info = b"".join(f"{key}={value}".encode() + b"\0" for key, value in
                    (("license", "GPL"), ("depends", ",".join(depends)), ("name", name)))
    names = b"\0.modinfo\0.shstrtab\0"
    code = bytes(range(256)) * (padding // 256 + 1)
    info_at = 64 + len(code)
    names_at = info_at + len(info)
    sections_at = (names_at + len(names) + 7) // 8 * 8
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", header, 0x28, sections_at)
    struct.pack_into("<HHH", header, 0x3A, 64, 3, 2)
    body = bytes(header) + code + info + names
    body += b"\0" * (sections_at - len(body))

    def section(name_at: int, offset: int, size: int) -> bytes:
        return struct.pack("<IIQQQQIIQQ", name_at, 1, 0, 0, offset, size, 0, 0, 1, 0)

    return (body + section(0, 0, 0) + section(1, info_at, len(info))
            + section(10, names_at, len(names)))


def _tar(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo("./" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def _tar_xz(files: dict[str, bytes]) -> bytes:
    return lzma.compress(_tar(files))


def zstd(data: bytes) -> bytes:
    """``data`` compressed by the zstd command (Python 3.11 has no zstd)."""
    return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True,
                          check=True).stdout


def _ar_member(name: str, data: bytes) -> bytes:
    header = (f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n").encode()
    return header + data + (b"\n" if len(data) % 2 else b"")


def fake_deb(path: Path, files: dict[str, bytes], compression: str = "xz") -> Path:
    """A .deb at ``path`` whose file tree holds ``files`` (in the order given), its data.tar
    compressed with xz or (``compression="zst"``) zstd."""
    data = (_ar_member("data.tar.zst", zstd(_tar(files))) if compression == "zst"
            else _ar_member("data.tar.xz", _tar_xz(files)))
    path.write_bytes(b"!<arch>\n" + _ar_member("debian-binary", b"2.0\n")
                     + _ar_member("control.tar.xz", _tar_xz({"control": b"Package: x\n"}))
                     + data)
    return path


KERNEL_RELEASE = "6.1.0-99-amd64"


def fake_cache(cache: Path, *, drop: str = "") -> Path:
    """A guest package cache like scripts/fetch-guest-packages leaves: a kernel package whose
    modules need one more pass (virtio_ring comes before virtio, which needs it) and a
    busybox-static package; ``drop`` leaves one module out of the kernel."""
    base = f"lib/modules/{KERNEL_RELEASE}"
    modules = {
        f"{base}/kernel/drivers/virtio/virtio-ring.ko": fake_module("virtio_ring", []),
        f"{base}/kernel/drivers/block/virtio_blk.ko.xz":
            lzma.compress(fake_module("virtio_blk", ["virtio", "virtio_ring"])),
        f"{base}/kernel/drivers/virtio/virtio.ko": fake_module("virtio", ["virtio_ring"]),
        f"{base}/kernel/drivers/virtio/virtio_pci.ko": fake_module("virtio_pci", ["virtio"]),
        f"{base}/kernel/drivers/net/unrelated.ko": fake_module("unrelated", []),
    }
    files = {f"boot/vmlinuz-{KERNEL_RELEASE}": b"MZ fake kernel " * 100,
             f"boot/config-{KERNEL_RELEASE}": b"CONFIG_VIRTIO_BLK=m\n",
             **{name: data for name, data in modules.items() if drop not in name or not drop},
             f"{base}/modules.builtin": b"kernel/drivers/tty/serial/8250/8250.ko\n"}
    cache.mkdir(parents=True, exist_ok=True)
    kernel = fake_deb(cache / "linux-image-6.1.0-99-amd64_6.1.999-1_amd64.deb", files)
    meta = fake_deb(cache / "linux-image-amd64_6.1.999-1_amd64.deb", {})
    busybox = fake_deb(cache / "busybox-static_1%3a1.35.0-4_amd64.deb",
                       {"bin/busybox": b"\x7fELF fake busybox" * 50})
    lines = [("linux-image-amd64", "6.1.999-1", meta),
             ("linux-image-6.1.0-99-amd64", "6.1.999-1", kernel),
             ("busybox-static", "1:1.35.0-4", busybox)]
    (cache / "packages.tsv").write_text("".join(
        f"{name}\t{version}\t{deb.name}\t{hashlib.sha256(deb.read_bytes()).hexdigest()}\n"
        for name, version, deb in lines))
    return cache


UBUNTU_RELEASE = "6.8.0-99-generic"
VIRTIO = {"virtio_ring": ("drivers/virtio/virtio_ring", []),
          "virtio": ("drivers/virtio/virtio", ["virtio_ring"]),
          "virtio_pci": ("drivers/virtio/virtio_pci", ["virtio"]),
          "virtio_blk": ("drivers/block/virtio_blk", ["virtio", "virtio_ring"])}
"""The fake kernels' virtio modules: their paths under kernel/ and what they depend on."""


def _ubuntu_modules(builtin: tuple[str, ...], compression: str) -> dict[str, bytes]:
    """The module files of an Ubuntu modules package: the virtio modules the kernel does not
    build in (``.ko.zst`` with ``compression="zst"``, else plain) and an unrelated one."""
    base = f"lib/modules/{UBUNTU_RELEASE}/kernel"
    files = {}
    for name, (path, depends) in VIRTIO.items():
        if name not in builtin:
            module = fake_module(name, depends)
            files[f"{base}/{path}.ko" + (".zst" if compression == "zst" else "")] = (
                zstd(module) if compression == "zst" else module)
    files[f"{base}/drivers/net/unrelated.ko"] = fake_module("unrelated", [])
    return files


def fake_ubuntu_cache(cache: Path, *, builtin: tuple[str, ...] = tuple(VIRTIO),
                      compression: str = "xz", modules: bool = True) -> Path:
    """A guest package cache like scripts/fetch-guest-packages leaves on Ubuntu: the
    linux-image-virtual metapackage, linux-image-<release> (vmlinuz only),
    linux-modules-<release> (the modules, modules.builtin naming ``builtin``, which Ubuntu's
    generic kernel builds in) and busybox-static (in usr/bin, the same bytes as the Debian
    fake's). ``compression`` is the packages' data.tar's and the modules'; ``modules=False``
    leaves the modules package out."""
    base = f"lib/modules/{UBUNTU_RELEASE}"
    in_kernel = ["kernel/drivers/tty/serial/8250/8250.ko",
                 *(f"kernel/{VIRTIO[name][0]}.ko" for name in builtin)]
    cache.mkdir(parents=True, exist_ok=True)
    image = fake_deb(cache / f"linux-image-{UBUNTU_RELEASE}_6.8.0-99.99_amd64.deb",
                     {f"boot/vmlinuz-{UBUNTU_RELEASE}": b"MZ fake Ubuntu kernel " * 100,
                      f"usr/share/doc/linux-image-{UBUNTU_RELEASE}/copyright": b"GPL"},
                     compression)
    modules_deb = fake_deb(
        cache / f"linux-modules-{UBUNTU_RELEASE}_6.8.0-99.99_amd64.deb",
        {f"boot/config-{UBUNTU_RELEASE}": b"CONFIG_VIRTIO_BLK=y\n",
         **_ubuntu_modules(builtin, compression),
         f"{base}/modules.builtin": "".join(f"{line}\n" for line in in_kernel).encode(),
         f"{base}/modules.order": b"kernel/drivers/net/unrelated.ko\n"}, compression)
    meta = fake_deb(cache / "linux-image-virtual_6.8.0-99.99_amd64.deb", {}, compression)
    busybox = fake_deb(cache / "busybox-static_1%3a1.36.1-6ubuntu3_amd64.deb",
                       {"usr/bin/busybox": b"\x7fELF fake busybox" * 50}, compression)
    lines = [("linux-image-virtual", "6.8.0-99.99", meta),
             (f"linux-image-{UBUNTU_RELEASE}", "6.8.0-99.99", image),
             *([(f"linux-modules-{UBUNTU_RELEASE}", "6.8.0-99.99", modules_deb)] if modules
               else []),
             ("busybox-static", "1:1.36.1-6ubuntu3", busybox)]
    (cache / "packages.tsv").write_text("".join(
        f"{name}\t{version}\t{deb.name}\t{hashlib.sha256(deb.read_bytes()).hexdigest()}\n"
        for name, version, deb in lines))
    return cache
