"""The FUSE operations of the lab's EIO filesystem, called directly on a backing directory (no
mount): images pass reads and writes through, control files switch an image to EIO and back."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import pytest

fuse = pytest.importorskip("fuse")

from stackdrill.lab.cloud.swift_eiofs import EioImages, _operations  # noqa: E402

IMAGE = "/images/storage1-sdb.img"
CONTROL = "/control/storage1/sdb"


@pytest.fixture
def ops(tmp_path: Path) -> Any:
    (tmp_path / "storage1-sdb.img").write_bytes(b"0123456789")
    (tmp_path / "storage2-sdc.img").write_bytes(b"")
    return _operations(EioImages(str(tmp_path), [("storage1", "sdb"), ("storage2", "sdc")]))


def _errno(call: Any, *args: Any) -> int:
    with pytest.raises(fuse.FuseOSError) as caught:
        call(*args)
    return int(caught.value.errno)


def test_the_tree_lists_images_and_control_files(ops: Any) -> None:
    assert isinstance(ops, fuse.Operations)
    assert ops.readdir("/", None) == [".", "..", "images", "control"]
    assert ops.readdir("/images", None) == [".", "..", "storage1-sdb.img", "storage2-sdc.img"]
    assert ops.readdir("/control", None) == [".", "..", "storage1", "storage2"]
    assert ops.readdir("/control/storage1", None) == [".", "..", "sdb"]
    assert ops.readdir("/nowhere", None) == [".", ".."]


def test_getattr_of_directories_images_control_files_and_nothing(ops: Any) -> None:
    directory = ops.getattr("/control")
    assert directory["st_mode"] == stat.S_IFDIR | 0o755 and directory["st_nlink"] == 2
    image = ops.getattr(IMAGE)
    assert image["st_size"] == 10 and stat.S_ISREG(image["st_mode"])
    assert set(image) == {"st_mode", "st_nlink", "st_size", "st_ctime", "st_mtime",
                          "st_atime", "st_uid", "st_gid"}
    control = ops.getattr(CONTROL)
    assert control["st_mode"] == stat.S_IFREG | 0o644 and control["st_size"] == len(b"ok\n")
    assert _errno(ops.getattr, "/images/other.img") == errno.ENOENT


def test_reads_and_writes_pass_through_until_the_image_fails(ops: Any) -> None:
    fh = ops.open(IMAGE, os.O_RDWR | os.O_CREAT)
    try:
        assert ops.read(IMAGE, 4, 2, fh) == b"2345"
        assert ops.write(IMAGE, b"ab", 0, fh) == 2
        ops.fsync(IMAGE, 0, fh)
        assert ops.flush(IMAGE, fh) is None
        assert ops.read(CONTROL, 10, 0, 0) == b"ok\n"
        assert ops.write(CONTROL, b" EIO\n", 0, 0) == 5
        assert ops.read(CONTROL, 2, 1, 0) == b"io"
        assert _errno(ops.read, IMAGE, 4, 0, fh) == errno.EIO
        assert _errno(ops.write, IMAGE, b"x", 0, fh) == errno.EIO
        assert _errno(ops.fsync, IMAGE, 0, fh) == errno.EIO
        assert _errno(ops.write, CONTROL, b"broken", 0, 0) == errno.EINVAL
        ops.write(CONTROL, b"ok", 0, 0)
        assert ops.read(IMAGE, 3, 0, fh) == b"ab2"
    finally:
        ops.release(IMAGE, fh)
    with pytest.raises(OSError):
        os.fstat(fh)


def test_truncate_open_and_unknown_paths(ops: Any, tmp_path: Path) -> None:
    ops.truncate(IMAGE, 3)
    assert (tmp_path / "storage1-sdb.img").read_bytes() == b"012"
    ops.truncate("/images/other.img", 0)
    ops.fsync("/control", 0, 0)
    ops.release(CONTROL, 0)
    assert ops.open(CONTROL, os.O_RDONLY) == 0
    assert _errno(ops.open, "/images/other.img", os.O_RDONLY) == errno.ENOENT
    assert _errno(ops.read, "/images/other.img", 1, 0, 0) == errno.ENOENT
    assert _errno(ops.write, "/images/other.img", b"x", 0, 0) == errno.ENOENT
