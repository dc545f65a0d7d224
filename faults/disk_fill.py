"""Fill the filesystem behind a path (``/var/lib/nova/instances``, say) to a given percentage, as a
runaway log or image cache would: ``fallocate`` one file of the size that brings the
filesystem's use, as ``df`` counts it, to the percentage asked. The file's name carries the
injection's tag; the undo deletes exactly that file, and nothing else.

Confirmed by ``df`` read again after the injection: the filesystem's use at or above the
percentage asked, and the file there with the size allocated.
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Fault, FaultError
from stackdrill.core.errors import InvalidValue
from stackdrill.core.params import Param
from stackdrill.hostkit.filesystems import Usage, absolute_path, df_command, parse_df

__all__ = ["FILE_PREFIX", "DiskFill", "fill_bytes", "parse_df", "percent"]

FILE_PREFIX = ".stackdrill-disk-fill-"


def percent(text: str) -> float:
    value = float(text.strip().removesuffix("%").strip())
    if not 0 < value <= 100:
        raise InvalidValue(f"expected a percentage above 0 and at most 100, got {text!r}")
    return value


def fill_bytes(usage: Usage, wanted: float) -> int:
    """How many bytes to allocate so that use reaches ``wanted`` percent; 0 when it already
    does."""
    total = usage.used + usage.available
    target = int(total * wanted / 100 + 0.999999)
    return max(0, min(target - usage.used, usage.available))


class DiskFill(Fault):
    name = "disk_fill"
    description = ("fill the filesystem behind a path to a percentage with one fallocated "
                   "file; confirmed by df; the undo deletes exactly that file")
    params: ClassVar[Mapping[str, Param]] = {
        "path": Param("a directory on the filesystem to fill", absolute_path),
        "percent": Param("the use df must show, above 0 and at most 100", percent),
    }

    def _usage(self, path: str) -> Usage | None:
        result = self.target.run(df_command(path), record=False)
        return parse_df(result.stdout) if result.ok else None

    def plan(self) -> list[str]:
        path = self.values["path"]
        return [df_command(path),
                f"fallocate -l <bytes to reach {self.values['percent']:g} %> "
                f"{shlex.quote(path)}/{FILE_PREFIX}<id>"]

    def prepare(self) -> dict[str, Any]:
        path = self.values["path"]
        usage = self._usage(path)
        if usage is None:
            raise FaultError(f"{self.target.name}: cannot read the filesystem behind {path} "
                             f"({df_command(path)})")
        size = fill_bytes(usage, self.values["percent"])
        if size <= 0:
            raise FaultError(f"{self.target.name}: {usage.mount} is {usage.percent:.1f} % used "
                             f"already; nothing to fill to {self.values['percent']:g} %")
        file = f"{path.rstrip('/')}/{FILE_PREFIX}{secrets.token_hex(4)}"
        return {"path": path, "file": file, "bytes": size, "mount": usage.mount,
                "percent_before": round(usage.percent, 2), "percent": self.values["percent"]}

    def inject(self, facts: Mapping[str, Any]) -> None:
        file = shlex.quote(facts["file"])
        self.target.run(f"fallocate -l {int(facts['bytes'])} {file} || "
                        f"{{ rc=$?; rm -f {file}; exit $rc; }}", check=True, timeout=300)

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """``df`` shows the filesystem used at or above the percentage asked, and the
        fallocated file is there."""
        usage = self._usage(facts["path"])
        size = self.target.run(f"stat -c %s {shlex.quote(facts['file'])}", record=False)
        if usage is None or not size.ok or usage.percent + 0.05 < float(facts["percent"]):
            return None
        return (f"{self.target.name}: df shows {usage.mount} {usage.percent:.1f} % used "
                f"({usage.available} bytes free; {facts['percent_before']:.1f} % before), with "
                f"{facts['file']} of {size.stdout.strip()} bytes")

    def undo(self, facts: Mapping[str, Any]) -> None:
        """Delete exactly the fallocated file; fails if it is still there."""
        file = shlex.quote(facts["file"])
        if not self.target.run(f"rm -f -- {file} && test ! -e {file}").ok:
            raise FaultError(f"{self.target.name}: {facts['file']} is still there after the undo")
