"""A service's processes as ``ps`` and ``/proc`` show them: its whole process tree where it runs
(the main process, every descendant, and for a systemd unit every process of its control group),
and each process's state letter from ``/proc/<pid>/status`` (``T`` for a process stopped by
SIGSTOP, what ``ps aux`` shows in its STAT column). Commands and parsing only; nothing here
talks to a host.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping

from stackdrill.hosts.service import Service

# The service's process tree where it runs: its main process (a container's init, with the
# children pids_script already adds) and every descendant, one PID per line.
TREE = ('todo="$({pids})"; seen=""; while [ -n "$todo" ]; do next=""; for p in $todo; do '
        'case " $seen " in *" $p "*) continue;; esac; [ "$p" -gt 0 ] 2>/dev/null || continue; '
        'seen="$seen $p"; next="$next $(pgrep -P "$p" | tr "\\n" " ")"; done; todo="$next"; '
        'done; for p in $seen; do echo "$p"; done')
# Each PID's state as /proc says it, one ``<pid> <state letter>`` line ("gone" once it exited).
STATES = ('for p in {pids}; do s=$(sed -n "s/^State:[[:space:]]*\\([A-Za-z]\\).*/\\1/p" '
          '/proc/$p/status 2>/dev/null); echo "$p ${{s:-gone}}"; done')
_STATE = re.compile(r"^(\d+) (\S+)$")

STOPPED = "T"
GONE = "gone"


def _roots(service: Service) -> str:
    """The processes the tree starts from: the service's own (:meth:`Service.pids_script`), and
    for a systemd unit every process of its control group (workers its main process did not
    start)."""
    if service.kind == "container" or service.unit is None:
        return service.pids_script()
    unit = shlex.quote(service.unit)
    return (f'{service.pids_script()}; cat "/sys/fs/cgroup$(systemctl show -p ControlGroup '
            f'--value {unit})/cgroup.procs" 2>/dev/null')


def tree_command(service: Service) -> str:
    """Every process of ``service`` where it runs, one PID per line."""
    return service.shell(TREE.format(pids=_roots(service)))


def _listed(pids: Iterable[int]) -> str:
    return " ".join(str(int(pid)) for pid in pids)


def states_command(service: Service, pids: Iterable[int] | str) -> str:
    """Each of ``pids``'s state letter from ``/proc/<pid>/status``, where ``service`` runs (a
    text in place of the PIDs shows the command in a plan)."""
    listed = pids if isinstance(pids, str) else _listed(pids)
    return service.shell(STATES.format(pids=listed))


def signal_command(service: Service, signal: str, pids: Iterable[int]) -> str:
    """``kill -s <signal>`` of ``pids`` where the service runs; a process that exited since is
    no failure."""
    return service.shell(f"for p in {_listed(pids)}; do kill -s {signal} $p 2>/dev/null; "
                         f"done; true")


def parse_pids(text: str) -> list[int]:
    return sorted({int(word) for word in text.split() if word.isdigit() and int(word) > 0})


def parse_states(text: str) -> dict[int, str]:
    """``states_command`` output -> {pid: state letter, or "gone"}."""
    found: dict[int, str] = {}
    for line in text.splitlines():
        match = _STATE.match(line.strip())
        if match:
            found[int(match.group(1))] = match.group(2)
    return found


def stopped(states: Mapping[int, str]) -> list[int]:
    """The processes whose state reads ``T`` (stopped by a signal), in order."""
    return sorted(pid for pid, state in states.items() if state == STOPPED)
