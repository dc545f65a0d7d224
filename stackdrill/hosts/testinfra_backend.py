"""A pytest-testinfra backend over stackdrill's pooled connections, so ``host.service(...)``,
``host.process`` and the other testinfra modules work on a drill's targets."""

from __future__ import annotations

from typing import Any

import testinfra.host
from testinfra.backend.base import BaseBackend, CommandResult

from stackdrill.hosts.ssh import SshConnection


class PooledSshBackend(BaseBackend):  # type: ignore[misc]
    NAME = "stackdrill"

    def __init__(self, connection: SshConnection, **kwargs: Any) -> None:
        self.connection = connection
        super().__init__(connection.spec.name, **kwargs)

    def run(self, command: str, *args: str, **kwargs: Any) -> CommandResult:
        cmd = self.get_command(command, *args)
        result = self.connection.run(cmd)
        return self.result(result.exit_status, self.encode(cmd),
                           result.stdout.encode(), result.stderr.encode())


def testinfra_host(connection: SshConnection) -> testinfra.host.Host:
    backend = PooledSshBackend(connection)
    host = testinfra.host.Host(backend)
    backend.set_host(host)
    return host
