"""Whether nova-compute holds an established AMQP connection to the message queue.

The ops guide warns that nova-compute does not always reconnect to RabbitMQ after an outage;
this is the host-side evidence, read from the kernel's socket table for the service's main
process (whatever its executable is called: ``nova-compute``, ``python3``, a container's init).
"""

from __future__ import annotations

import shlex
from typing import Any

from stackdrill.api.probe import Probe, ProbeOutput
from stackdrill.hosts.target import Target

AMQP_PORT = 5672


class AmqpConnections(Probe):
    name = "amqp_connections"
    description = "established AMQP connections of nova-compute"
    roles = ("compute",)

    def applies_to(self, target: Target) -> bool:
        return super().applies_to(target) and "nova-compute" in target.inventory.services

    def command(self, target: Target) -> str:
        unit = shlex.quote(target.unit("nova-compute"))
        return (f"pid=$(systemctl show -p MainPID --value {unit}); echo \"main $pid\"; "
                f"ss -Htnp state established '( dport = :{AMQP_PORT} )'")

    def parse(self, target: Target, output: ProbeOutput) -> dict[str, Any]:
        lines = output.require_ok().splitlines()
        pid = lines[0].split()[-1] if lines and lines[0].startswith("main ") else "0"
        connected = pid != "0" and any(f"pid={pid}," in line for line in lines[1:])
        return {"amqp:nova-compute/connected": connected}

    def problems(self, values: dict[str, Any]) -> list[str]:
        return [] if values.get("amqp:nova-compute/connected") else [
            "nova-compute has no AMQP connection"]
