"""Remove files a service needs (a libvirt domain's XML, a service's configuration), keeping a
copy on the same host so undo can put back whatever is still missing."""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.fault import Fault, FaultError
from stackdrill.params import Param

BACKUP_ROOT = "/var/lib/stackdrill/removed"


class RemoveFiles(Fault):
    name = "remove_files"
    description = ("Remove the files matching a shell glob; a copy is kept on the host under "
                   f"{BACKUP_ROOT} and restored by undo where the file is still missing")
    params: ClassVar[Mapping[str, Param]] = {
        "path": Param("absolute path or shell glob of the files to remove"),
    }

    def plan(self) -> list[str]:
        return [f"rm -f {self.values['path']}"]

    def prepare(self) -> dict[str, Any]:
        pattern = self.values["path"]
        if not pattern.startswith("/"):
            raise FaultError(f"remove_files: {pattern!r} is not an absolute path")
        listing = self.target.run(f"ls -1d {pattern} 2>/dev/null", record=False)
        files = [line for line in listing.stdout.splitlines() if line.strip()]
        if not files:
            raise FaultError(f"{self.target.name}: nothing matches {pattern}")
        digest = hashlib.sha256(pattern.encode()).hexdigest()[:12]
        return {"files": files, "backup": f"{BACKUP_ROOT}/{digest}"}

    def inject(self, facts: Mapping[str, Any]) -> None:
        backup = shlex.quote(facts["backup"])
        files = " ".join(shlex.quote(f) for f in facts["files"])
        self.target.run(f"mkdir -p {backup} && tar -cPf {backup}/files.tar {files} && "
                        f"rm -f {files}", check=True)

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        files = " ".join(shlex.quote(f) for f in facts["files"])
        result = self.target.run(f"ls -1d {files} 2>/dev/null", record=False)
        if result.stdout.strip():
            return None
        return f"removed from {self.target.name}: {', '.join(facts['files'])}"

    def undo(self, facts: Mapping[str, Any]) -> None:
        backup = shlex.quote(facts["backup"])
        restore = " ; ".join(
            f"[ -e {shlex.quote(f)} ] || tar -xPf {backup}/files.tar {shlex.quote(f)}"
            for f in facts["files"])
        self.target.run(f"test -d {backup} || exit 0; {restore}; rm -rf {backup}", check=True)
