"""Load a host's CPUs with ``stress-ng --cpu``: a noisy neighbour, a runaway process, a host whose
services answer late because every CPU is busy.

``workers`` CPU workers (``all``: one per CPU the host has), each busy ``load`` percent of the
time (stress-ng's ``--cpu-load``). stress-ng runs in a session of its own, tagged by the
injection (:mod:`stackdrill.hostkit.stress`), and ends by itself after ``max_seconds`` if
nothing ends it first.

Confirmed by observation, twice at least half a second apart: the workers are there, and they
used CPU time between the two readings (at least a quarter of what they were asked to use; a
host whose CPUs are all taken by others gives them less, and none at all means the pressure is
not applied). The evidence has their CPU time, the host's busy share and its load average. The
undo sends SIGTERM to every process of the tagged session (stress-ng ends its workers), SIGKILL
to any left, and reads the host again: none may be left.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Fault
from stackdrill.core.errors import InvalidValue
from stackdrill.core.params import Param
from stackdrill.hostkit import stress
from stackdrill.hostkit.stress import StressRun

#: The share of the CPU time asked of the workers that they must have used to confirm.
USED_AT_LEAST = 0.25
#: Seconds between the two readings the confirmation compares, at least.
SAMPLE = 0.5


def cpu_workers(text: str) -> int:
    """``all`` (0: one worker per CPU) or 1 to 64 workers."""
    return 0 if text.strip().lower() == "all" else stress.workers(text)


def load(text: str) -> int:
    """A whole percentage, 1 to 100, as stress-ng's ``--cpu-load`` takes it."""
    value = stress.share(text, 100.0)
    if value != int(value) or value < 1:
        raise InvalidValue(f"expected a whole percentage from 1 to 100, got {text!r}")
    return int(value)


class CpuPressure(Fault):
    name = "cpu_pressure"
    description = ("load the host's CPUs with stress-ng --cpu (workers, each busy a percentage "
                   "of the time); confirmed by the workers present and using CPU time; the "
                   "undo ends exactly the injection's tagged processes")
    params: ClassVar[Mapping[str, Param]] = {
        "workers": Param("CPU workers, 1 to 64, or all (one per CPU)", cpu_workers, "all"),
        "load": Param("how busy each worker keeps its CPU, in percent (stress-ng --cpu-load)",
                      load, "100"),
        "max_seconds": Param("the pressure ends by itself after this long, 10 to 86400",
                             stress.max_seconds, "3600"),
    }

    def __init__(self, target: Any, raw_params: Mapping[str, str]) -> None:
        super().__init__(target, raw_params)
        self.run = StressRun(target)
        self._first: stress.Observation | None = None

    def _arguments(self, workers: int) -> list[str]:
        return ["--cpu", str(workers), "--cpu-load", str(self.values["load"])]

    def plan(self) -> list[str]:
        workers = self.values["workers"] or "<one per CPU>"
        return [stress.PRESENT, stress.MEMINFO,
                stress.launch_command("stackdrill-cpu-pressure-<id>",
                                      ["--cpu", str(workers), "--cpu-load",
                                       str(self.values["load"])],
                                      self.values["max_seconds"])]

    def prepare(self) -> dict[str, Any]:
        _, cpus = self.run.require()
        workers = int(self.values["workers"]) or cpus
        return {"tag": self.run.new_tag("cpu-pressure"), "workers": workers,
                "load": self.values["load"], "cpus": cpus,
                "max_seconds": self.values["max_seconds"]}

    def inject(self, facts: Mapping[str, Any]) -> None:
        self.run.start(facts["tag"], self._arguments(int(facts["workers"])),
                       int(facts["max_seconds"]))

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """Two readings at least half a second apart: every tagged worker is there, and
        between the readings they used at least a quarter of the CPU time asked of them."""
        now = self.run.observe(facts["tag"])
        if now is None or len(now.workers) < int(facts["workers"]):
            self._first = None
            return None
        first = self._first
        if first is None or now.uptime - first.uptime < SAMPLE:
            self._first = first or now
            return None
        elapsed = now.uptime - first.uptime
        used = now.cpu_seconds() - first.cpu_seconds()
        asked = int(facts["workers"]) * float(facts["load"]) / 100 * elapsed
        if used < USED_AT_LEAST * asked:
            return None
        busy = (now.cpu_busy - first.cpu_busy) / max(1, now.cpu_total - first.cpu_total)
        return (f"{self.target.name}: stress-ng: {len(now.workers)} worker(s) "
                f"({stress.describe(now.workers)}) used {used:.2f} CPU-seconds in "
                f"{elapsed:.2f} s (asked {facts['workers']} x {float(facts['load']):g} %); "
                f"the host's {now.cpus} CPU(s) {100 * busy:.0f} % busy, load average "
                f"{' '.join(f'{v:.2f}' for v in now.load)}")

    def undo(self, facts: Mapping[str, Any]) -> None:
        """SIGTERM to every process of the injection's tagged session, SIGKILL to any left;
        fails naming the processes still there."""
        self.run.end(facts["tag"])
