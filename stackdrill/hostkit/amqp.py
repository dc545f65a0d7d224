"""The message queue as a host sees it: the AMQP port, and whether nova-compute holds an
established AMQP connection.

The ops guide warns that nova-compute does not always reconnect to RabbitMQ after an outage.
The evidence is read on the compute from the kernel's socket table, for the service's main
process (whatever its executable is called: ``nova-compute``, ``python3``, a container's init).
"""

from __future__ import annotations

import shlex

from stackdrill.hosts.target import CommandFailed, Target

AMQP_PORT = 5672
NOVA_COMPUTE = "nova-compute"


def runs_nova_compute(target: Target) -> bool:
    """Whether ``target`` is a compute whose inventory declares nova-compute (without touching
    the host)."""
    return "compute" in target.spec.roles and NOVA_COMPUTE in target.inventory.services


def connections_command(target: Target) -> str:
    """Prints ``main <pid>...``, the processes doing nova-compute's work (its main process; in
    a container, the container's init and the init's children), then every established
    connection to the AMQP port with the process holding it, read where nova-compute runs (an
    LXC container has sockets of its own)."""
    service = target.service(NOVA_COMPUTE)
    return service.shell(f'echo "main $({service.pids_script()})"; '
                         f"ss -Htnp state established '( dport = :{AMQP_PORT} )'")


def main_process_connected(output: str) -> bool:
    """Whether, in the output of :func:`connections_command`, one of nova-compute's processes
    holds one of the connections."""
    lines = output.splitlines()
    pids = lines[0].split()[1:] if lines and lines[0].startswith("main ") else []
    return any(pid != "0" and f"pid={pid}," in line for pid in pids for line in lines[1:])


def nova_compute_connected(target: Target) -> bool:
    """Whether nova-compute on ``target`` holds an established AMQP connection (one command)."""
    result = target.run(f"sh -c {shlex.quote(connections_command(target))} </dev/null",
                        record=False)
    if not result.ok:
        raise CommandFailed(result)
    return main_process_connected(result.stdout)
