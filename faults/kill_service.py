"""Kill a service's main process with a signal, as a crash or the OOM killer would."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api.fault import Fault, FaultError
from stackdrill.core.params import Param, boolean, signal_name
from stackdrill.hostkit.units import (
    SOCKETS_PLACEHOLDER,
    reactivating_sockets,
    start_sockets,
    systemctl_command,
    unit_status,
)


class KillService(Fault):
    name = "kill_service"
    description = ("Send a signal to a service's main process. With keep_down, also stop the "
                   "sockets that would start it again (its own and its dependents'), so nothing "
                   "brings it back until someone starts it.")
    params: ClassVar[Mapping[str, Param]] = {
        "service": Param("the service to kill, by its logical name in the inventory"),
        "signal": Param("the signal to send", signal_name, "SIGKILL"),
        "keep_down": Param("stop the sockets that would start it again, so it stays down",
                           boolean, False),
    }

    @property
    def unit(self) -> str:
        return self.target.unit(self.values["service"])

    def plan(self) -> list[str]:
        unit = shlex.quote(self.unit)
        commands = [f"kill -s {self.values['signal'][3:]} $(systemctl show -p MainPID "
                    f"--value {unit})"]
        if self.values["keep_down"]:
            commands.append(f"systemctl stop <{SOCKETS_PLACEHOLDER} {unit} again>")
        return commands

    def prepare(self) -> dict[str, Any]:
        status = unit_status(self.target, self.unit)
        if status.active != "active" or status.main_pid <= 0:
            raise FaultError(f"{self.target.name}: {self.unit} is {status.active}, not running; "
                             f"nothing to kill")
        sockets = reactivating_sockets(self.target, self.unit) if self.values["keep_down"] else []
        return {"unit": self.unit, "main_pid": status.main_pid, "sockets": sockets}

    def inject(self, facts: Mapping[str, Any]) -> None:
        command = f"kill -s {self.values['signal'][3:]} {int(facts['main_pid'])}"
        if facts["sockets"]:
            command += " && " + systemctl_command("stop", facts["sockets"])
        self.target.run(command, check=True)

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        pid = int(facts["main_pid"])
        gone = self.target.run(f"test ! -e /proc/{pid}", record=False).ok
        status = unit_status(self.target, facts["unit"])
        if not gone or status.main_pid == pid:
            return None
        return (f"{facts['unit']} main process {pid} is gone after {self.values['signal']}; "
                f"unit now {status.active} (result {status.result}, "
                f"main pid {status.main_pid or 'none'}, restarts {status.restarts})")

    def undo(self, facts: Mapping[str, Any]) -> None:
        legacy = [facts["socket"]] if facts.get("socket") else []  # older journals
        start_sockets(self.target, facts.get("sockets", legacy))
        self.target.run(systemctl_command("start", [facts["unit"]]), check=True)
        if unit_status(self.target, facts["unit"]).active != "active":
            raise FaultError(f"{self.target.name}: {facts['unit']} did not start again")
