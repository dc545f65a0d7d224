"""A target is one inventory host as drills see it: commands, services, and evidence of both."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from stackdrill.hosts.power.drivers import PowerDriver, PowerDrivers
from stackdrill.hosts.reconnect import retries_by_default, run_reconnecting
from stackdrill.hosts.service import Service
from stackdrill.hosts.service_commands import LxcContainer, lxc_list_command, parse_lxc_ls
from stackdrill.hosts.ssh import CommandResult, HostError, SshConnection, SshPool
from stackdrill.inventory.model import HostSpec, Inventory

if TYPE_CHECKING:
    import testinfra.host

    from stackdrill.inventory.profiles import Placement, Profile

CommandListener = Callable[[CommandResult], None]
"""Called with every command a target runs with ``record`` on (the drill's evidence)."""


class CommandFailed(HostError):
    """A command run with ``check`` exited non-zero: one line naming the host, the command, its
    exit status and the last line of its output; ``result`` is the whole
    :class:`~stackdrill.hosts.ssh.CommandResult`."""

    def __init__(self, result: CommandResult) -> None:
        last = (result.stderr or result.stdout).strip().splitlines()
        detail = last[-1] if last else "no output"
        super().__init__(f"{result.host}: {result.command!r} exited {result.exit_status}: {detail}")
        self.result = result


class Target:
    """One inventory host as faults, recoveries and probes act on it: shell commands over the
    host's pooled SSH connection (:meth:`run`), its services as the deployment runs them
    (:meth:`service`), its power driver, and the inventory's other hosts (:meth:`peer`).

    A drill hands a fault or a recovery the target of the host its step chose; a snapshot
    hands each probe the target of every host it applies to. Targets come from
    :class:`Targets`, one per host for the whole run and shared by every drill of it (and by
    the snapshot's threads), so keep no state of your own on one. In a dry run (``stackdrill
    plan``) a target cannot connect: every command raises :class:`HostError`, so a fault's
    ``plan`` and a recovery's ``runbook`` must build their text without running anything.

    ``spec`` is the inventory's entry for the host (``name``, ``address``, ``roles``, ``ssh``,
    ``power``), ``inventory`` the whole inventory (its ``services`` map, its profile),
    ``connection`` the pooled :class:`~stackdrill.hosts.ssh.SshConnection` and
    ``power_drivers`` the registered power drivers.
    """

    def __init__(self, spec: HostSpec, connection: SshConnection, inventory: Inventory,
                 listeners: list[CommandListener],
                 power_drivers: PowerDrivers | None = None) -> None:
        self.spec = spec
        self.connection = connection
        self.inventory = inventory
        self._listeners = listeners
        self._os_release: dict[str, str] | None = None
        self.power_drivers = power_drivers if power_drivers is not None else PowerDrivers()
        self._peers: Callable[[str], Target] | None = None

    @property
    def name(self) -> str:
        """The host's name in the inventory (``compute1``), as messages and paths name it."""
        return self.spec.name

    def power_driver(self) -> PowerDriver:
        """This host's power driver, as its inventory entry names it among the registered
        drivers; :class:`~stackdrill.hosts.power.PowerError` when it names none or an unknown
        one."""
        return self.power_drivers.driver(self.spec)

    def __repr__(self) -> str:
        return f"<Target {self.name} {','.join(self.spec.roles)}>"

    def peer(self, name: str) -> Target:
        """Another host of the same inventory by name (this one for its own name), over the
        same connection pool: a fault that cuts this host off observes the cut from the other
        side too. An unknown name is an :class:`~stackdrill.inventory.model.InventoryError`; a
        dry run's target has no peers (:class:`HostError`)."""
        if name == self.name:
            return self
        if self._peers is None:
            raise HostError(f"{self.name}: no other host is reachable from this target")
        return self._peers(name)

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True, retry_on_disconnect: bool | None = None) -> CommandResult:
        """Run ``command`` on the host and return its
        :class:`~stackdrill.hosts.ssh.CommandResult` (exit status, stdout, stderr, timing).

        The command is one shell command line, run by the shell of the inventory's SSH user
        (root on the lab; nothing adds ``sudo``) with no terminal and nothing on its stdin:
        quote every value with :func:`shlex.quote`. A dropped connection is opened again first.

        - A non-zero exit is returned, not raised; with ``check`` it raises
          :class:`CommandFailed`.
        - ``timeout`` is the seconds the whole command may take (default: the host's
          ``ssh.command_timeout``); past it, :class:`~stackdrill.hosts.ssh.HostTimeout`.
        - A host that cannot be reached or drops the connection raises
          :class:`~stackdrill.hosts.ssh.HostUnreachable` (a wrong key or host key, their
          own :class:`HostError` kinds).
        - With ``record`` (the default) the result goes to the listeners: a drill shows it in
          its evidence and in the runbook step running then. Pass ``record=False`` for reads
          repeated while polling, which would bury the commands that acted.
        - With ``retry_on_disconnect``, a command whose connection was lost (``HostUnreachable``)
          runs again on a fresh connection, with backoff, until ``timeout`` has passed; the
          result then says how many attempts it took
          (:func:`~stackdrill.hosts.reconnect.run_reconnecting`). Only for a command that may
          run twice: one whose connection broke after it was sent may have run. Left at None,
          it is on inside :func:`~stackdrill.hosts.reconnect.retrying_on_disconnect` (a fault's
          undo, a recovery's steps and rollback) and off elsewhere (a fault's inject).
        """
        retry = retries_by_default() if retry_on_disconnect is None else retry_on_disconnect
        if retry:
            limit = timeout if timeout is not None else self.spec.ssh.command_timeout
            result = run_reconnecting(self.connection, self.name, command, limit)
        else:
            result = self.connection.run(command, timeout=timeout)
        if record:
            for listener in self._listeners:
                listener(result)
        if check and not result.ok:
            raise CommandFailed(result)
        return result

    def service(self, name: str) -> Service:
        """The handle of service ``name`` (a logical name: ``nova-compute``, ``rabbitmq``) as
        this host runs it under the inventory's deployment profile: state, start, stop,
        restart, kill, main PID, boot state. Faults, recoveries and probes act through it."""
        return Service(self, name)

    def systemctl(self, verb: str, services: Sequence[str], *, check: bool = True,
                  timeout: float | None = None) -> CommandResult:
        """``systemctl <verb>`` of services the host's systemd runs itself (see :meth:`unit`),
        in one command."""
        units = " ".join(shlex.quote(self.unit(s)) for s in services)
        return self.run(f"systemctl {verb} {units}", check=check, timeout=timeout)

    def unit(self, service: str) -> str:
        """The systemd unit of a service the host's systemd runs itself; a one-line
        :class:`HostError` for any other. For code that handles only systemd; the built-ins use
        :meth:`service`, which handles every placement."""
        handle = self.service(service)
        if handle.host_unit is None:
            raise HostError(f"{self.name}: service {service!r} runs as "
                            f"{handle.describe()}, not a systemd unit on the host")
        return handle.host_unit

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
            wrapper = (self.profile.wrapper(explicit.container)
                       if self.inventory.profile_spec.declared else None)
            return Placement(service, "container", container=explicit.container,
                             runtime=explicit.runtime, wrapper=wrapper)
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
        """The deployment profile the inventory names (``packages`` when it names none), loaded
        once; one that cannot be loaded is a :class:`HostError` naming the inventory."""
        from stackdrill.inventory.profiles import ProfileError, load_profile

        try:
            return load_profile(self.inventory.profile, self.inventory.profile_spec.dirs)
        except ProfileError as exc:
            raise HostError(f"{self.inventory.path}: profile: {exc}") from None

    def os_release(self) -> dict[str, str]:
        """This host's ``/etc/os-release`` as a mapping (``ID``, ``VERSION_ID``, ...), read
        once; :class:`CommandFailed` when it cannot be read."""
        if self._os_release is None:
            from stackdrill.inventory.profiles import parse_os_release

            result = self.run("cat /etc/os-release", record=False)
            if not result.ok:
                raise CommandFailed(result)
            self._os_release = parse_os_release(result.stdout)
        return self._os_release

    @cached_property
    def lxc_containers(self) -> list[LxcContainer]:
        """This host's LXC containers (``lxc-ls --fancy``), read once: OpenStack-Ansible names
        a container when it creates it."""
        result = self.run(lxc_list_command(), record=False)
        if not result.ok:
            raise CommandFailed(result)
        return parse_lxc_ls(result.stdout)

    @cached_property
    def host(self) -> testinfra.host.Host:
        """The pytest-testinfra ``host`` API (``host.file(...)``, ``host.process``, ...) over
        this target's pooled connection. Its commands are not recorded in the evidence: use
        :meth:`run` for what a fault or a runbook does."""
        from stackdrill.hosts.testinfra_backend import testinfra_host

        return testinfra_host(self.connection)


