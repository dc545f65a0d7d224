"""systemd units on a target: their state read in one command, and the sockets that would start
a stopped service again. A service as such (whatever runs it) is ``target.service(name)``."""

from __future__ import annotations

import shlex

from stackdrill.hosts.service_commands import ServiceStatus, parse_statuses, status_command
from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import CommandFailed, Target
from stackdrill.inventory.profiles import Placement

SOCKETS_PLACEHOLDER = "the active sockets that would start"

UnitStatus = ServiceStatus
"""A unit's state: ``active`` is its ``ActiveState``."""


def systemctl_command(verb: str, units: list[str]) -> str:
    """``systemctl <verb>`` for each of ``units``, quoted, in one command."""
    return f"systemctl {verb} " + " ".join(shlex.quote(unit) for unit in units)


def restart_hold_file(unit: str) -> str:
    """The runtime drop-in that holds ``unit``'s ``Restart=`` policy off (under ``/run``, so a
    reboot drops it too)."""
    name = unit if "." in unit else f"{unit}.service"
    return f"/run/systemd/system/{name}.d/stackdrill-keep-down.conf"


def hold_restart_command(path: str) -> str:
    """Write the drop-in ``path`` (:func:`restart_hold_file`: ``Restart=no``) and reload
    systemd: a unit with ``Restart=on-failure`` that dies is then not started again by
    systemd."""
    folder = shlex.quote(path.rsplit("/", 1)[0])
    return (f"mkdir -p {folder} && printf '[Service]\\nRestart=no\\n' > {shlex.quote(path)} "
            f"&& systemctl daemon-reload")


def release_restart_command(path: str) -> str:
    """Remove a restart hold written by :func:`hold_restart_command` and reload systemd."""
    return f"rm -f {shlex.quote(path)} && systemctl daemon-reload"


def unit_statuses(target: Target, units: list[str]) -> dict[str, UnitStatus]:
    """The state of each of ``units`` (systemd units on the host: sockets, services), read with
    one ``systemctl show``."""
    if not units:
        return {}
    placements = [Placement(unit, "systemd", unit=unit) for unit in units]
    result = target.run(status_command(placements), record=False)
    if not result.ok:
        raise CommandFailed(result)
    return dict(zip(units, parse_statuses(placements, result.stdout), strict=True))


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


def start_stopped(target: Target, services: list[str], timeout: float = 60.0) -> list[str]:
    """Start, in order, each of ``services`` that is not running (what a runbook stopped before
    it was interrupted); return what was started, and what could not be, one line each."""
    done = []
    for service in services:
        handle = target.service(service)
        if handle.is_running():
            continue
        try:
            handle.start_again(timeout)
        except HostError as exc:
            done.append(f"could not start {service} on {target.name}: {exc}")
            continue
        done.append(f"started {service} on {target.name}")
    return done
