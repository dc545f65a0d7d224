"""The canary guest built from Ubuntu's packages, faked in Ubuntu's layout (no download): the
kernel in ``linux-image-<release>``, its modules and ``modules.builtin`` in
``linux-modules-<release>``, virtio built in or as modules, ``.ko.zst`` modules and zstd
data.tar members. The initramfs holds what the Debian guest's holds, less what the kernel has
built in."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest

from stackdrill.lab.guest import debs, init_script, kmod
from stackdrill.lab.guest.builder import build_guest, module_packages, scan_kernel
from stackdrill.lab.guest.debs import GuestBuildError

from .guest_fakes import (
    UBUNTU_RELEASE,
    fake_cache,
    fake_deb,
    fake_module,
    fake_ubuntu_cache,
    zstd,
)
from .test_guest_builder import read_newc

needs_zstd = pytest.mark.skipif(
    shutil.which("zstd") is None or shutil.which("dpkg-deb") is None,
    reason="the zstd fakes need the zstd command and dpkg-deb")
MODULES = f"linux-modules-{UBUNTU_RELEASE}"


def initrd_files(initrd: Path) -> dict[str, bytes]:
    """The initramfs's files (and directories, as empty data), by path."""
    files = {}
    for entry in read_newc(gzip.decompress(initrd.read_bytes())):
        data = entry["data"]
        assert isinstance(data, bytes)
        files[str(entry["name"])] = data
    return files


def test_virtio_built_in_leaves_only_busybox_and_init(tmp_path: Path) -> None:
    debian = build_guest(tmp_path / "debian", fake_cache(tmp_path / "debian-cache"))
    ubuntu = build_guest(tmp_path / "ubuntu", fake_ubuntu_cache(tmp_path / "ubuntu-cache"))
    assert ubuntu.modules == ()
    assert ubuntu.kernel_release == UBUNTU_RELEASE
    assert ubuntu.kernel.read_bytes() == b"MZ fake Ubuntu kernel " * 100
    assert ubuntu.packages == {f"linux-image-{UBUNTU_RELEASE}": "6.8.0-99.99",
                               MODULES: "6.8.0-99.99", "busybox-static": "1:1.36.1-6ubuntu3"}
    ours, theirs = initrd_files(ubuntu.initrd), initrd_files(debian.initrd)
    assert set(ours) == {name for name in theirs if name.split("/")[0] != "lib"}
    assert ours["bin/busybox"] == theirs["bin/busybox"]
    assert ours["init"] == init_script.render([]).encode()
    assert b"for m in ; do" in ours["init"]
    subprocess.run(["sh", "-n", "-c", ours["init"].decode()], check=True)
    assert ubuntu.key != debian.key


def test_virtio_as_modules_gives_the_debian_initramfs(tmp_path: Path) -> None:
    debian = build_guest(tmp_path / "debian", fake_cache(tmp_path / "debian-cache"))
    ubuntu = build_guest(tmp_path / "ubuntu",
                         fake_ubuntu_cache(tmp_path / "ubuntu-cache", builtin=()))
    assert ubuntu.modules == debian.modules == ("virtio_ring", "virtio", "virtio_blk",
                                                "virtio_pci")
    assert ubuntu.initrd.read_bytes() == debian.initrd.read_bytes()


def test_built_in_modules_are_skipped_and_the_rest_loaded(tmp_path: Path) -> None:
    cache = fake_ubuntu_cache(tmp_path / "cache", builtin=("virtio_ring", "virtio", "virtio_pci"))
    guest = build_guest(tmp_path / "out", cache)
    assert guest.modules == ("virtio_blk",)
    files = initrd_files(guest.initrd)
    assert [name for name in files if name.startswith("lib/modules/")] == [
        "lib/modules/virtio_blk.ko"]
    assert files["lib/modules/virtio_blk.ko"] == fake_module("virtio_blk",
                                                             ["virtio", "virtio_ring"])
    assert b"for m in virtio_blk; do" in files["init"]


