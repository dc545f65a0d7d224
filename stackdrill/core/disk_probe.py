"""Whether the drill host can write where a run must, asked before anything is injected.

A run writes its undo journal before every injection and a history record after every drill.
On a full disk (or a read-only file system, or a directory it may not write) the first of
those fails only once a fault is about to be injected, or, for the history, once a drill has
run and cannot be recorded. :func:`probe_directory` asks beforehand: it writes a file of
:data:`PROBE_BYTES` in the directory, syncs it to the disk (a file system that delays
allocation reports a full disk only then) and removes it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from stackdrill.core.errors import HarnessError

__all__ = ["PROBE_BYTES", "NotWritable", "probe_directory"]

#: What the probe writes: more than a journal record or a drill's history record takes (a
#: history record keeps at most 200 commands of 4000 characters each).
PROBE_BYTES = 1 << 20
_CHUNK = b"\0" * (64 * 1024)


class NotWritable(HarnessError):
    """A directory the run writes to cannot take a write; one line naming it and why."""


def probe_directory(path: Path, what: str, size: int = PROBE_BYTES) -> None:
    """Make sure ``path``'s directory (created when missing) takes ``size`` bytes, synced,
    and that ``path`` itself, when it exists, can be appended to. Raises
    :class:`NotWritable`: ``journal /var/lib/x/journal.jsonl: cannot be written: No space
    left on device (a probe of 1 MiB in /var/lib/x)``. ``what`` names the file's use."""
    directory = path.parent

    def refused(exc: OSError) -> NotWritable:
        why = exc.strerror or str(exc) or type(exc).__name__
        return NotWritable(f"{what} {path}: cannot be written: {why} "
                           f"(a probe of {_size(size)} in {directory})")

    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".stackdrill-probe-", dir=directory)
    except OSError as exc:
        raise refused(exc) from exc
    try:
        _fill(fd, size)
        os.fsync(fd)
    except OSError as exc:
        raise refused(exc) from exc
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name)
    if path.exists():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
        except OSError as exc:
            raise NotWritable(f"{what} {path}: cannot be appended to: "
                              f"{exc.strerror or exc}") from exc


def _fill(fd: int, size: int) -> None:
    """Write ``size`` bytes to ``fd``: a short write goes on where it stopped."""
    left = size
    while left > 0:
        left -= os.write(fd, _CHUNK[: min(left, len(_CHUNK))])


def _size(size: int) -> str:
    return f"{size >> 20} MiB" if size >= 1 << 20 and size % (1 << 20) == 0 else f"{size} bytes"
