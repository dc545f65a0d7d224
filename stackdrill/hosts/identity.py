"""Proof that a host rebooted: its boot identity, never merely SSH answering again.

The identity is the kernel's boot_id plus PID 1's start time. On a server or VM the first
changes on every boot; in a container sharing the machine's kernel the second does.
"""

from __future__ import annotations

from stackdrill.hosts.target import CommandFailed, Target

COMMAND = "cat /proc/sys/kernel/random/boot_id; cut -d' ' -f22 /proc/1/stat"


def boot_identity(target: Target, timeout: float = 10.0) -> str:
    result = target.run(COMMAND, timeout=timeout, record=False)
    if not result.ok:
        raise CommandFailed(result)
    return ":".join(result.stdout.split())
