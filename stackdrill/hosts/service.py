"""One service on one host, as the inventory's deployment profile runs it: ``target.service(name)``.

Every fault, recovery and probe that acts on a service or observes one goes through this handle,
so a service means one thing whether a systemd unit on the host runs it, a Docker or Podman
container (Kolla-Ansible, with its ``kolla-<container>-container.service`` wrapper where the host
has one) or a systemd unit inside an OpenStack-Ansible LXC container. Its state reads in
systemd's words (:class:`~stackdrill.hosts.service_commands.ServiceStatus`) whatever runs it.
The commands are :mod:`stackdrill.hosts.service_commands`; their text is what plans and
journals show.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from stackdrill.core.waiting import WaitTimeout, poll
from stackdrill.hosts import service_commands as commands
from stackdrill.hosts.service_commands import ServiceStatus
from stackdrill.hosts.ssh import HostError
from stackdrill.inventory.profiles import Placement

if TYPE_CHECKING:
    from stackdrill.hosts.target import Target

__all__ = ["Service", "ServiceStatus", "parse_statuses", "status_command"]


class Service:
    """The handle of service ``name`` on ``target``: its state and main process, start, stop,
    restart, kill, and whether it starts at boot. Where it runs is looked up once, when first
    needed (:meth:`Target.placement`); a placement that cannot be resolved is a
    :class:`~stackdrill.hosts.ssh.HostError`.

    ``target.service(name)`` makes a new handle each time; a handle keeps no state but its
    placement. The methods that act (start, stop, restart, kill) run their command with
    ``record`` on, so the evidence and the runbook step show it; the reads (status, presence)
    do not, since they are polled. The ``*_command`` methods, ``shell``, ``inside`` and
    ``running_test`` only build text, for a plan or a probe's fragment (a service in an LXC
    container first reads the host's container names, once per host).
    """

    def __init__(self, target: Target, name: str) -> None:
        self.target = target
        self.name = name

    @classmethod
    def for_unit(cls, target: Target, unit: str) -> Service:
        """The handle of a systemd unit on the host named by its unit name, whatever the
        profile says (a fact journalled before services had handles)."""
        handle = cls(target, unit)
        handle.__dict__["placement"] = Placement(unit, "systemd", unit=unit)
        return handle

    def __repr__(self) -> str:
        return f"<Service {self.name} on {self.target.name}>"

    # -- where it runs ---------------------------------------------------------------------------

    @cached_property
    def placement(self) -> Placement:
        """Where and how the service runs (:meth:`Target.placement`), looked up once."""
        return self.target.placement(self.name)

    @property
    def kind(self) -> str:
        """``systemd`` (a unit on the host), ``container`` or ``lxc``."""
        return self.placement.kind

    @property
    def unit(self) -> str | None:
        """The systemd unit: on the host, inside the LXC container, or the one the profile
        says wraps the container."""
        return self.placement.wrapper if self.kind == "container" else self.placement.unit

    @property
    def container(self) -> str | None:
        """The container (Docker or Podman), or the LXC container group."""
        return self.placement.container

    @property
    def host_unit(self) -> str | None:
        """The systemd unit when the service is one on the host itself, whose sockets can
        start it again; None otherwise."""
        return self.placement.unit if self.kind == "systemd" else None

    @property
    def label(self) -> str:
        """What titles and messages call it: its unit, or its container."""
        if self.kind == "container":
            return str(self.placement.container)
        return str(self.placement.unit)

    def describe(self) -> str:
        """Its placement in words, for messages: ``unit rabbitmq-server``, ``docker container
        rabbitmq`` or ``unit nova-api in LXC container nova_api_container``."""
        return self.placement.describe()

    def lxc_name(self) -> str | None:
        """The LXC container's full name on this host (looked up once per host); None for a
        service outside LXC."""
        if self.kind != "lxc":
            return None
        containers = self.target.lxc_containers
        try:
            return commands.find_lxc_container(containers, str(self.placement.container))
        except HostError as exc:
            raise HostError(f"{self.target.name}: {self.name}: {exc}") from None

    # -- commands, as plans and journals show them -----------------------------------------------

    def command(self, action: str, *, signal: str = "SIGKILL", every: bool = False) -> str:
        """The command that performs ``action``: status, start, stop, restart or kill
        (``kill`` sends ``signal`` to the main process, or with ``every`` to each of its
        processes)."""
        return commands.command(self.placement, action, signal=signal, every=every,
                                lxc_name=self.lxc_name())

    def kill_command(self, signal: str = "SIGKILL", pid: int | None = None) -> str:
        """``kill -s`` of the main process: ``pid`` if given, else the one running now."""
        return commands.kill_command(self.placement, signal, pid, self.lxc_name())

    def main_pid_command(self) -> str:
        """The command printing its main process's ID (0 when it runs none)."""
        return commands.main_pid_command(self.placement, self.lxc_name())

    def boot_command(self, verb: str) -> str:
        """``is-enabled``, ``disable`` or ``enable`` (which also starts it)."""
        return commands.boot_command(self.placement, verb, self.lxc_name())

    def shell(self, script: str) -> str:
        """``script`` run where the service's processes and sockets are seen: the host, or
        its LXC container."""
        return commands.in_context(self.placement, script, self.lxc_name())

    def inside(self, script: str) -> str:
        """``script`` run inside the service's own filesystem, where its tools are (``docker
        exec`` for a container)."""
        return commands.inside(self.placement, script, self.lxc_name())

    def running_test(self) -> str:
        """A shell condition, true while it runs, that does not start it."""
        return commands.running_test(self.placement, self.lxc_name())

    def pids_script(self) -> str:
        """A fragment for :meth:`shell` printing, on one line, the IDs of the processes doing
        the service's work (its main process; a container's init and the init's children)."""
        return commands.pids_command(self.placement)

    # -- reading ---------------------------------------------------------------------------------

    def status(self) -> ServiceStatus:
        """Its state now, in systemd's words whatever runs it (one command, not recorded);
        :class:`~stackdrill.hosts.target.CommandFailed` when it cannot be read."""
        result = self.target.run(self.command("status"), check=True, record=False)
        return commands.parse_statuses([self.placement], result.stdout)[0]

    def is_running(self) -> bool:
        """Whether it is active now (:attr:`ServiceStatus.running`)."""
        return self.status().running

    def main_pid(self) -> int:
        """The main process's ID now, 0 when it runs none."""
        return self.status().main_pid

    def is_present(self) -> bool:
        """Whether this host has the service at all: its unit loaded (installed, not masked),
        its container, or the LXC container it runs in."""
        if self.kind == "container":
            return self.status().sub != "absent"
        try:
            lxc_name = self.lxc_name()
        except HostError:  # no container of its group on this host
            return False
        result = self.target.run(commands.load_state_command(self.placement, lxc_name),
                                 record=False)
        return result.ok and result.stdout.strip() == "loaded"

    def pid_gone(self, pid: int) -> bool:
        """Process ``pid`` no longer exists where the service runs."""
        gone = commands.pid_gone_command(self.placement, pid, self.lxc_name())
        return self.target.run(gone, record=False).ok

    # -- acting ----------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        """Start it and wait until it runs (:meth:`act`)."""
        self.act("start", timeout=timeout)

    def stop(self, timeout: float = 60.0) -> None:
        """Stop it and wait until it no longer runs (:meth:`act`)."""
        self.act("stop", timeout=timeout)

    def restart(self, timeout: float = 60.0) -> None:
        """Restart it and wait until it runs (:meth:`act`)."""
        self.act("restart", timeout=timeout)

    def act(self, action: str, *, timeout: float = 60.0) -> None:
        """Start, stop or restart, then poll its state until it runs (start, restart) or no
        longer does (stop); a :class:`HostError` naming it when that takes over ``timeout``."""
        self.target.run(self.command(action), check=True, timeout=timeout + 30)
        if action in ("start", "restart", "stop"):
            self.wait_until(action != "stop", timeout)

    def start_again(self, timeout: float = 60.0) -> None:
        """Start a service that was stopped or failed: a unit that failed may have hit its start
        limit, which ``systemctl reset-failed`` clears first."""
        reset = commands.reset_failed_command(self.placement, self.lxc_name())
        if reset is not None:
            self.target.run(reset)
        self.start(timeout)

    def kill(self, signal: str = "SIGKILL", *, pid: int | None = None,
             every: bool = False) -> None:
        """Send ``signal`` to its main process (``pid`` when read before, so that a process
        started since is spared), or with ``every`` to each of its processes."""
        text = self.command("kill", signal=signal, every=True) if every else \
            self.kill_command(signal, pid)
        self.target.run(text, check=True)

    def wait_until(self, running: bool, timeout: float) -> None:
        """Poll until it runs (or, ``running`` False, no longer does: a unit that failed at its
        stop is stopped too). At the deadline its status and last log lines are recorded, and
        :class:`HostError` says which state it did not reach."""
        wanted = "running" if running else "stopped"
        try:
            poll(lambda: self.status().running is running, timeout=timeout,
                 description=f"{self.name} {wanted} on {self.target.name}")
        except WaitTimeout as exc:
            self.target.run(commands.diagnose_command(self.placement, self.lxc_name()))
            raise HostError(str(exc)) from exc


def status_command(services: Sequence[Service]) -> str:
    """One command that reads every service of ``services`` (a probe's fragment)."""
    names = {s.container: str(s.lxc_name()) for s in services if s.kind == "lxc"}
    return commands.status_command([s.placement for s in services],
                                   {str(k): v for k, v in names.items()})


def parse_statuses(services: Sequence[Service], output: str) -> list[ServiceStatus]:
    """Each service's status, in order, from the output of :func:`status_command`."""
    return commands.parse_statuses([s.placement for s in services], output)
