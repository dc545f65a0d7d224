"""Builds the canary guest from the cached packages: the kernel (``vmlinuz``) and an initramfs of
busybox-static, the virtio modules the guest needs and the heartbeat's ``/init``.

The kernel comes from Debian's ``linux-image-<release>`` package, which holds ``vmlinuz`` and
its modules, or from Ubuntu's ``linux-image-<release>`` (``vmlinuz``) with
``linux-modules-<release>`` (the modules and ``modules.builtin``): each is read from whichever
cached package holds it. A module the kernel has built in (``modules.builtin``) is not put in
the initramfs: Ubuntu's generic kernel builds the virtio drivers in, Debian's builds them as
modules.

Nothing is downloaded here. The output is deterministic: the same packages and the same
``/init`` give the same bytes, so the files' checksums name the guest (and can name its Glance
images). A build whose inputs match the previous one's (``guest.json``) is reused as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackdrill.cloud import heartbeat
from stackdrill.lab.guest import debs, init_script, kmod
from stackdrill.lab.guest.cpio import Entry, initramfs
from stackdrill.lab.guest.debs import CachedPackage, GuestBuildError
from stackdrill.lab.prerequisites import guest_packages_hint

GUEST_MODULES = ("virtio_pci", "virtio_blk")
"""What the guest loads: the PCI transport and the disk driver (with what they depend on). The
console is the 8250 serial port (``ttyS0``), built into Debian's and Ubuntu's kernels."""
COMMAND_LINE = "console=ttyS0 panic=-1 quiet"
"""The kernel's command line; ``panic=-1`` reboots at once if ``/init`` ever dies."""
BUSYBOX_PACKAGE = "busybox-static"
MANIFEST = "guest.json"
_VMLINUZ = re.compile(r"boot/vmlinuz-(?P<release>.+)")
_BUSYBOX_PATHS = ("bin/busybox", "usr/bin/busybox")
_MODULES_PREFIX = "linux-modules-"
"""Ubuntu's package of a kernel's modules: ``linux-modules-<release>`` beside
``linux-image-<release>``."""
_MAX_PASSES = 3


@dataclass
class KernelParts:
    """What the guest takes from the kernel's packages."""

    release: str = ""
    vmlinuz: bytes = b""
    modules: dict[str, bytes] = field(default_factory=dict)
    deps: dict[str, list[str]] = field(default_factory=dict)
    builtin: set[str] = field(default_factory=set)
    available: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class GuestImage:
    """A built guest: its kernel and initramfs files, their checksums and what they hold."""

    kernel: Path
    initrd: Path
    kernel_sha256: str
    initrd_sha256: str
    kernel_release: str
    modules: tuple[str, ...]
    packages: dict[str, str]
    command_line: str
    key: str

    def describe(self) -> dict[str, Any]:
        return {"key": self.key, "kernel_release": self.kernel_release,
                "kernel": {"file": self.kernel.name, "sha256": self.kernel_sha256,
                           "bytes": self.kernel.stat().st_size},
                "initrd": {"file": self.initrd.name, "sha256": self.initrd_sha256,
                           "bytes": self.initrd.stat().st_size},
                "modules": list(self.modules), "packages": self.packages,
                "command_line": self.command_line}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def kernel_package(packages: dict[str, CachedPackage]) -> CachedPackage:
    """The versioned ``linux-image-<release>`` package (Debian's ``linux-image-6.1.0-N-amd64``,
    Ubuntu's ``linux-image-6.8.0-N-generic``), which holds the kernel."""
    found = [p for name, p in sorted(packages.items()) if re.match(r"linux-image-\d", name)]
    if len(found) != 1:
        raise GuestBuildError(f"expected one versioned linux-image package in the guest cache, "
                              f"found {[p.name for p in found]}; {guest_packages_hint()}")
    return found[0]


def module_packages(packages: dict[str, CachedPackage],
                    kernel: CachedPackage) -> list[CachedPackage]:
    """The cached ``linux-modules-<release>`` package of ``kernel``'s release (Ubuntu's), if
    any: none for Debian, whose kernel package holds its modules."""
    name = _MODULES_PREFIX + kernel.name.removeprefix("linux-image-")
    return [packages[name]] if name in packages else []


