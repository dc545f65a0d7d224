"""A target is one inventory host as drills see it: commands, services, and evidence of both."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from stackdrill.hosts.ssh import CommandResult, HostError, SshConnection, SshPool
from stackdrill.inventory.model import HostSpec, Inventory, ServiceSpec

if TYPE_CHECKING:
    import testinfra.host

    from stackdrill.inventory.profiles import Placement, Profile

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
        self._os_release: dict[str, str] | None = None

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
        placement = self.placement(service)
        if placement.kind != "systemd" or placement.unit is None:
            raise HostError(f"{self.name}: service {service!r} runs as "
                            f"{placement.describe()}, not a systemd unit on the host")
        return placement.unit

    def placement(self, service: str) -> Placement:
        """How ``service`` runs here: the inventory's ``services`` entry; else, when the inventory
        names a profile, the profile's; else a systemd unit of the same name."""
        from stackdrill.inventory.profiles import Placement, ProfileError

        explicit = self.inventory.services.get(service)
        if explicit is not None:
            if explicit.container is None:
                return Placement(service, "systemd", unit=explicit.unit)
            if explicit.runtime == "lxc":
                return Placement(service, "lxc", unit=service, container=explicit.container)
            return Placement(service, "container", container=explicit.container,
                             runtime=explicit.runtime)
        chosen = self.inventory.profile_spec
        if not chosen.declared:
            return Placement(service, "systemd", unit=service)
        try:
            release = (self.os_release() if self.profile.needs_os_release
                       and chosen.variant is None else None)
            return self.profile.placement(service, os_release=release, variant=chosen.variant,
                                          runtime=chosen.runtime)
        except ProfileError as exc:
            raise HostError(f"{self.name}: {exc}") from None

    @cached_property
    def profile(self) -> Profile:
        from stackdrill.inventory.profiles import ProfileError, load_profile

        try:
            return load_profile(self.inventory.profile, self.inventory.profile_spec.dirs)
        except ProfileError as exc:
            raise HostError(f"{self.inventory.path}: profile: {exc}") from None

    def os_release(self) -> dict[str, str]:
        """This host's ``/etc/os-release``, read once."""
        if self._os_release is None:
            from stackdrill.inventory.profiles import parse_os_release

            result = self.run("cat /etc/os-release", record=False)
            if not result.ok:
                raise CommandFailed(result)
            self._os_release = parse_os_release(result.stdout)
        return self._os_release

    def service_command(self, service: str, action: str, *, signal: str = "SIGKILL") -> str:
        """The exact command that performs ``action`` (status, start, stop, restart, kill) on
        ``service`` as this host runs it; an LXC container's name is looked up on the host."""
        from stackdrill.inventory.profiles import ProfileError, command

        placement = self.placement(service)
        try:
            name = self.lxc_container(placement.container) if placement.kind == "lxc" else None
            return command(placement, action, signal=signal, lxc_name=name)
        except ProfileError as exc:
            raise HostError(f"{self.name}: {service}: {exc}") from None

    def lxc_container(self, group: str | None) -> str:
        """The full name of this host's LXC container ``group`` (or of that exact name)."""
        from stackdrill.inventory.profiles import find_lxc_container, lxc_list_command, parse_lxc_ls

        result = self.run(lxc_list_command(), record=False)
        if not result.ok:
            raise CommandFailed(result)
        return find_lxc_container(parse_lxc_ls(result.stdout), str(group))

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
