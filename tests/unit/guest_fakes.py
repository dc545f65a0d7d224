"""Fake Debian packages and kernel modules for the guest builder's tests: a .deb is an ar archive
of debian-binary, control.tar.xz and data.tar.xz; a module is a 64-bit ELF file whose
.modinfo section holds its ``depends=``."""

from __future__ import annotations

import hashlib
import io
import lzma
import struct
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


def _tar_xz(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo("./" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return lzma.compress(raw.getvalue())


def _ar_member(name: str, data: bytes) -> bytes:
    header = (f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n").encode()
    return header + data + (b"\n" if len(data) % 2 else b"")


def fake_deb(path: Path, files: dict[str, bytes]) -> Path:
    """A .deb at ``path`` whose file tree holds ``files`` (in the order given)."""
    path.write_bytes(b"!<arch>\n" + _ar_member("debian-binary", b"2.0\n")
                     + _ar_member("control.tar.xz", _tar_xz({"control": b"Package: x\n"}))
                     + _ar_member("data.tar.xz", _tar_xz(files)))
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