class Targets:
    """Every host of an inventory, selectable by name or role: one :class:`Target` per host,
    created when first asked for and kept, over one :class:`~stackdrill.hosts.ssh.SshPool`;
    iterating gives them all, sorted by name. ``listeners`` are called with every command a
    target runs with ``record`` on."""

    def __init__(self, inventory: Inventory, pool: SshPool | None = None,
                 power_drivers: PowerDrivers | None = None) -> None:
        self.inventory = inventory
        self.pool = pool or SshPool(inventory)
        self.power_drivers = power_drivers if power_drivers is not None else PowerDrivers()
        self.listeners: list[CommandListener] = []
        self._targets: dict[str, Target] = {}

    def get(self, name: str) -> Target:
        """The target of host ``name``; an unknown name is an
        :class:`~stackdrill.inventory.model.InventoryError` listing the known ones."""
        if name not in self._targets:
            spec = self.inventory.host(name)
            target = Target(spec, self.pool.get(name), self.inventory, self.listeners,
                            self.power_drivers)
            target._peers = self.get
            self._targets[name] = target
        return self._targets[name]

    def with_role(self, role: str) -> list[Target]:
        """The targets of the hosts carrying ``role``, sorted by name (empty when none does);
        an unknown role is an :class:`~stackdrill.core.errors.InvalidValue`."""
        return [self.get(h.name) for h in self.inventory.with_role(role)]

    def __iter__(self) -> Iterator[Target]:
        return iter([self.get(name) for name in sorted(self.inventory.hosts)])

    def close(self) -> None:
        """Close every pooled connection (a later command connects again)."""
        self.pool.close()
