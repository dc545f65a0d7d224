"""Pressure on a host's CPU or memory with ``stress-ng`` (the Debian package of that name), and
exactly the processes one injection started, found again and ended.

An injection's processes cannot be journalled by their PIDs: the journal is written before the
injection, and stress-ng forks its workers after it. What is journalled is the injection's tag.
``stress-ng`` is started as the leader of a session of its own (``setsid``), with the tag in its
environment (``STACKDRILL_FAULT=<tag>``); its workers stay in that session, and die with it
(stress-ng asks the kernel to signal them when their parent dies). The injection's processes are
every process of a session whose leader carries the tag, found in ``/proc/<pid>/environ``; no
process without the tag, or outside such a session, is ever signalled. The workers rewrite
their own environment when they rename themselves (``stress-ng-vm [run]``), which is why the
session, not each process's environment, decides. stress-ng's ``--timeout`` ends the pressure
by itself if nothing undoes it.

Also the observations the faults confirm with: each process's state, resident memory and CPU
time, the host's CPUs, its CPU time and load average, and its available memory.
:class:`StressRun` runs the commands on a target: it checks stress-ng is there, starts it, reads
it, and ends it (SIGTERM, then SIGKILL for any process left, polled, never a fixed sleep).
"""

from __future__ import annotations

import re
import secrets
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from stackdrill.core.errors import InvalidValue
from stackdrill.core.waiting import WaitTimeout, poll
from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import Target

TAG_VARIABLE = "STACKDRILL_FAULT"
BINARY = "stress-ng"
PRESENT = f"command -v {BINARY}"
INSTALL_HINT = "stress-ng is not installed (Debian: apt-get install stress-ng)"


def launch_command(tag: str, arguments: Sequence[str], max_seconds: int) -> str:
    """Start stress-ng in a session of its own, tagged, detached from the SSH session; it ends
    by itself after ``max_seconds``."""
    argv = [BINARY, *arguments, "--timeout", f"{int(max_seconds)}s", "--quiet"]
    return (f"setsid -f env {TAG_VARIABLE}={shlex.quote(tag)} {shlex.join(argv)} "
            f"</dev/null >/dev/null 2>&1")


def _sessions(tag: str) -> str:
    """The session IDs of the processes carrying ``tag`` in their environment, space-separated."""
    wanted = shlex.quote(f"{TAG_VARIABLE}={tag}")
    return (f"sids=$(grep -lsxzF -e {wanted} /proc/[0-9]*/environ | cut -d/ -f3 "
            f"| xargs -r -n1 ps -o sid= -p | tr -d ' ' | sort -u | tr '\\n' ' ')")


# For each process of the tagged sessions: pid, session, state letter, resident kB, CPU ticks
# (user + system, from /proc/<pid>/stat after its name), and its name; then the host's clock
# (seconds since boot), CPU ticks per second, CPUs, the first line of /proc/stat, the load
# average and MemAvailable (kB).
_MEMBERS = (
    '{sessions}; for p in $(ps -e -o pid=,sid= | awk -v s=" $sids " '
    '\'index(s, " " $2 " ") {{print $1}}\'); do '
    'st=$(sed "s/.*) //" /proc/$p/stat 2>/dev/null) || continue; [ -n "$st" ] || continue; '
    'set -- $st; rss=$(sed -n "s/^VmRSS:[[:space:]]*\\([0-9]*\\).*/\\1/p" /proc/$p/status '
    '2>/dev/null); echo "proc $p $4 $1 ${{rss:-0}} $((${{12}} + ${{13}})) $(cat /proc/$p/comm '
    '2>/dev/null)"; done; echo "uptime $(cut -d" " -f1 /proc/uptime)"; '
    'echo "ticks $(getconf CLK_TCK)"; echo "cpus $(nproc)"; echo "$(head -1 /proc/stat)"; '
    'echo "load $(cat /proc/loadavg)"; '
    'echo "available $(sed -n "s/^MemAvailable:[[:space:]]*\\([0-9]*\\).*/\\1/p" /proc/meminfo)"'
)


def observe_command(tag: str) -> str:
    """The injection's processes and the host's CPU and memory, in one command."""
    return _MEMBERS.format(sessions=_sessions(tag))


def end_command(tag: str, signal: str) -> str:
    """Send ``signal`` to every process of the tagged sessions; none left is no failure."""
    return (f"{_sessions(tag)}; for p in $(ps -e -o pid=,sid= | awk -v s=\" $sids \" "
            f"'index(s, \" \" $2 \" \") {{print $1}}'); do kill -s {signal} $p 2>/dev/null; "
            f"done; true")


MEMINFO = "sed -n 's/^MemAvailable:[[:space:]]*\\([0-9]*\\).*/\\1/p' /proc/meminfo; nproc"


@dataclass(frozen=True)
class Member:
    """One process of an injection: its PID, session, state letter, resident memory in kB,
    CPU time in ticks and name."""

    pid: int
    session: int
    state: str
    rss_kb: int
    ticks: int
    name: str

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")


@dataclass(frozen=True)
class Observation:
    """What :func:`observe_command` read: the processes and the host at one moment."""

    members: tuple[Member, ...]
    uptime: float
    ticks_per_second: int
    cpus: int
    cpu_busy: int
    cpu_total: int
    load: tuple[float, float, float]
    available_kb: int

    @property
    def alive(self) -> list[Member]:
        return [member for member in self.members if member.alive]

    @property
    def workers(self) -> list[Member]:
        """The processes doing the work: every live one but the sessions' leaders."""
        return [member for member in self.alive if member.pid != member.session]

    def cpu_seconds(self) -> float:
        return sum(member.ticks for member in self.members) / max(1, self.ticks_per_second)

    def rss_bytes(self) -> int:
        return 1024 * sum(member.rss_kb for member in self.alive)


