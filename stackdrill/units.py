"""Reading systemd unit state on a target, in one command."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import CommandFailed, Target

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


def unit_statuses(target: Target, units: list[str]) -> dict[str, UnitStatus]:
    if not units:
        return {}
    props = ",".join(PROPERTIES)
    quoted = " ".join(shlex.quote(u) for u in units)
    result = target.run(f"systemctl show -p {props} {quoted}", record=False)
    if not result.ok:
        raise CommandFailed(result)
    blocks = result.stdout.strip().split("\n\n")
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


def unit_status(target: Target, unit: str) -> UnitStatus:
    return unit_statuses(target, [unit])[unit]


def act_and_wait_active(target: Target, unit: str, verb: str = "start",
                        timeout: float = 60.0) -> None:
    """``systemctl <verb> <unit>``, then poll until it is active; on timeout, record its status
    and raise :class:`UnitNotActive`."""
    from stackdrill.waiting import WaitTimeout, poll

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
