"""``restart_frozen_service``: the runbook finds the service's stopped processes by the state
``/proc/<pid>/status`` gives them (``T``), refuses to restart a service none of whose processes
is stopped, restarts it, and checks that it runs again with no process stopped. A fake host
answers the commands as the frozen, then restarted, service would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from stackdrill.builtin.faults.freeze_service import FreezeService
from stackdrill.builtin.recovery.restart_frozen_service import RestartFrozenService

from stackdrill.api._registry import load_registries
from stackdrill.api._runbook import RecoveryFailed
from stackdrill.hostkit.processes import parse_states, stopped
from stackdrill.hosts.service import Service
from stackdrill.hosts.ssh import CommandResult
from stackdrill.inventory.loader import load_inventory
from stackdrill.inventory.model import Inventory

SHOW = "ActiveState=active\nSubState=running\nMainPID={pid}\nResult=success\nNRestarts=0\n"


class Controller:
    """nova-conductor's processes: 400 to 402 stopped by SIGSTOP until a restart replaces them
    with 500 and 501, running."""

    def __init__(self, inventory: Inventory, frozen: bool = True) -> None:
        self.name = "controller"
        self.inventory = inventory
        self.spec = inventory.hosts["controller"]
        self.pids = {400: "T" if frozen else "S", 401: "T" if frozen else "S", 402: "S"}
        self.ran: list[str] = []

    def service(self, name: str) -> Service:
        return Service.for_unit(self, name)  # type: ignore[arg-type]

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True) -> CommandResult:
        self.ran.append(command)
        out = ""
        if command.startswith("systemctl restart"):
            self.pids = {500: "S", 501: "R"}
        elif command.startswith("systemctl show -p ActiveState"):
            out = SHOW.format(pid=min(self.pids))
        elif command.startswith("todo="):
            out = "".join(f"{pid}\n" for pid in self.pids)
        elif command.startswith("for p in"):
            asked = command.split(";", 1)[0].split()[3:]
            out = "".join(f"{pid} {self.pids.get(int(pid), 'gone')}\n" for pid in asked)
        return CommandResult(self.name, command, 0, out, "", 0.0, 0.0)


@pytest.fixture
def inventory(tmp_path: Path) -> Inventory:
    path = tmp_path / "inventory.yaml"
    path.write_text("hosts:\n  controller: {address: 192.0.2.10, roles: [controller]}\n")
    return load_inventory(path)


def _run(recovery: RestartFrozenService) -> list[Any]:
    return [step.action() for step in recovery.runbook()]


def test_the_stopped_processes_are_found_by_their_state_then_the_service_restarted(
        inventory: Inventory) -> None:
    host = Controller(inventory)
    recovery = RestartFrozenService(host, {"service": "nova-conductor"})  # type: ignore[arg-type]
    titles = [step.title for step in recovery.runbook()]
    assert titles == [
        "Find the stopped processes of nova-conductor on controller (State: T in "
        "/proc/<pid>/status, ps's STAT)",
        "Restart nova-conductor on controller",
        "Check that nova-conductor on controller runs and no process of it reads State: T"]
    found, _, _ = _run(recovery)
    assert found == [400, 401]
    assert "systemctl restart nova-conductor" in host.ran
    reads = [c for c in host.ran if c.startswith("for p in")]
    assert reads[0].startswith("for p in 400 401 402;") and reads[-1].startswith(
        "for p in 500 501;")


def test_a_service_none_of_whose_processes_is_stopped_is_not_restarted(
        inventory: Inventory) -> None:
    host = Controller(inventory, frozen=False)
    recovery = RestartFrozenService(host, {"service": "nova-conductor"})  # type: ignore[arg-type]
    with pytest.raises(RecoveryFailed) as failed:
        recovery.runbook()[0].action()
    assert str(failed.value) == (
        "controller: no process of nova-conductor reads State: T in /proc (processes: 400 S, "
        "401 S, 402 S); it is not frozen, and nothing was restarted")
    assert not any(c.startswith("systemctl restart") for c in host.ran)


def test_the_plan_shows_the_commands_that_read_the_states(inventory: Inventory) -> None:
    recovery = RestartFrozenService(Controller(inventory),  # type: ignore[arg-type]
                                    {"service": "nova-conductor"})
    first = recovery.runbook()[0].commands
    assert first[0].startswith('todo="$(systemctl show -p MainPID --value nova-conductor')
    assert first[1].startswith("for p in <each process>; do s=$(sed -n")
    assert "/proc/$p/status" in first[1]


def test_states_are_read_as_proc_gives_them() -> None:
    states = parse_states("7 T\n8 S\n9 gone\n10 D\n")
    assert stopped(states) == [7]


def test_the_recovery_and_the_fault_are_registered_under_their_module_names() -> None:
    found = load_registries()
    assert found.recoveries.get("restart_frozen_service") is RestartFrozenService
    assert found.faults.get("freeze_service") is FreezeService
