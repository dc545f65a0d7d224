"""The canary guest's builder, on fake packages (no download): the deterministic initramfs, the
modules and their load order, the packages read without installing them, and the build's
reuse."""

from __future__ import annotations

import gzip
import lzma
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from stackdrill.lab.guest import debs, init_script, kmod
from stackdrill.lab.guest.builder import build_guest
from stackdrill.lab.guest.cpio import Entry, archive, initramfs
from stackdrill.lab.guest.debs import GuestBuildError

from .guest_fakes import KERNEL_RELEASE, fake_cache, fake_deb, fake_module


def read_newc(data: bytes) -> list[dict[str, object]]:
    """The entries of a newc archive, as the kernel reads them."""
    entries, at = [], 0
    while True:
        assert data[at:at + 6] == b"070701"
        fields = [int(data[at + 6 + 8 * i:at + 14 + 8 * i], 16) for i in range(13)]
        name_size, size = fields[11], fields[6]
        name = data[at + 110:at + 110 + name_size - 1].decode()
        at = (at + 110 + name_size + 3) // 4 * 4
        body = data[at:at + size]
        at = (at + size + 3) // 4 * 4
        if name == "TRAILER!!!":
            assert at == len(data)
            return entries
        entries.append({"name": name, "ino": fields[0], "mode": fields[1], "uid": fields[2],
                        "mtime": fields[5], "rdev": (fields[9], fields[10]), "data": body})


ENTRIES = [Entry.file("init", b"#!/bin/sh\n", 0o755), Entry.symlink("bin/sh", "busybox"),
           Entry.file("bin/busybox", b"\x7fELF" * 3, 0o755), Entry.char_device("dev/console", 5, 1),
           Entry.file("lib/modules/virtio.ko", b"module")]


def test_the_archive_is_sorted_complete_and_timeless() -> None:
    entries = read_newc(archive(ENTRIES))
    assert [e["name"] for e in entries] == ["bin", "bin/busybox", "bin/sh", "dev", "dev/console",
                                            "init", "lib", "lib/modules", "lib/modules/virtio.ko"]
    assert [e["ino"] for e in entries] == list(range(1, 10))
    assert {e["mtime"] for e in entries} == {0} and {e["uid"] for e in entries} == {0}
    by_name = {e["name"]: e for e in entries}
    assert by_name["bin/sh"]["data"] == b"busybox"
    assert stat.S_ISLNK(int(str(by_name["bin/sh"]["mode"])))
    assert by_name["dev/console"]["rdev"] == (5, 1)
    assert stat.S_IMODE(int(str(by_name["init"]["mode"]))) == 0o755
    assert stat.S_ISDIR(int(str(by_name["lib/modules"]["mode"])))


def test_the_same_entries_give_the_same_bytes() -> None:
    image = initramfs(ENTRIES)
    assert initramfs(list(reversed(ENTRIES))) == image
    assert image[4:8] == b"\0\0\0\0"  # gzip's timestamp
    assert gzip.decompress(image) == archive(ENTRIES)
    assert initramfs([*ENTRIES[:-1], Entry.file("lib/modules/virtio.ko", b"other")]) != image


@pytest.mark.parametrize("path", ["init", "../etc/passwd", "/"])
def test_bad_or_repeated_paths_are_refused(path: str) -> None:
    with pytest.raises(GuestBuildError, match="bad or repeated path"):
        archive([*ENTRIES, Entry.file(path, b"")])


def test_modules_say_what_they_need() -> None:
    module = fake_module("virtio_blk", ["virtio", "virtio-ring"])
    assert kmod.modinfo(module)["license"] == ["GPL"]
    assert kmod.depends(module) == ["virtio", "virtio_ring"]
    assert kmod.module_name("lib/modules/x/kernel/virtio-ring.ko.xz") == "virtio_ring"
    assert kmod.module_name("lib/modules/x/modules.dep") is None
    assert kmod.decompress("a.ko.xz", lzma.compress(module)) == module
    with pytest.raises(GuestBuildError, match="not a 64-bit"):
        kmod.modinfo(b"\x7fELF\x01\x01 32-bit")


