"""The undo journal's second place, on the cloud's side, so that the faults a dead drill host
left are found and undone from any machine with the inventory.

* ``ssh`` (the default with a ``coordination`` key): ``journal/<cloud>/journal.jsonl`` under
  the inventory's ``coordination.directory`` on the first controller, the same JSON lines as the
  local journal, appended under ``flock`` and synced to disk before the append returns.
* ``swift``: one object per record in the inventory's ``coordination.container``, named
  ``<cloud>/<time>-<random>.json`` so that listing them gives them in order.

Every failure is a :class:`~stackdrill.engine.journal.JournalMirrorError` of one line naming
the place: an ``armed`` record the mirror cannot take refuses its injection.
"""

from __future__ import annotations

import shlex
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stackdrill.engine.cloud_side import Shell, cloud_side, reason, run_quietly
from stackdrill.engine.journal import JournalMirror, JournalMirrorError
from stackdrill.engine.lock_holder import lock_name, lock_stem
from stackdrill.inventory.model import Inventory

if TYPE_CHECKING:
    from stackdrill.cloud.access import CloudAccess

__all__ = ["SshMirror", "SwiftMirror", "mirror_for"]

_BATCH = 64 * 1024  # bytes of records per remote command (a command line is at most 128 KiB)
_TIMEOUT = 30.0


class SshMirror:
    """The mirror as a JSON-lines file on the first controller."""

    def __init__(self, shell: Shell, path: str) -> None:
        self.shell = shell
        self.path = path
        self.where = f"{shell.name}:{path}"

    def _fail(self, what: str, detail: str) -> JournalMirrorError:
        return JournalMirrorError(f"journal mirror {self.where}: {what}: {detail}")

    def _prologue(self) -> str:
        path = shlex.quote(self.path)
        directory = shlex.quote(self.path.rsplit("/", 1)[0] or "/")
        return f"set -e; mkdir -p {directory}; exec 9>>{path}; "

    def check(self) -> None:
        """The directory can be made, the file written, and ``flock`` is there."""
        result = run_quietly(self.shell, self._prologue() + "test -w "
                             f"{shlex.quote(self.path)}; command -v flock >/dev/null || "
                             "{ echo 'flock(1) is not installed' >&2; exit 1; }", _TIMEOUT)
        if not result.ok:
            raise self._fail("cannot write", reason(result))

    def append(self, lines: bytes) -> None:
        """Append whole lines under ``flock``: a torn last line left by a crash in mid-write is
        cut first; the file is synced before the command returns."""
        path = shlex.quote(self.path)
        repair = (f"if [ -s {path} ] && [ -n \"$(tail -c 1 {path})\" ]; then "
                  f"truncate -s $(( $(wc -c < {path}) - $(tail -n 1 {path} | wc -c) )) {path}; "
                  f"fi; ")
        for batch in _batches(lines):
            data = shlex.quote(batch.decode("utf-8"))
            result = run_quietly(self.shell, self._prologue() + "flock -w 20 9; " + repair +
                                 f"printf '%s' {data} >> {path}; sync {path} 2>/dev/null || "
                                 f"sync", _TIMEOUT)
            if not result.ok:
                raise self._fail("cannot write", reason(result))

    def read(self) -> bytes:
        path = shlex.quote(self.path)
        result = run_quietly(self.shell, f"if [ -e {path} ]; then flock -s {path} cat {path}; "
                                         f"fi", _TIMEOUT)
        if not result.ok:
            raise self._fail("cannot read", reason(result))
        return result.stdout.encode("utf-8")


def _batches(lines: bytes) -> list[bytes]:
    """Whole lines, grouped into batches of at most :data:`_BATCH` bytes (a longer line alone)."""
    batches: list[bytes] = []
    current = b""
    for line in lines.splitlines(keepends=True):
        if current and len(current) + len(line) > _BATCH:
            batches.append(current)
            current = b""
        current += line
    return [*batches, current] if current else batches


class SwiftMirror:
    """The mirror as objects of a Swift container, one per record."""

    def __init__(self, access: CloudAccess, container: str, prefix: str) -> None:
        self.access = access
        self.container = container
        self.prefix = prefix
        self.where = f"Swift {container}/{prefix}/"

    def _call(self, what: str, action: Callable[[Any], Any]) -> Any:
        from keystoneauth1.exceptions import ClientException
        from openstack.exceptions import SDKException

        from stackdrill.cloud.access import CloudError

        try:
            return action(self.access.connection().object_store)
        except (SDKException, ClientException, CloudError, OSError) as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise JournalMirrorError(f"journal mirror {self.where}: {what}: "
                                     f"{self.access.redactor(detail)}") from None

    def check(self) -> None:
        self._call("cannot write", lambda store: store.create_container(name=self.container))

    def append(self, lines: bytes) -> None:
        for line in lines.splitlines(keepends=True):
            name = f"{self.prefix}/{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
            self._call("cannot write", self._upload(name, line))

    def _upload(self, name: str, data: bytes) -> Callable[[Any], Any]:
        return lambda store: store.upload_object(container=self.container, name=name,
                                                 data=data)

    def _download(self, name: str) -> Callable[[Any], Any]:
        return lambda store: store.download_object(name, container=self.container)

    def read(self) -> bytes:
        names = self._call("cannot read", lambda store: sorted(
            item.name for item in store.objects(self.container, prefix=self.prefix + "/")))
        chunks: list[bytes] = [bytes(self._call("cannot read", self._download(name)))
                               for name in names]
        return b"".join(chunk if chunk.endswith(b"\n") else chunk + b"\n" for chunk in chunks)


def mirror_for(inventory: Inventory, controller: Callable[[], Shell],
               access: Callable[[], CloudAccess | None]) -> JournalMirror | None:
    """The mirror the inventory names (``coordination.journal``); None for ``none``."""
    spec = inventory.coordination
    stem = lock_stem(lock_name(inventory))
    if spec.journal == "ssh":
        return SshMirror(controller(), cloud_side(inventory, stem).journal_file)
    if spec.journal == "swift":
        found = access()
        if found is None:
            raise JournalMirrorError("journal mirror swift: no cloud to reach Swift with (the "
                                     "inventory names no cloud, and neither does OS_CLOUD)")
        return SwiftMirror(found, spec.container, stem)
    return None
