"""RabbitMQ outage on the controller: start it, then make sure every nova-compute reconnected.

The operations guide: "the nova-compute services on the compute nodes do not always reconnect
cleanly to rabbitmq hosted on the controller when it comes back up ... a restart on the nova
services on the compute nodes is required."
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import ClassVar

from stackdrill.api import Recovery, RecoveryFailed, RunbookStep
from stackdrill.core.params import Param, positive_float
from stackdrill.core.waiting import WaitTimeout, poll
from stackdrill.hostkit.amqp import AMQP_PORT, nova_compute_connected, runs_nova_compute
from stackdrill.hosts.target import Target


class RestartRabbitMQ(Recovery):
    name = "restart_rabbitmq"
    description = "start RabbitMQ, check nova-compute's AMQP connections, restart where needed"
    params: ClassVar[Mapping[str, Param]] = {
        "timeout": Param("seconds for RabbitMQ to start", positive_float, 120.0),
        "reconnect_grace": Param("seconds nova-compute gets to reconnect by itself",
                                 positive_float, 60.0),
    }

    def runbook(self) -> list[RunbookStep]:
        rabbitmq = self.target.service("rabbitmq")
        return [
            RunbookStep(f"Start {rabbitmq.label} on {self.target.name}",
                        functools.partial(rabbitmq.start, self.values["timeout"]),
                        (rabbitmq.command("start"),)),
            RunbookStep(f"Wait for the AMQP listener on port {AMQP_PORT}", self.listening,
                        (f"ss -ltn 'sport = :{AMQP_PORT}'",)),
            RunbookStep("Check each compute's nova-compute AMQP connection",
                        self.restart_disconnected),
        ]

    def listening(self) -> None:
        rabbitmq = self.target.service("rabbitmq")  # an LXC container has its own sockets

        def open_port() -> bool:
            result = self.target.run(rabbitmq.shell(f"ss -Hltn 'sport = :{AMQP_PORT}'"),
                                     record=False)
            return bool(result.stdout.strip())

        try:
            poll(open_port, timeout=self.values["timeout"], description="AMQP port listening")
        except WaitTimeout as exc:
            raise RecoveryFailed(str(exc)) from exc
        self.target.run(rabbitmq.shell(f"ss -ltn 'sport = :{AMQP_PORT}'"))

    def _disconnected(self, computes: list[Target]) -> list[Target]:
        return [t for t in computes if not nova_compute_connected(t)]

    def restart_disconnected(self) -> None:
        targets = self.context.targets
        if targets is None:
            raise RecoveryFailed("no compute hosts known to this recovery")
        computes = [t for t in targets.with_role("compute") if runs_nova_compute(t)]
        try:
            poll(lambda: not self._disconnected(computes), timeout=self.values["reconnect_grace"],
                 interval=1.0, max_interval=3.0, description="nova-compute reconnected")
        except WaitTimeout:
            for compute in self._disconnected(computes):
                compute.service("nova-compute").restart()
        for compute in computes:
            compute.run(f"ss -tnp state established '( dport = :{AMQP_PORT} )'")
        try:
            poll(lambda: not self._disconnected(computes), timeout=self.values["timeout"],
                 description="nova-compute connected after restart")
        except WaitTimeout as exc:
            raise RecoveryFailed(str(exc)) from exc