def test_load_order_puts_dependencies_first_and_skips_built_ins() -> None:
    deps = {"virtio_blk": ["virtio", "virtio_ring"], "virtio": ["virtio_ring"],
            "virtio_ring": [], "virtio_pci": ["virtio", "virtio_pci_modern_dev"],
            "virtio_pci_modern_dev": []}
    assert kmod.load_order(["virtio_pci", "virtio_blk"], deps) == [
        "virtio_ring", "virtio", "virtio_blk", "virtio_pci_modern_dev", "virtio_pci"]
    assert kmod.load_order(["virtio_blk", "serial"], {"virtio_blk": []}) == ["virtio_blk"]
    with pytest.raises(GuestBuildError, match="cycle: a -> b -> a"):
        kmod.load_order(["a"], {"a": ["b"], "b": ["a"]})


def test_packages_are_read_without_installing_them(tmp_path: Path) -> None:
    deb = fake_deb(tmp_path / "x.deb", {"bin/busybox": b"bb", "usr/share/doc/x": b"doc"})
    assert debs.extract(deb, lambda name: name.startswith("bin/")) == {"bin/busybox": b"bb"}
    if shutil.which("dpkg-deb"):
        listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                                 check=True).stdout
        assert "./bin/busybox" in listing
    (tmp_path / "y.deb").write_bytes(b"not a package")
    with pytest.raises(GuestBuildError, match="not a Debian package"):
        debs.extract(tmp_path / "y.deb", lambda name: True)


def test_a_missing_or_altered_cache_is_named(tmp_path: Path) -> None:
    with pytest.raises(GuestBuildError, match=r"no guest packages in .*; download them as root"):
        debs.read_manifest(tmp_path)
    cache = fake_cache(tmp_path / "cache")
    package = debs.read_manifest(cache)["busybox-static"]
    debs.verify(package)
    package.path.write_bytes(package.path.read_bytes() + b"x")
    with pytest.raises(GuestBuildError, match="checksum differs"):
        debs.verify(package)


def test_a_build_is_deterministic_and_reused(tmp_path: Path) -> None:
    cache = fake_cache(tmp_path / "cache")
    first = build_guest(tmp_path / "one", cache)
    second = build_guest(tmp_path / "two", cache)
    assert (first.initrd_sha256, first.kernel_sha256) == (second.initrd_sha256,
                                                          second.kernel_sha256)
    assert first.initrd.read_bytes() == second.initrd.read_bytes()
    assert first.kernel_release == KERNEL_RELEASE
    assert first.modules == ("virtio_ring", "virtio", "virtio_blk", "virtio_pci")
    assert first.packages == {"linux-image-6.1.0-99-amd64": "6.1.999-1",
                              "busybox-static": "1:1.35.0-4"}
    files = {e["name"]: e for e in read_newc(gzip.decompress(first.initrd.read_bytes()))}
    assert "lib/modules/unrelated.ko" not in files
    assert files["lib/modules/virtio_blk.ko"]["data"] == fake_module(
        "virtio_blk", ["virtio", "virtio_ring"])
    assert files["init"]["data"] == init_script.render(first.modules).encode()
    assert b"for m in virtio_ring virtio virtio_blk virtio_pci; do" in files["init"]["data"]

    first.initrd.write_bytes(b"tampered")
    rebuilt = build_guest(tmp_path / "one", cache)
    assert rebuilt.initrd.read_bytes() == second.initrd.read_bytes()
    assert build_guest(tmp_path / "one", cache) == rebuilt


def test_a_kernel_without_a_needed_module_is_refused(tmp_path: Path) -> None:
    cache = fake_cache(tmp_path / "cache", drop="virtio-ring")
    with pytest.raises(GuestBuildError, match=r"lacks the modules \['virtio_ring'\]"):
        build_guest(tmp_path / "out", cache)


def test_the_init_script_is_complete_and_parses() -> None:
    script = init_script.render(["virtio_ring", "virtio"])
    assert "@" not in script.replace("$@", "")
    assert "sd_heartbeat() {" in script and "oflag=direct conv=fsync" in script
    subprocess.run(["sh", "-n", "-c", script], check=True)
