"""Whether nova-compute holds an established AMQP connection to the message queue.

The ops guide warns that nova-compute does not always reconnect to RabbitMQ after an outage;
this is the host-side evidence, read from the kernel's socket table.
"""

from __future__ import annotations

from typing import Any

from stackdrill.hosts.target import Target
from stackdrill.probe import Probe, ProbeOutput

AMQP_PORT = 5672


class AmqpConnections(Probe):
    name = "amqp_connections"
    description = "established AMQP connections of nova-compute"
    roles = ("compute",)

    def applies_to(self, target: Target) -> bool:
        return super().applies_to(target) and "nova-compute" in target.inventory.services

    def command(self, target: Target) -> str:
        return f"ss -Htnp state established '( dport = :{AMQP_PORT} )'"

    def parse(self, target: Target, output: ProbeOutput) -> dict[str, Any]:
        connected = any("nova-compute" in line or "nova" in line
                        for line in output.require_ok().splitlines())
        return {"amqp:nova-compute/connected": connected}

    def problems(self, values: dict[str, Any]) -> list[str]:
        return [] if values.get("amqp:nova-compute/connected") else [
            "nova-compute has no AMQP connection"]
