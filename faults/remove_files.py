"""Remove files a service needs (a libvirt domain's XML, a service's configuration), keeping a
copy on the same host so undo can put back whatever is still missing.

With ``recovery_recreates``, the scenario says its recovery re-creates the files itself (a hard
reboot writes the domain's XML again): once the verified state is back, the drill looks for
each file again and fails, naming the missing ones, before the undo would put them back."""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Fault, FaultError
from stackdrill.core.params import Param, boolean

BACKUP_ROOT = "/var/lib/stackdrill/removed"


class RemoveFiles(Fault):
    name = "remove_files"
    description = ("Remove the files matching a shell glob; a copy is kept on the host under "
                   f"{BACKUP_ROOT} and restored by undo where the file is still missing")
    params: ClassVar[Mapping[str, Param]] = {
        "path": Param("absolute path or shell glob of the files to remove"),
        "recovery_recreates": Param("the recovery re-creates the files: the drill fails if any "
                                    "is still missing once the verified state is back",
                                    boolean, False),
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

    def _missing(self, files: list[str]) -> list[str]:
        """The files that do not exist on the host now (one command)."""
        quoted = " ".join(shlex.quote(f) for f in files)
        result = self.target.run(f"for f in {quoted}; do [ -e \"$f\" ] || "
                                 f"printf '%s\\n' \"$f\"; done", record=False)
        if not result.ok:
            raise FaultError(f"{self.target.name}: cannot look for the removed files: "
                             f"{(result.stderr or result.stdout).strip()[:200]}")
        missing = set(result.stdout.splitlines())
        return [f for f in files if f in missing]

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """None of the files that matched when the fault was prepared exists any more."""
        try:
            if self._missing(facts["files"]) != list(facts["files"]):
                return None
        except FaultError:
            return None
        return f"removed from {self.target.name}: {', '.join(facts['files'])}"

    def unrepaired(self, facts: Mapping[str, Any]) -> str | None:
        """With ``recovery_recreates``: the files the recovery did not re-create, on one line."""
        if not self.values["recovery_recreates"]:
            return None
        missing = self._missing(facts["files"])
        if not missing:
            return None
        return f"{self.target.name}: not re-created: {', '.join(missing)}"

    def undo(self, facts: Mapping[str, Any]) -> None:
        """Put back, from the copy, each file still missing, then delete the copy."""
        backup = shlex.quote(facts["backup"])
        restore = " && ".join(
            f"{{ [ -e {shlex.quote(f)} ] || {{ tar -xPf {backup}/files.tar {shlex.quote(f)} && "
            f"echo restored {shlex.quote(f)}; }}; }}"
            for f in facts["files"])
        self.target.run(f"test -d {backup} || exit 0; {restore} && rm -rf {backup}",
                        check=True)
