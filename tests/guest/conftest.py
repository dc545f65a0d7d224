"""Guest tests boot the canary guest under plain qemu (TCG) on this machine, outside any cloud
and without the lab. They run only where ``qemu-system-x86_64`` and the guest's packages
(downloaded by ``scripts/setup``) exist, and are skipped elsewhere. Each qemu costs one CPU for
a few seconds, so the whole directory boots the guest three times at most, each killed within
:data:`BOOT_SECONDS`."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackdrill.lab.guest import debs, qemu
from stackdrill.lab.guest.builder import GuestImage, build_guest

BOOT_SECONDS = 15.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/guest/" in item.nodeid:
            item.add_marker(pytest.mark.guest)


@pytest.fixture(scope="session")
def guest(tmp_path_factory: pytest.TempPathFactory) -> GuestImage:
    if not qemu.available():
        pytest.skip(f"{qemu.QEMU} is not installed")
    try:
        debs.read_manifest(debs.cache_dir())
    except debs.GuestBuildError as exc:
        pytest.skip(str(exc))
    return build_guest(tmp_path_factory.mktemp("guest"))


@pytest.fixture
def blank_disk(tmp_path: Path) -> Path:
    """A 2 MiB raw disk of zeros: a header and 511 slots of ring log."""
    disk = tmp_path / "disk.raw"
    with disk.open("wb") as handle:
        handle.truncate(2 << 20)
    return disk
