"""Reading systemd unit state on a target, in one command."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import CommandFailed, Target
from stackdrill.inventory.profiles import ServiceState

SOCKETS_PLACEHOLDER = "the active sockets that would start"
PROPERTIES = ("ActiveState", "SubState", "MainPID", "Result", "NRestarts", "ExecMainStatus")


@dataclass(frozen=True)
class UnitStatus:
    unit: str
    active: str
    sub: str
    main_pid: int
    result: str
    restarts: int
    exit_status: int


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def systemctl_command(verb: str, units: list[str]) -> str:
    """``systemctl <verb>`` for each of ``units``, quoted, in one command."""
    return f"systemctl {verb} " + " ".join(shlex.quote(unit) for unit in units)


def show_command(units: list[str]) -> str:
    """The one ``systemctl show`` command that reads every unit's state."""
    return f"systemctl show -p {','.join(PROPERTIES)} {' '.join(shlex.quote(u) for u in units)}"


def parse_show(units: list[str], stdout: str) -> dict[str, UnitStatus]:
    blocks = stdout.strip().split("\n\n")
    statuses = {}
    for unit, block in zip(units, blocks, strict=False):
        fields = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        statuses[unit] = UnitStatus(
            unit=unit, active=fields.get("ActiveState", "unknown"),
            sub=fields.get("SubState", "unknown"), main_pid=_int(fields.get("MainPID", "0")),
            result=fields.get("Result", "unknown"), restarts=_int(fields.get("NRestarts", "0")),
            exit_status=_int(fields.get("ExecMainStatus", "0")),
        )
    return statuses


def unit_statuses(target: Target, units: list[str]) -> dict[str, UnitStatus]:
    if not units:
        return {}
    result = target.run(show_command(units), record=False)
    if not result.ok:
        raise CommandFailed(result)
    return parse_show(units, result.stdout)


def unit_status(target: Target, unit: str) -> UnitStatus:
    return unit_statuses(target, [unit])[unit]


def reactivating_sockets(target: Target, unit: str) -> list[str]:
    """The active socket units that would bring ``unit`` back on their next connection: those
    that trigger it (``TriggeredBy``), and those that trigger a service depending on it. A
    socket-activated libvirtd, woken by nova-compute, pulls dbus back in through
    systemd-machined; stopping dbus.socket alone does not keep dbus down."""
    quoted = shlex.quote(unit)
    script = (f"systemctl show -p Id,TriggeredBy {quoted} "
              f"$(systemctl list-dependencies --reverse --plain --all {quoted} "
              f"$(systemctl show -p TriggeredBy --value {quoted}) | grep -o '[^ ]*[.]service$' "
              f"| sort -u)")
    result = target.run(script, record=False)
    if not result.ok:
        raise CommandFailed(result)
    sockets: list[str] = []
    for line in result.stdout.splitlines():
        if line.startswith("TriggeredBy="):
            sockets += [name for name in line.split("=", 1)[1].split()
                        if name.endswith(".socket") and name not in sockets]
    statuses = unit_statuses(target, sockets)
    return [name for name in sockets if statuses[name].active == "active"]


def start_sockets(target: Target, sockets: list[str]) -> None:
    """Start ``sockets`` again. systemd refuses to start a socket whose service already runs
    (started by hand while the socket was stopped), so such a service is stopped first and
    started again together with its sockets. Its other sockets, still listening, stop and start
    with it: one connection in between (nova-compute reconnecting to libvirtd within
    milliseconds) would start the service again, and the socket would be refused."""
    if not sockets:
        return
    statuses = unit_statuses(target, sockets)
    stopped = [name for name in sockets if statuses[name].active != "active"]
    if not stopped:
        return
    running = [name for name, status in
               unit_statuses(target, _show_values(target, "Triggers", stopped)).items()
               if status.active == "active"]
    listening: list[str] = []
    if running:
        others = [name for name in _show_values(target, "TriggeredBy", running)
                  if name.endswith(".socket") and name not in stopped]
        listening = [name for name, status in unit_statuses(target, others).items()
                     if status.active == "active"]
        target.run(systemctl_command("stop", [*listening, *running]), check=True, timeout=120)
    target.run(systemctl_command("start", [*stopped, *listening, *running]), check=True,
               timeout=120)


