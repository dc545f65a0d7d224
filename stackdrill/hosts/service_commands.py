"""The exact shell commands that read and change a service where its deployment profile places
it, and the readers of their answers. Pure text: nothing here contacts a host; the service
handle (:mod:`stackdrill.hosts.service`) runs them.

- A systemd unit on the host: ``systemctl``.
- A container: ``docker`` or ``podman``. Where the profile names the systemd unit that wraps a
  container (Kolla-Ansible's ``kolla-<container>-container.service``), start, stop, restart and
  the boot state go through that unit on a host that has it, so that systemd does not start
  again a container it runs with ``Restart=always``; a host without it is acted on through the
  runtime. The state is the runtime's either way.
- A systemd unit inside an LXC container (OpenStack-Ansible): ``lxc-attach -n <container> --
  systemctl ...``; process IDs and sockets are read inside the container too. Without the
  container's full name (a dry run), the command names its group in angle brackets.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from stackdrill.hosts.ssh import HostError
from stackdrill.inventory.profiles import Placement

__all__ = [
    "ACTIONS",
    "BOOT_VERBS",
    "LxcContainer",
    "ServiceStatus",
    "boot_command",
    "command",
    "diagnose_command",
    "find_lxc_container",
    "in_context",
    "inside",
    "kill_command",
    "load_state_command",
    "lxc_list_command",
    "main_pid_command",
    "parse_lxc_ls",
    "parse_statuses",
    "pid_gone_command",
    "pids_command",
    "reset_failed_command",
    "running_test",
    "status_command",
]

ACTIONS: tuple[str, ...] = ("status", "start", "stop", "restart", "kill")
BOOT_VERBS: tuple[str, ...] = ("is-enabled", "disable", "enable")
STATUS_PROPERTIES = ("ActiveState", "SubState", "MainPID", "Result", "NRestarts",
                     "ExecMainStatus")
CONTAINER_FORMAT = ("container {{.Name}} {{.State.Status}} {{.State.Pid}} {{.State.ExitCode}} "
                    "{{.RestartCount}}")
CLEAN_EXITS = frozenset({0, 129, 130, 141, 143})
"""What systemd counts as a clean end: exit 0, or death by SIGHUP, SIGINT, SIGPIPE or SIGTERM
(a container's exit code is then 128 + the signal)."""
CONTAINER_ACTIVE = {"running": "active", "restarting": "activating", "removing": "deactivating",
                    "stopping": "deactivating"}
SECTION = "@@service-status"


@dataclass(frozen=True)
class ServiceStatus:
    """One reading of a service, in systemd's words whatever runs it.

    ``active`` is systemd's ``ActiveState`` (active, inactive, failed, activating,
    deactivating). A container reads active while it runs, activating while it restarts,
    inactive once it ended cleanly or when there is none, failed after any other end. ``sub`` is
    the unit's ``SubState``, or the container's own state (``absent`` when there is none);
    ``result`` is systemd's ``Result`` (success, exit-code, signal, ...).
    """

    active: str
    sub: str
    main_pid: int = 0
    result: str = "unknown"
    restarts: int = 0
    exit_status: int = 0

    @property
    def running(self) -> bool:
        """Whether it is active (not activating, not deactivating)."""
        return self.active == "active"


@dataclass(frozen=True)
class LxcContainer:
    name: str
    state: str
    ipv4: tuple[str, ...] = ()


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _check_signal(signal: str) -> None:
    if not re.fullmatch(r"SIG[A-Z0-9+]+", signal):
        raise HostError(f"signal {signal!r}: expected a name such as SIGKILL")


def _unit(placement: Placement) -> str:
    return cast(str, placement.unit)


def _attach(placement: Placement, lxc_name: str | None) -> str:
    name = f"<{placement.container}>" if lxc_name is None else shlex.quote(lxc_name)
    return f"lxc-attach -n {name} --"


def _argv(placement: Placement, argv: Sequence[str], lxc_name: str | None) -> str:
    """``argv`` where the service runs: on the host, or attached to its LXC container."""
    if placement.kind != "lxc":
        return shlex.join(argv)
    return f"{_attach(placement, lxc_name)} {shlex.join(argv)}"


def in_context(placement: Placement, script: str, lxc_name: str | None = None) -> str:
    """``script`` run where the service's processes live: on the host (a container's processes
    have host PIDs there), or inside its LXC container, whose PIDs and sockets the host does not
    share."""
    if placement.kind != "lxc":
        return script
    return f"{_attach(placement, lxc_name)} sh -c {shlex.quote(script)}"


def inside(placement: Placement, script: str, lxc_name: str | None = None) -> str:
    """``script`` run inside the service's own filesystem, where its tools are (``virsh`` in
    Kolla's ``nova_libvirt``): ``docker exec`` or ``podman exec`` for a container, attached to
    an LXC container, else on the host."""
    if placement.kind != "container":
        return in_context(placement, script, lxc_name)
    return shlex.join([cast(str, placement.runtime), "exec", cast(str, placement.container),
                       "sh", "-c", script])


def running_test(placement: Placement, lxc_name: str | None = None) -> str:
    """A shell condition, true while the service runs, that does not start it (a
    socket-activated unit is only asked ``is-active``)."""
    if placement.kind != "container":
        return _argv(placement, ["systemctl", "is-active", "-q", _unit(placement)], lxc_name)
    state = shlex.join([cast(str, placement.runtime), "container", "inspect", "--format",
                        "{{.State.Status}}", cast(str, placement.container)])
    return f'[ "$({state} 2>/dev/null)" = running ]'


def _through_wrapper(placement: Placement, systemd: str, runtime: str) -> str:
    """``systemd`` on a host that has the container's wrapping unit, else ``runtime``."""
    if placement.wrapper is None:
        return runtime
    unit = shlex.quote(placement.wrapper)
    return f"if systemctl cat {unit} >/dev/null 2>&1; then {systemd}; else {runtime}; fi"


def _systemctl(unit: str, action: str, signal: str, every: bool) -> list[str]:
    if action == "status":
        return ["systemctl", "show", "-p", ",".join(STATUS_PROPERTIES), unit]
    if action == "kill":
        who = "all" if every else "main"
        return ["systemctl", "kill", f"--kill-who={who}", f"--signal={signal}", unit]
    return ["systemctl", action, unit]


def _container(placement: Placement, action: str, signal: str) -> str:
    runtime, name = cast(str, placement.runtime), cast(str, placement.container)
    if action == "status":
        return _inspect(runtime, [name])
    if action == "kill":
        return shlex.join([runtime, "kill", "--signal", signal, name])
    wrapper = placement.wrapper or ""
    return _through_wrapper(placement, shlex.join(["systemctl", action, wrapper]),
                            shlex.join([runtime, action, name]))


def command(placement: Placement, action: str, *, signal: str = "SIGKILL", every: bool = False,
            lxc_name: str | None = None) -> str:
    """The command that performs ``action`` (status, start, stop, restart, kill) on the
    service. ``kill`` signals its main process through its manager, or with ``every`` each of
    its processes (a container's signal goes to its init, whose end ends the others). ``status``
    is read with :func:`parse_statuses`."""
    if action not in ACTIONS:
        raise HostError(f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
    _check_signal(signal)
    if placement.kind == "container":
        return _container(placement, action, signal)
    return _argv(placement, _systemctl(_unit(placement), action, signal, every), lxc_name)


def _main_pid_inner(placement: Placement) -> str:
    if placement.kind == "container":
        return shlex.join([cast(str, placement.runtime), "container", "inspect", "--format",
                           "{{.State.Pid}}", cast(str, placement.container)])
    return shlex.join(["systemctl", "show", "-p", "MainPID", "--value", _unit(placement)])


def main_pid_command(placement: Placement, lxc_name: str | None = None) -> str:
    """Prints the service's main process ID (0 when it runs none)."""
    return in_context(placement, _main_pid_inner(placement), lxc_name)


def pids_command(placement: Placement) -> str:
    """A fragment for :func:`in_context` that prints the IDs of the processes doing the
    service's work on one line: its main process, and for a container also the children of the
    container's init (``dumb-init`` in Kolla's images)."""
    main = _main_pid_inner(placement)
    if placement.kind != "container":
        return main
    return f'pid=$({main}); echo "$pid" $([ "$pid" -gt 0 ] 2>/dev/null && pgrep -P "$pid")'


def kill_command(placement: Placement, signal: str, pid: int | None = None,
                 lxc_name: str | None = None) -> str:
    """``kill -s <signal>`` of the service's main process: ``pid`` when it was read before
    (so that a process started since is spared), else the one running now."""
    _check_signal(signal)
    victim = str(int(pid)) if pid is not None else f"$({_main_pid_inner(placement)})"
    return in_context(placement, f"kill -s {signal[3:]} {victim}", lxc_name)


def pid_gone_command(placement: Placement, pid: int, lxc_name: str | None = None) -> str:
    """Succeeds once process ``pid`` no longer exists where the service runs."""
    return in_context(placement, f"test ! -e /proc/{int(pid)}", lxc_name)


def load_state_command(placement: Placement, lxc_name: str | None = None) -> str:
    """Prints a unit's ``LoadState``: ``loaded`` when it is installed and not masked."""
    return _argv(placement, ["systemctl", "show", "-p", "LoadState", "--value",
                             _unit(placement)], lxc_name)


def reset_failed_command(placement: Placement, lxc_name: str | None = None) -> str | None:
    """Clears a failed unit's start limit; None for a container that no unit wraps."""
    if placement.kind != "container":
        return _argv(placement, ["systemctl", "reset-failed", _unit(placement)], lxc_name)
    if placement.wrapper is None:
        return None
    return _through_wrapper(placement, shlex.join(["systemctl", "reset-failed",
                                                   placement.wrapper]), "true")


def diagnose_command(placement: Placement, lxc_name: str | None = None) -> str:
    """What an operator reads when the service does not come up: its status and last lines of
    log."""
    if placement.kind == "container":
        return shlex.join([cast(str, placement.runtime), "logs", "--tail", "20",
                           cast(str, placement.container)])
    return _argv(placement, ["systemctl", "status", "--no-pager", "--lines=20",
                             _unit(placement)], lxc_name)


def boot_command(placement: Placement, verb: str, lxc_name: str | None = None) -> str:
    """Whether the service starts at boot (``is-enabled``, printing ``enabled`` or another
    word), or keep it from starting (``disable``) or start it and at boot again (``enable``).
    A container that no unit wraps starts at boot by its restart policy: ``always`` and
    ``unless-stopped`` read as enabled; disabling sets ``no``, enabling ``unless-stopped``."""
    if verb not in BOOT_VERBS:
        raise HostError(f"unknown boot verb {verb!r} (known: {', '.join(BOOT_VERBS)})")
    now = ["--now"] if verb == "enable" else []
    if placement.kind != "container":
        return _argv(placement, ["systemctl", verb, *now, _unit(placement)], lxc_name)
    runtime, name = cast(str, placement.runtime), cast(str, placement.container)
    own = {
        "is-enabled": shlex.join([runtime, "container", "inspect", "--format",
                                  "{{.HostConfig.RestartPolicy.Name}}", name])
        + " | awk '{print ($1 == \"always\" || $1 == \"unless-stopped\") ? "
          "\"enabled\" : \"disabled\"}'",
        "disable": shlex.join([runtime, "update", "--restart", "no", name]),
        "enable": shlex.join([runtime, "update", "--restart", "unless-stopped", name])
        + " && " + shlex.join([runtime, "start", name]),
    }[verb]
    wrapper = placement.wrapper or ""
    return _through_wrapper(placement, shlex.join(["systemctl", verb, *now, wrapper]), own)


# -- reading many services in one command ---------------------------------------------------------

@dataclass(frozen=True)
class _Group:
    """Services read by one command: the host's units, one runtime's containers, or the units
    of one LXC container."""

    kind: str
    key: str  # the runtime, or the LXC container group
    names: tuple[str, ...]  # units or containers, each once


def _group_of(placement: Placement) -> tuple[tuple[str, str], str]:
    """The group that reads ``placement`` (kind and runtime or LXC group), and its name there."""
    if placement.kind == "container":
        return (placement.kind, cast(str, placement.runtime)), cast(str, placement.container)
    return (placement.kind, placement.container or ""), _unit(placement)


def _groups(placements: Sequence[Placement]) -> list[_Group]:
    found: dict[tuple[str, str], list[str]] = {}
    for placement in placements:
        key, name = _group_of(placement)
        names = found.setdefault(key, [])
        if name not in names:
            names.append(name)
    return [_Group(kind, key, tuple(names)) for (kind, key), names in found.items()]


def _inspect(runtime: str, containers: Sequence[str]) -> str:
    """The runtime's view of ``containers``, one ``container`` line each; a container that is
    not there prints its runtime's "no such" line, and any other answer is an error."""
    return (shlex.join([runtime, "container", "inspect", "--format", CONTAINER_FORMAT,
                        *containers]) + " 2>&1 || true")


def _group_command(group: _Group, lxc_names: Mapping[str, str]) -> str:
    if group.kind == "container":
        return _inspect(group.key, group.names)
    show = ["systemctl", "show", "-p", ",".join(STATUS_PROPERTIES), *group.names]
    if group.kind == "systemd":
        return shlex.join(show)
    placement = Placement("", "lxc", container=group.key)
    return _argv(placement, show, lxc_names.get(group.key))


def status_command(placements: Sequence[Placement],
                   lxc_names: Mapping[str, str] | None = None) -> str:
    """One command that reads every service of ``placements``: one ``systemctl show`` for the
    host's units, one ``inspect`` per container runtime, one ``systemctl show`` per LXC
    container (``lxc_names``: a container group's full name on the host)."""
    commands = [_group_command(group, lxc_names or {}) for group in _groups(placements)]
    if len(commands) == 1:
        return commands[0]
    return "\n".join(f'{command}\necho "{SECTION} $?"' for command in commands)


def _sections(output: str, count: int) -> list[str]:
    if count == 1:
        return [output]
    sections: list[str] = []
    lines: list[str] = []
    for line in output.splitlines():
        if not line.startswith(f"{SECTION} "):
            lines.append(line)
            continue
        status = line.split()[-1]
        if status != "0":
            detail = next((text for text in reversed(lines) if text.strip()), "no output")
            raise HostError(f"service status: exited {status}: {detail}")
        sections.append("\n".join(lines))
        lines = []
    if len(sections) != count:
        raise HostError(f"service status: {len(sections)} of {count} answers")
    return sections


def _systemd_statuses(group: _Group, text: str) -> dict[str, ServiceStatus]:
    blocks = [b for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    if len(blocks) < len(group.names):
        missing = group.names[len(blocks)]
        raise HostError(f"systemctl show said nothing of {missing}")
    statuses = {}
    for unit, block in zip(group.names, blocks, strict=False):
        fields = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        statuses[unit] = ServiceStatus(
            active=fields.get("ActiveState", "unknown"), sub=fields.get("SubState", "unknown"),
            main_pid=_int(fields.get("MainPID", "0")), result=fields.get("Result", "unknown"),
            restarts=_int(fields.get("NRestarts", "0")),
            exit_status=_int(fields.get("ExecMainStatus", "0")))
    return statuses


def _container_status(state: str, pid: int, code: int, restarts: int) -> ServiceStatus:
    active = CONTAINER_ACTIVE.get(state)
    if active is None:
        ended_badly = state == "dead" or (state in ("exited", "stopped")
                                          and code not in CLEAN_EXITS)
        active = "failed" if ended_badly else "inactive"
    result = "success" if code in CLEAN_EXITS else "signal" if code > 128 else "exit-code"
    return ServiceStatus(active=active, sub=state, main_pid=pid, result=result,
                         restarts=restarts, exit_status=code)


def _container_statuses(group: _Group, text: str) -> dict[str, ServiceStatus]:
    statuses: dict[str, ServiceStatus] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 6 and fields[0] == "container":
            _, name, state, pid, code, restarts = fields
            statuses[name.lstrip("/")] = _container_status(state, _int(pid), _int(code),
                                                           _int(restarts))
        elif line.strip() and "no such" not in line.lower():
            raise HostError(f"{group.key}: {line.strip()}")
    return {name: statuses.get(name, ServiceStatus("inactive", "absent"))
            for name in group.names}


def parse_statuses(placements: Sequence[Placement], output: str) -> list[ServiceStatus]:
    """Each service's status, in the order of ``placements``, from the output of
    :func:`status_command`."""
    groups = _groups(placements)
    read: dict[tuple[str, str], dict[str, ServiceStatus]] = {}
    for group, text in zip(groups, _sections(output, len(groups)), strict=True):
        parse = _container_statuses if group.kind == "container" else _systemd_statuses
        read[(group.kind, group.key)] = parse(group, text)
    return [read[key][name] for key, name in map(_group_of, placements)]


# -- LXC containers (OpenStack-Ansible) -----------------------------------------------------------

def lxc_list_command() -> str:
    """The command whose output :func:`parse_lxc_ls` reads."""
    return "lxc-ls --fancy"


def parse_lxc_ls(text: str) -> list[LxcContainer]:
    """``lxc-ls --fancy`` (``lxc-ls -f``): NAME STATE AUTOSTART GROUPS IPV4 IPV6 UNPRIVILEGED,
    columns aligned under the header; empty cells are ``-``."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    header = lines[0]
    columns = [(m.group(), m.start()) for m in re.finditer(r"\S+", header)]
    if not columns or columns[0][0] != "NAME":
        raise HostError("lxc-ls --fancy: expected a header starting with NAME")
    result = []
    for line in lines[1:]:
        cells: dict[str, str] = {}
        for index, (title, start) in enumerate(columns):
            end = columns[index + 1][1] if index + 1 < len(columns) else len(line)
            cells[title] = line[start:end].strip()
        ipv4 = tuple(a.strip() for a in cells.get("IPV4", "-").split(",") if a.strip() != "-")
        result.append(LxcContainer(name=cells["NAME"], state=cells.get("STATE", ""),
                                   ipv4=tuple(a for a in ipv4 if a)))
    return result


def find_lxc_container(containers: Iterable[LxcContainer], group: str) -> str:
    """The one container of OpenStack-Ansible group ``group`` (``<host>_<group>-<hex>``, or
    ``<host>-<group with hyphens>-<hex>`` as recent OpenStack-Ansible releases name new
    containers), or the container named exactly ``group``."""
    containers = list(containers)
    if any(c.name == group for c in containers):
        return group
    loose = "[_-]".join(re.escape(part) for part in re.split(r"[_-]", group))
    pattern = re.compile(rf"^(?:.+[_-])?{loose}-[0-9a-f]{{8}}$")
    found = sorted(c.name for c in containers if pattern.match(c.name))
    if len(found) != 1:
        what = "no container" if not found else f"{len(found)} containers ({', '.join(found)})"
        raise HostError(f"LXC container group {group}: {what} on this host")
    return found[0]
