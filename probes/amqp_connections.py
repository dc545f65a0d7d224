"""Whether nova-compute holds an established AMQP connection to the message queue.

The ops guide warns that nova-compute does not always reconnect to RabbitMQ after an outage;
this is the host-side evidence, read from the kernel's socket table for the service's main
process (whatever its executable is called: ``nova-compute``, ``python3``, a container's init).
"""

from __future__ import annotations

from typing import Any

from stackdrill.api import Probe, ProbeOutput
from stackdrill.hostkit.amqp import connections_command, main_process_connected
from stackdrill.hosts.target import Target


class AmqpConnections(Probe):
    name = "amqp_connections"
    description = "established AMQP connections of nova-compute"
    roles = ("compute",)

    def applies_to(self, target: Target) -> bool:
        return super().applies_to(target) and "nova-compute" in target.inventory.services

    def command(self, target: Target) -> str:
        return connections_command(target)

    def parse(self, target: Target, output: ProbeOutput) -> dict[str, Any]:
        return {"amqp:nova-compute/connected": main_process_connected(output.require_ok())}

    def problems(self, values: dict[str, Any]) -> list[str]:
        return [] if values.get("amqp:nova-compute/connected") else [
            "nova-compute has no AMQP connection"]
