"""Take a share of a host's available memory with ``stress-ng --vm``: a leaking process, a
neighbour that grew, a host pushed toward swap and the OOM killer.

One stress-ng VM worker maps and touches the bytes asked, then holds them (``--vm-keep
--vm-hang 0``: no remapping, no CPU spent once the pages are in). The bytes are ``percent`` of
the memory the host reports available (``MemAvailable``) when the fault is prepared; at most
90 % is accepted, so that the fault is pressure, not an OOM drill (stress-ng also marks its
workers first in line for the OOM killer). stress-ng runs in a session of its own, tagged by the
injection (:mod:`stackdrill.hostkit.stress`), and ends by itself after ``max_seconds`` if
nothing ends it first.

Confirmed by observation: the worker is there and holds, resident, at least 90 % of the bytes
asked; the evidence has the host's MemAvailable now and before. The undo sends SIGTERM to every
process of the tagged session, SIGKILL to any left, and reads the host again: none may be left.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Fault
from stackdrill.core.params import Param
from stackdrill.hostkit import stress
from stackdrill.hostkit.stress import StressFailed, StressRun

#: The largest share of the available memory a drill may take.
HIGHEST = 90.0
#: The share of the bytes asked that must be resident to confirm.
RESIDENT_AT_LEAST = 0.9
#: The least a worker is asked to hold (stress-ng's own floor is 4 KiB a page).
FLOOR = 16 << 20

MIB = 1 << 20


def percent(text: str) -> float:
    return stress.share(text, HIGHEST)


def _mib(size: float) -> str:
    return f"{size / MIB:.0f} MiB"


class MemoryPressure(Fault):
    name = "memory_pressure"
    description = ("hold a share of the host's available memory with stress-ng --vm; "
                   "confirmed by the worker resident with the bytes asked; the undo ends "
                   "exactly the injection's tagged processes")
    params: ClassVar[Mapping[str, Param]] = {
        "percent": Param("the share of the host's available memory (MemAvailable) to hold, "
                         "above 0 and at most 90", percent),
        "max_seconds": Param("the pressure ends by itself after this long, 10 to 86400",
                             stress.max_seconds, "3600"),
    }

    def __init__(self, target: Any, raw_params: Mapping[str, str]) -> None:
        super().__init__(target, raw_params)
        self.run = StressRun(target)

    @staticmethod
    def _arguments(size: int) -> list[str]:
        return ["--vm", "1", "--vm-bytes", str(int(size)), "--vm-keep", "--vm-hang", "0"]

    def plan(self) -> list[str]:
        share = f"<{self.values['percent']:g} % of MemAvailable>"
        return [stress.PRESENT, stress.MEMINFO,
                stress.launch_command("stackdrill-memory-pressure-<id>",
                                      ["--vm", "1", "--vm-bytes", share, "--vm-keep",
                                       "--vm-hang", "0"], self.values["max_seconds"])]

    def prepare(self) -> dict[str, Any]:
        available_kb, _ = self.run.require()
        size = int(available_kb * 1024 * float(self.values["percent"]) / 100)
        if size < FLOOR:
            raise StressFailed(f"{self.target.name}: {self.values['percent']:g} % of the "
                               f"{_mib(available_kb * 1024)} available is under "
                               f"{_mib(FLOOR)}; nothing worth holding")
        return {"tag": self.run.new_tag("memory-pressure"), "bytes": size,
                "percent": self.values["percent"], "available_before_kb": available_kb,
                "max_seconds": self.values["max_seconds"]}

    def inject(self, facts: Mapping[str, Any]) -> None:
        self.run.start(facts["tag"], self._arguments(int(facts["bytes"])),
                       int(facts["max_seconds"]))

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """The tagged worker is there and holds, resident, at least 90 % of the bytes asked."""
        now = self.run.observe(facts["tag"])
        if now is None or not now.workers:
            return None
        held, asked = now.rss_bytes(), int(facts["bytes"])
        if held < RESIDENT_AT_LEAST * asked:
            return None
        return (f"{self.target.name}: stress-ng ({stress.describe(now.alive)}) holds "
                f"{_mib(held)} resident (asked {_mib(asked)}, {facts['percent']:g} % of "
                f"MemAvailable); MemAvailable {_mib(now.available_kb * 1024)} now, "
                f"{_mib(int(facts['available_before_kb']) * 1024)} before")

    def undo(self, facts: Mapping[str, Any]) -> None:
        """SIGTERM to every process of the injection's tagged session, SIGKILL to any left;
        fails naming the processes still there."""
        self.run.end(facts["tag"])
