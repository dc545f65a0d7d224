"""Freeze every process of a service with SIGSTOP, as os-faults' ``freeze`` does: the hung daemon
that still holds its sockets, its database connections and its place in the message queue, and
answers nothing. The undo sends SIGCONT.

The processes are the service's whole process tree where it runs (its main process and every
descendant: a systemd unit's workers, a container's init and what it started), read before the
injection and journalled. The freeze is confirmed by reading ``State:`` from
``/proc/<pid>/status`` of each: ``T (stopped)`` for every one. The undo continues the journalled
processes and also whatever processes the service has now (a process it forked while frozen is
born running, but a recovery may have restarted it while another one stayed stopped), then reads
``/proc`` again: none may be left in ``T``.
"""

from __future__ import annotations

import contextlib
import re
import shlex
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api.fault import Fault, FaultError
from stackdrill.core.errors import InvalidValue
from stackdrill.core.params import Param
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


# The harness reaches every host through sshd: freezing it would leave no way to undo.
NEVER = ("ssh", "sshd", "ssh.service", "sshd.service", "systemd", "dbus-broker")


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
    return service.shell(TREE.format(pids=_roots(service)))


def _service_name(text: str) -> str:
    name = text.strip()
    if name in NEVER:
        raise InvalidValue(f"{name!r} is never frozen: the harness needs it to undo the fault")
    if not name:
        raise InvalidValue("expected a service name")
    return name


def states_command(service: Service, pids: list[int]) -> str:
    return service.shell(STATES.format(pids=" ".join(str(int(pid)) for pid in pids)))


def signal_command(service: Service, signal: str, pids: list[int]) -> str:
    """``kill -s STOP`` or ``CONT`` of ``pids`` where the service runs; a process that exited
    since is no failure."""
    listed = " ".join(str(int(pid)) for pid in pids)
    return service.shell(f"for p in {listed}; do kill -s {signal} $p 2>/dev/null; done; true")


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


class FreezeService(Fault):
    name = "freeze_service"
    description = ("SIGSTOP every process of a service (its whole process tree, however the "
                   "deployment runs it); confirmed by State: T in /proc/<pid>/status for each; "
                   "undone with SIGCONT")
    params: ClassVar[Mapping[str, Param]] = {
        "service": Param("the service to freeze, by its logical name in the inventory",
                         _service_name),
    }

    @property
    def service(self) -> Service:
        return self.target.service(str(self.values["service"]))

    def plan(self) -> list[str]:
        service = self.service
        return [f"{tree_command(service)}  (the processes, journalled)",
                service.shell("kill -s STOP <each process>")]

    def _tree(self, service: Service) -> list[int]:
        result = self.target.run(tree_command(service), record=False)
        if not result.ok:
            raise FaultError(f"{self.target.name}: cannot list the processes of {service.name}: "
                             f"{(result.stderr or result.stdout).strip()}")
        return parse_pids(result.stdout)

    def prepare(self) -> dict[str, Any]:
        service = self.service
        if service.unit in NEVER or service.label in NEVER:
            raise FaultError(f"{self.target.name}: {service.name} runs as {service.label}, "
                             f"which is never frozen")
        if not service.is_running():
            raise FaultError(f"{self.target.name}: {service.name} is not running; nothing to "
                             f"freeze")
        pids = self._tree(service)
        if not pids:
            raise FaultError(f"{self.target.name}: {service.name} runs no process to freeze")
        return {"service": service.name, "pids": pids}

    def inject(self, facts: Mapping[str, Any]) -> None:
        service = self.target.service(facts["service"])
        self.target.run(signal_command(service, "STOP", list(facts["pids"])), check=True)

    def _states(self, service: Service, pids: list[int]) -> dict[int, str] | None:
        result = self.target.run(states_command(service, pids), record=False)
        if not result.ok:
            return None
        return parse_states(result.stdout)

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """Every journalled process reads ``T`` in ``/proc/<pid>/status``; one gone, one still
        running, or a state that cannot be read confirms nothing."""
        pids = [int(pid) for pid in facts["pids"]]
        states = self._states(self.target.service(facts["service"]), pids)
        if states is None or any(states.get(pid) != "T" for pid in pids):
            return None
        listed = ", ".join(map(str, pids))
        return (f"{self.target.name}: {facts['service']}: {len(pids)} process(es) read State: T "
                f"(stopped) in /proc/<pid>/status: {listed}")

    def undo(self, facts: Mapping[str, Any]) -> None:
        service = self.target.service(facts["service"])
        pids = set(int(pid) for pid in facts["pids"])
        # the journalled processes are continued even when the service's cannot be listed
        with contextlib.suppress(FaultError):
            pids |= set(self._tree(service))
        ordered = sorted(pids)
        self.target.run(signal_command(service, "CONT", ordered), check=True)
        states = self._states(service, ordered) or {}
        still = [pid for pid in ordered if states.get(pid) == "T"]
        if still:
            raise FaultError(f"{self.target.name}: {facts['service']}: process(es) "
                             f"{', '.join(map(str, still))} still stopped after SIGCONT")
