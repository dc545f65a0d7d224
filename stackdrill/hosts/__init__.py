"""How stackdrill reaches hosts: pooled SSH connections with a testinfra ``host`` API on top, and
each service as the deployment profile runs it (``target.service(name)``, with the exact commands
in ``service_commands``). May import ``core`` and ``inventory``."""

from stackdrill.hosts.ssh import (
    CommandResult,
    HostAuthError,
    HostError,
    HostKeyError,
    HostTimeout,
    HostUnreachable,
    SshConnection,
    SshPool,
)
from stackdrill.hosts.target import Target, Targets

__all__ = [
    "CommandResult",
    "HostAuthError",
    "HostError",
    "HostKeyError",
    "HostTimeout",
    "HostUnreachable",
    "SshConnection",
    "SshPool",
    "Target",
    "Targets",
]
