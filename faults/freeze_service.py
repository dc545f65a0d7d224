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
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Fault, FaultError
from stackdrill.core.errors import InvalidValue
from stackdrill.core.params import Param
from stackdrill.hostkit.processes import (
    parse_pids,
    parse_states,
    signal_command,
    states_command,
    tree_command,
)
from stackdrill.hosts.service import Service

__all__ = ["NEVER", "FreezeService", "parse_states"]

# The harness reaches every host through sshd: freezing it would leave no way to undo.
NEVER = ("ssh", "sshd", "ssh.service", "sshd.service", "systemd", "dbus-broker")


def _service_name(text: str) -> str:
    name = text.strip()
    if name in NEVER:
        raise InvalidValue(f"{name!r} is never frozen: the harness needs it to undo the fault")
    if not name:
        raise InvalidValue("expected a service name")
    return name


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
        """SIGCONT to the journalled processes and to the service's processes now, then read
        ``/proc`` again: fails naming any process still stopped (``T``)."""
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
