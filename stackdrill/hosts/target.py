"""A target is one inventory host as drills see it: commands, services, and evidence of both."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from stackdrill.hosts.ssh import CommandResult, HostError, SshConnection, SshPool
from stackdrill.inventory import HostSpec, Inventory, ServiceSpec

if TYPE_CHECKING:
    import testinfra.host

CommandListener = Callable[[CommandResult], None]


class CommandFailed(HostError):
    def __init__(self, result: CommandResult) -> None:
        last = (result.stderr or result.stdout).strip().splitlines()
        detail = last[-1] if last else "no output"
        super().__init__(f"{result.host}: {result.command!r} exited {result.exit_status}: {detail}")
        self.result = result


class Target:
    def __init__(self, spec: HostSpec, connection: SshConnection, inventory: Inventory,
                 listeners: list[CommandListener]) -> None:
        self.spec = spec
        self.connection = connection
        self.inventory = inventory
        self._listeners = listeners

    @property
    def name(self) -> str:
        return self.spec.name

    def __repr__(self) -> str:
        return f"<Target {self.name} {','.join(self.spec.roles)}>"

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True) -> CommandResult:
        result = self.connection.run(command, timeout=timeout)
        if record:
            for listener in self._listeners:
                listener(result)
        if check and not result.ok:
            raise CommandFailed(result)
        return result

    def service(self, name: str) -> ServiceSpec:
        return self.inventory.service(name)

    def systemctl(self, verb: str, services: Sequence[str], *, check: bool = True,
                  timeout: float | None = None) -> CommandResult:
        units = " ".join(shlex.quote(self.unit(s)) for s in services)
        return self.run(f"systemctl {verb} {units}", check=check, timeout=timeout)

    def unit(self, service: str) -> str:
        spec = self.service(service)
        if spec.unit is None:
            raise HostError(f"{self.name}: service {service!r} runs as a container, "
                            f"not a systemd unit")
        return spec.unit

    @cached_property
    def host(self) -> testinfra.host.Host:
        """The pytest-testinfra ``host`` API over this target's pooled connection."""
        from stackdrill.hosts.testinfra_backend import testinfra_host

        return testinfra_host(self.connection)


class Targets:
    """Every host of an inventory, selectable by name or role."""

    def __init__(self, inventory: Inventory, pool: SshPool | None = None) -> None:
        self.inventory = inventory
        self.pool = pool or SshPool(inventory)
        self.listeners: list[CommandListener] = []
        self._targets: dict[str, Target] = {}

    def get(self, name: str) -> Target:
        if name not in self._targets:
            spec = self.inventory.host(name)
            self._targets[name] = Target(spec, self.pool.get(name), self.inventory,
                                         self.listeners)
        return self._targets[name]

    def with_role(self, role: str) -> list[Target]:
        return [self.get(h.name) for h in self.inventory.with_role(role)]

    def __iter__(self) -> Iterator[Target]:
        return iter([self.get(name) for name in sorted(self.inventory.hosts)])

    def close(self) -> None:
        self.pool.close()