def test_the_modules_package_is_the_kernels_own(tmp_path: Path) -> None:
    packages = debs.read_manifest(fake_ubuntu_cache(tmp_path / "cache"))
    kernel = packages[f"linux-image-{UBUNTU_RELEASE}"]
    assert module_packages(packages, kernel) == [packages[MODULES]]
    debian = debs.read_manifest(fake_cache(tmp_path / "debian"))
    assert module_packages(debian, debian["linux-image-6.1.0-99-amd64"]) == []
    parts = scan_kernel([kernel.path, packages[MODULES].path], ("virtio_blk",))
    assert parts.vmlinuz and parts.modules == {}
    assert {"virtio_blk", "virtio_pci", "virtio", "virtio_ring", "8250"} <= parts.builtin


def test_a_kernel_without_its_modules_package_is_refused(tmp_path: Path) -> None:
    cache = fake_ubuntu_cache(tmp_path / "cache", modules=False)
    with pytest.raises(GuestBuildError,
                       match=r"kernel 6\.8\.0-99-generic lacks the modules \['virtio_blk', "
                             r"'virtio_pci'\]"):
        build_guest(tmp_path / "out", cache)


def test_the_modules_package_is_checked_and_keys_the_build(tmp_path: Path) -> None:
    cache = fake_ubuntu_cache(tmp_path / "cache")
    first = build_guest(tmp_path / "out", cache)
    modules = debs.read_manifest(cache)[MODULES]
    modules.path.write_bytes(modules.path.read_bytes() + b"x")
    with pytest.raises(GuestBuildError, match="checksum differs"):
        build_guest(tmp_path / "other", cache)
    assert build_guest(tmp_path / "out", cache) == first  # the same inputs: reused, not read


@needs_zstd
def test_zstd_packages_and_modules_give_the_debian_initramfs(tmp_path: Path) -> None:
    debian = build_guest(tmp_path / "debian", fake_cache(tmp_path / "debian-cache"))
    cache = fake_ubuntu_cache(tmp_path / "ubuntu-cache", builtin=(), compression="zst")
    assert b"data.tar.zst" in (cache / f"{MODULES}_6.8.0-99.99_amd64.deb").read_bytes()
    ubuntu = build_guest(tmp_path / "ubuntu", cache)
    assert ubuntu.initrd.read_bytes() == debian.initrd.read_bytes()
    assert build_guest(tmp_path / "built-in", fake_ubuntu_cache(
        tmp_path / "built-in-cache", compression="zst")).modules == ()


@needs_zstd
def test_zstd_members_are_read_through_dpkg_deb(tmp_path: Path) -> None:
    deb = fake_deb(tmp_path / "x.deb", {"usr/bin/busybox": b"bb", "usr/share/doc/x": b"doc"},
                   compression="zst")
    assert debs.extract(deb, lambda name: name.endswith("busybox")) == {"usr/bin/busybox": b"bb"}
    first = next(iter(debs.members(deb)))[0]  # stopping early ends dpkg-deb quietly
    assert not first.name.startswith("./")
    broken = tmp_path / "broken.deb"
    data = deb.read_bytes()
    broken.write_bytes(data[:-40] + b"\0" * 40)
    with pytest.raises(GuestBuildError, match=r"broken\.deb: (dpkg-deb|cannot read)"):
        debs.extract(broken, lambda name: True)


@needs_zstd
def test_zstd_modules_are_decompressed_by_the_zstd_command(
        monkeypatch: pytest.MonkeyPatch) -> None:
    module = fake_module("virtio_blk", ["virtio"])
    compressed = zstd(module)
    assert kmod.module_name("lib/modules/x/kernel/virtio_blk.ko.zst") == "virtio_blk"
    assert kmod.decompress("virtio_blk.ko.zst", compressed) == module
    with pytest.raises(GuestBuildError, match=r"virtio_blk\.ko\.zst: cannot decompress"):
        kmod.decompress("virtio_blk.ko.zst", b"not zstd")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(GuestBuildError, match=r"the zstd command.*apt-get install zstd"):
        kmod.decompress("virtio_blk.ko.zst", compressed)


def test_dpkg_deb_that_cannot_be_run_is_named(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    deb = tmp_path / "x.deb"
    deb.write_bytes(b"!<arch>\n" + f"{'data.tar.zst':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{4:<10}`\n"
                    .encode() + b"zstd")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(GuestBuildError, match="compressed with zstd, and dpkg-deb"):
        debs.extract(deb, lambda name: True)
