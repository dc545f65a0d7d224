"""A service that hangs because its processes are stopped: found by their state, then restarted.

A frozen daemon still holds its sockets and its unit still says ``active``, so neither systemd
nor a port check sees it; waiting for a timeout only says that something is slow. The operations
guide's first check after a controller's trouble is ``ps aux | grep nova-``, whose STAT column
shows ``T`` for a process stopped by a signal. This runbook reads the same letter from
``/proc/<pid>/status`` for every process of the service (its whole tree where it runs, as
:mod:`stackdrill.hostkit.processes` lists it), and fails without touching anything when none
reads ``T``: it recovers a frozen service, and a hang of another kind is not one.

It restarts the service rather than sending SIGCONT. The guides' remedy for OpenStack services
that run but do not work is a restart (ch. 11: the nova services "do not always reconnect
cleanly to rabbitmq ... a restart on the nova services ... is required"); a process stopped
longer than oslo.messaging's heartbeat threshold (60 s by default) has had its AMQP connection
closed by the broker, and its database connections may be gone too, so continuing it resumes
stale connections and whatever work it held when it stopped; and the operator who finds it
cannot know who stopped it or why. systemd's stop sends SIGCONT after SIGTERM, so a stopped
process handles its SIGTERM; a container runtime's stop ends in SIGKILL, which a stopped process
cannot ignore. SIGCONT is the fault's undo, not a recovery: a drill that only continued the
process would prove nothing the undo does not do.

The last step reads the states again: the service runs, and none of its processes reads ``T``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import ClassVar

from stackdrill.api import Recovery, RecoveryFailed, RunbookStep, wait
from stackdrill.core.params import Param, positive_float
from stackdrill.hostkit.processes import (
    parse_pids,
    parse_states,
    states_command,
    stopped,
    tree_command,
)
from stackdrill.hosts.service import Service


def _service_name(text: str) -> str:
    return text.strip()


class RestartFrozenService(Recovery):
    name = "restart_frozen_service"
    description = ("find the processes of a service that read State: T (stopped) in "
                   "/proc/<pid>/status, restart the service, and check that it runs with none "
                   "of its processes stopped; fails, touching nothing, when none is stopped")
    params: ClassVar[Mapping[str, Param]] = {
        "service": Param("the service to examine and restart, by its logical name",
                         _service_name),
        "timeout": Param("seconds the service may take to run again after the restart",
                         positive_float, 60.0),
    }

    @property
    def service(self) -> Service:
        return self.target.service(str(self.values["service"]))

    def runbook(self) -> list[RunbookStep]:
        service = self.service
        where = f"{service.name} on {self.target.name}"
        return [
            RunbookStep(f"Find the stopped processes of {where} (State: T in "
                        f"/proc/<pid>/status, ps's STAT)", self.find_stopped,
                        (tree_command(service), states_command(service, "<each process>"))),
            RunbookStep(f"Restart {where}",
                        functools.partial(service.act, "restart",
                                          timeout=self.values["timeout"]),
                        (service.command("restart"), service.command("status"))),
            RunbookStep(f"Check that {where} runs and no process of it reads State: T",
                        self.check_running,
                        (service.command("status"), tree_command(service))),
        ]

    def states(self) -> dict[int, str]:
        """Each process of the service now, with its state letter from ``/proc``."""
        service = self.service
        listed = self.target.run(tree_command(service))
        if not listed.ok:
            raise RecoveryFailed(f"{self.target.name}: cannot list the processes of "
                                 f"{service.name}: {(listed.stderr or listed.stdout).strip()}")
        pids = parse_pids(listed.stdout)
        if not pids:
            return {}
        read = self.target.run(states_command(service, pids))
        if not read.ok:
            raise RecoveryFailed(f"{self.target.name}: cannot read the states of "
                                 f"{service.name}'s processes from /proc")
        return parse_states(read.stdout)

    def find_stopped(self) -> list[int]:
        """The service's stopped processes; fails when there is none (not frozen)."""
        states = self.states()
        found = stopped(states)
        if found:
            return found
        seen = ", ".join(f"{pid} {state}" for pid, state in sorted(states.items())) or "none"
        raise RecoveryFailed(f"{self.target.name}: no process of {self.values['service']} "
                             f"reads State: T in /proc (processes: {seen}); it is not frozen, "
                             f"and nothing was restarted")

    def check_running(self) -> None:
        def healthy() -> bool:
            states = self.states()
            return bool(states) and not stopped(states) and self.service.is_running()

        wait(healthy, self.values["timeout"],
             f"{self.values['service']} running on {self.target.name} with no process in "
             f"State: T")