_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def _member(fields: list[str]) -> Member | None:
    if len(fields) < 6 or not all(f.isdigit() for f in (fields[1], fields[2], fields[4],
                                                        fields[5])):
        return None
    return Member(int(fields[1]), int(fields[2]), fields[3], int(fields[4]), int(fields[5]),
                  " ".join(fields[6:]))


def parse_observation(text: str) -> Observation | None:
    """``observe_command`` output, or None when the host's part of it is missing."""
    members: list[Member] = []
    read: dict[str, list[str]] = {}
    for line in text.splitlines():
        fields = line.split()
        if fields[:1] == ["proc"]:
            member = _member(fields)
            if member is not None:
                members.append(member)
        elif fields:
            read[fields[0]] = fields[1:]
    try:
        cpu = [int(value) for value in read["cpu"][:8]]  # guest time is in user time
        load = tuple(float(value) for value in read["load"][:3])
        idle = cpu[3] + (cpu[4] if len(cpu) > 4 else 0)
        return Observation(tuple(members), float(read["uptime"][0]), int(read["ticks"][0]),
                           int(read["cpus"][0]), sum(cpu) - idle, sum(cpu),
                           (load[0], load[1], load[2]), int(read["available"][0]))
    except (KeyError, IndexError, ValueError):
        return None


def parse_meminfo(text: str) -> tuple[int, int] | None:
    """``MEMINFO`` output -> (MemAvailable in kB, CPUs), or None."""
    numbers = [int(word) for word in text.split() if word.isdigit()]
    return (numbers[0], numbers[1]) if len(numbers) >= 2 else None


def workers(text: str) -> int:
    """A worker count: 1 to 64."""
    value = int(text.strip())
    if not 1 <= value <= 64:
        raise InvalidValue(f"expected 1 to 64 workers, got {text!r}")
    return value


def max_seconds(text: str) -> int:
    """How long the pressure may last if nothing ends it: 10 s to 24 h."""
    value = int(float(text.strip().removesuffix("s")))
    if not 10 <= value <= 86400:
        raise InvalidValue(f"expected 10 to 86400 seconds, got {text!r}")
    return value


def share(text: str, highest: float) -> float:
    """A percentage above 0 and at most ``highest``."""
    value = float(text.strip().removesuffix("%").strip())
    if not 0 < value <= highest:
        raise InvalidValue(f"expected a percentage above 0 and at most {highest:g}, got "
                           f"{text!r}")
    return value


def describe(members: Sequence[Member]) -> str:
    return ", ".join(f"{m.pid} {m.name} ({m.state})" for m in members) or "none"


class StressFailed(HostError):
    """stress-ng is missing, cannot be read, or processes of an injection outlived its undo."""


#: Seconds the processes of an injection get to end after SIGTERM before SIGKILL.
TERM_GRACE = 10.0


class StressRun:
    """stress-ng on one host, for one fault: present, started, observed and ended by its tag."""

    def __init__(self, target: Target) -> None:
        self.target = target

    @staticmethod
    def new_tag(kind: str) -> str:
        return f"stackdrill-{kind}-{secrets.token_hex(4)}"

    def require(self) -> tuple[int, int]:
        """stress-ng is installed; the host's available memory (kB) and CPUs."""
        if not self.target.run(PRESENT, record=False).ok:
            raise StressFailed(f"{self.target.name}: {INSTALL_HINT}")
        read = parse_meminfo(self.target.run(MEMINFO, record=False).stdout)
        if read is None:
            raise StressFailed(f"{self.target.name}: cannot read MemAvailable from "
                               f"/proc/meminfo and the CPUs (nproc)")
        return read

    def start(self, tag: str, arguments: Sequence[str], seconds: int) -> None:
        self.target.run(launch_command(tag, arguments, seconds), check=True)

    def observe(self, tag: str) -> Observation | None:
        result = self.target.run(observe_command(tag), record=False)
        return parse_observation(result.stdout) if result.ok else None

    def _left(self, tag: str) -> list[Member]:
        seen = self.observe(tag)
        if seen is None:
            raise StressFailed(f"{self.target.name}: cannot read the processes tagged {tag}")
        return seen.alive

    def end(self, tag: str) -> None:
        """SIGTERM to every process of the tagged sessions, SIGKILL after ``TERM_GRACE`` to
        any left; idempotent. Fails naming the processes still there."""
        self.target.run(end_command(tag, "TERM"), check=True)
        description = f"the processes tagged {tag} on {self.target.name} ended"
        try:
            poll(lambda: not self._left(tag), timeout=TERM_GRACE, interval=0.2,
                 max_interval=1.0, description=description)
            return
        except WaitTimeout:
            self.target.run(end_command(tag, "KILL"), check=True)
        try:
            poll(lambda: not self._left(tag), timeout=TERM_GRACE, interval=0.2,
                 max_interval=1.0, description=description)
        except WaitTimeout:
            raise StressFailed(f"{self.target.name}: processes tagged {tag} left after SIGKILL: "
                               f"{describe(self._left(tag))}") from None