def _show_values(target: Target, prop: str, units: list[str]) -> list[str]:
    """The ``.socket``/``.service`` names a unit property lists (``Triggers``,
    ``TriggeredBy``), for every unit of ``units``, each once, sorted."""
    result = target.run(systemctl_command(f"show -p {prop} --value", units), record=False)
    if not result.ok:
        raise CommandFailed(result)
    return sorted({name for name in result.stdout.split()
                   if name.endswith((".service", ".socket"))})


def act_and_wait_active(target: Target, unit: str, verb: str = "start",
                        timeout: float = 60.0) -> None:
    """``systemctl <verb> <unit>``, then poll until it is active; on timeout, record its status
    and raise :class:`UnitNotActive`."""
    from stackdrill.core.waiting import WaitTimeout, poll

    target.run(f"systemctl {verb} {shlex.quote(unit)}", check=True, timeout=timeout + 30)
    try:
        poll(lambda: unit_status(target, unit).active == "active", timeout=timeout,
             description=f"{unit} active on {target.name}")
    except WaitTimeout as exc:
        target.run(f"systemctl status --no-pager --lines=20 {shlex.quote(unit)}")
        raise UnitNotActive(str(exc)) from exc
    target.run(f"systemctl is-active {shlex.quote(unit)}")


class UnitNotActive(HostError):
    """A unit did not become active in time; one line."""


def service_state(target: Target, service: str) -> ServiceState:
    """A service's state as the host runs it (systemd unit, container or LXC container),
    through the deployment profile's status command."""
    from stackdrill.inventory.profiles import ProfileError, parse_status

    result = target.run(target.service_command(service, "status"), record=False)
    if not result.ok:
        raise CommandFailed(result)
    try:
        return parse_status(target.placement(service), result.stdout)
    except ProfileError as exc:
        raise HostError(f"{target.name}: {service}: {exc}") from None


def act_on_service(target: Target, service: str, action: str, *, signal: str = "SIGKILL",
                   timeout: float = 60.0) -> None:
    """Start, stop, restart or kill ``service`` with the deployment profile's command; wait
    (polling) until its state says it is running (start, restart) or not (stop)."""
    from stackdrill.core.waiting import WaitTimeout, poll

    target.run(target.service_command(service, action, signal=signal), check=True,
               timeout=timeout + 30)
    if action not in ("start", "restart", "stop"):
        return
    wanted = action != "stop"
    try:
        poll(lambda: service_state(target, service).active is wanted, timeout=timeout,
             description=f"{service} {'running' if wanted else 'stopped'} on {target.name}")
    except WaitTimeout as exc:
        raise UnitNotActive(str(exc)) from exc


def start_again(target: Target, service: str, timeout: float = 60.0) -> None:
    """Start a service that was stopped or failed; a unit that failed may have hit its start
    limit, which ``reset-failed`` clears."""
    target.run(f"systemctl reset-failed {shlex.quote(target.unit(service))}")
    act_on_service(target, service, "start", timeout=timeout)


def start_stopped(target: Target, services: list[str], timeout: float = 60.0) -> list[str]:
    """Start, in order, each of ``services`` that is not running (what a runbook stopped before
    it was interrupted); return what was started, and what could not be, one line each."""
    done = []
    for service in services:
        if service_state(target, service).active:
            continue
        try:
            start_again(target, service, timeout)
        except HostError as exc:
            done.append(f"could not start {service} on {target.name}: {exc}")
            continue
        done.append(f"started {service} on {target.name}")
    return done