def _read(tar: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(info)
    return b"" if handle is None else handle.read()


def _one_pass(deb: Path, parts: KernelParts, wanted: set[str]) -> None:
    """Reads the package once, keeping the kernel, the list of built-in modules and the wanted
    modules; ``wanted`` grows by the dependencies of each module kept."""
    for info, tar in debs.members(deb):
        name = info.name
        if not info.isfile():
            continue
        if (match := _VMLINUZ.fullmatch(name)) and not parts.vmlinuz:
            parts.release, parts.vmlinuz = match["release"], _read(tar, info)
        elif name.endswith("/modules.builtin"):
            parts.builtin = {kmod.module_name(line) or "" for line in
                             _read(tar, info).decode("utf-8", errors="replace").splitlines()}
        elif "/kernel/" in name and (module := kmod.module_name(name)) is not None:
            parts.available.add(module)
            if module in wanted and module not in parts.modules and module not in parts.builtin:
                data = kmod.decompress(name, _read(tar, info))
                parts.modules[module] = data
                parts.deps[module] = kmod.depends(data)
                wanted.update(parts.deps[module])


def scan_kernel(packages: Path | Sequence[Path], roots: tuple[str, ...]) -> KernelParts:
    """The kernel and the modules ``roots`` need, from whichever of ``packages`` holds each;
    modules the kernel has built in are left out. A dependency met before the module that needs
    it in the archives costs one more pass over them."""
    paths = [packages] if isinstance(packages, Path) else list(packages)
    named = ", ".join(str(path) for path in paths)
    parts = KernelParts()
    wanted = set(roots)
    for _ in range(_MAX_PASSES):
        for path in paths:
            _one_pass(path, parts, wanted)
        missing = wanted - parts.modules.keys() - parts.builtin
        if not missing or missing - parts.available:
            break
    if not parts.vmlinuz:
        raise GuestBuildError(f"{named}: holds no boot/vmlinuz-*")
    if lacking := sorted(wanted - parts.modules.keys() - parts.builtin):
        raise GuestBuildError(f"{named}: kernel {parts.release} lacks the modules {lacking}")
    return parts


def initramfs_entries(busybox: bytes, modules: dict[str, bytes], order: list[str],
                      init: str) -> list[Entry]:
    """The initramfs's files: ``/init``, busybox (its applets are linked at boot), the modules
    in ``/lib/modules`` and ``/dev/console`` for the kernel to open before ``/init`` runs."""
    return [Entry.file("init", init.encode(), 0o755),
            Entry.file("bin/busybox", busybox, 0o755),
            Entry.symlink("bin/sh", "busybox"),
            Entry.char_device("dev/console", 5, 1),
            Entry.directory("proc"), Entry.directory("sys"), Entry.directory("run"),
            *(Entry.file(f"lib/modules/{name}.ko", modules[name]) for name in order)]


def _busybox(package: CachedPackage) -> bytes:
    found = debs.extract(package.path, lambda name: name in _BUSYBOX_PATHS)
    if not found:
        raise GuestBuildError(f"{package.path}: holds no bin/busybox")
    return next(iter(found.values()))


def _key(packages: list[CachedPackage]) -> str:
    inputs = {"packages": {p.name: p.sha256 for p in packages},
              "init": init_script.render(GUEST_MODULES), "modules": GUEST_MODULES,
              "format": heartbeat.FORMAT_VERSION, "command_line": COMMAND_LINE}
    return _sha256(json.dumps(inputs, sort_keys=True).encode())


def _write(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def _reuse(out: Path, key: str) -> GuestImage | None:
    try:
        built = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        kernel, initrd = out / built["kernel"]["file"], out / built["initrd"]["file"]
        if (built["key"] != key or _sha256(kernel.read_bytes()) != built["kernel"]["sha256"]
                or _sha256(initrd.read_bytes()) != built["initrd"]["sha256"]):
            return None
        return GuestImage(kernel, initrd, built["kernel"]["sha256"], built["initrd"]["sha256"],
                          built["kernel_release"], tuple(built["modules"]), built["packages"],
                          built["command_line"], key)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def build_guest(out: Path, cache: Path | None = None) -> GuestImage:
    """Builds (or reuses) the guest in ``out``: ``vmlinuz``, ``initrd.gz`` and ``guest.json``."""
    packages = debs.read_manifest(cache or debs.cache_dir())
    if BUSYBOX_PACKAGE not in packages:
        raise GuestBuildError(f"no {BUSYBOX_PACKAGE} in the guest cache; "
                              f"{guest_packages_hint()}")
    kernel_pkg, busybox_pkg = kernel_package(packages), packages[BUSYBOX_PACKAGE]
    kernel_pkgs = [kernel_pkg, *module_packages(packages, kernel_pkg)]
    inputs = [*kernel_pkgs, busybox_pkg]
    key = _key(inputs)
    if (reused := _reuse(out, key)) is not None:
        return reused
    for package in inputs:
        debs.verify(package)
    parts = scan_kernel([p.path for p in kernel_pkgs], GUEST_MODULES)
    order = kmod.load_order(GUEST_MODULES, parts.deps)
    image = initramfs(initramfs_entries(_busybox(busybox_pkg), parts.modules, order,
                                        init_script.render(order)))
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "vmlinuz", parts.vmlinuz)
    _write(out / "initrd.gz", image)
    guest = GuestImage(out / "vmlinuz", out / "initrd.gz", _sha256(parts.vmlinuz),
                       _sha256(image), parts.release, tuple(order),
                       {p.name: p.version for p in inputs}, COMMAND_LINE, key)
    _write(out / MANIFEST, json.dumps(guest.describe(), indent=2, sort_keys=True).encode())
    return guest
