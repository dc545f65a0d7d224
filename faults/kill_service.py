"""Kill a service's main process with a signal, as a crash or the OOM killer would."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Fault, FaultError
from stackdrill.core.params import Param, boolean, signal_name
from stackdrill.hostkit.units import (
    SOCKETS_PLACEHOLDER,
    hold_restart_command,
    reactivating_sockets,
    release_restart_command,
    restart_hold_file,
    start_sockets,
    systemctl_command,
)
from stackdrill.hosts.service import Service


class KillService(Fault):
    name = "kill_service"
    description = ("Send a signal to a service's main process, however the deployment runs it "
                   "(a systemd unit, a container, a unit in an LXC container). With keep_down, "
                   "hold off the unit's own Restart= policy (a runtime drop-in) and stop the "
                   "sockets that would start it again (its own and its dependents'), so nothing "
                   "brings it back until someone starts it.")
    params: ClassVar[Mapping[str, Param]] = {
        "service": Param("the service to kill, by its logical name in the inventory"),
        "signal": Param("the signal to send", signal_name, "SIGKILL"),
        "keep_down": Param("hold off its Restart= policy and stop the sockets that would start "
                           "it again, so it stays down",
                           boolean, False),
    }

    @property
    def service(self) -> Service:
        return self.target.service(self.values["service"])

    def _kept_down(self, service: Service) -> str | None:
        """The host unit whose sockets keep_down stops; None without keep_down. A service that
        is not a systemd unit on the host has no sockets, and its manager (a container's
        restart policy) brings it back: keep_down is refused for it."""
        if not self.values["keep_down"]:
            return None
        if service.host_unit is None:
            raise FaultError(f"{self.target.name}: keep_down: {service.name} runs as "
                             f"{service.describe()}, which no socket keeps down")
        return service.host_unit

    def plan(self) -> list[str]:
        service = self.service
        commands = [service.kill_command(self.values["signal"])]
        unit = self._kept_down(service)
        if unit is not None:
            commands.insert(0, hold_restart_command(restart_hold_file(unit)))
            commands.append(f"systemctl stop <{SOCKETS_PLACEHOLDER} {shlex.quote(unit)} again>")
        return commands

    def prepare(self) -> dict[str, Any]:
        service = self.service
        unit = self._kept_down(service)
        status = service.status()
        if not status.running or status.main_pid <= 0:
            raise FaultError(f"{self.target.name}: {service.label} is {status.active}, not "
                             f"running; nothing to kill")
        sockets = reactivating_sockets(self.target, unit) if unit else []
        return {"service": service.name, "unit": service.label, "main_pid": status.main_pid,
                "sockets": sockets, "restart_hold": restart_hold_file(unit) if unit else None}

    def _journalled(self, facts: Mapping[str, Any]) -> Service:
        """The service the facts name; a journal written before services had handles names
        only a systemd unit on the host."""
        if "service" in facts:
            return self.target.service(facts["service"])
        return Service.for_unit(self.target, facts["unit"])

    def inject(self, facts: Mapping[str, Any]) -> None:
        command = self._journalled(facts).kill_command(self.values["signal"],
                                                       int(facts["main_pid"]))
        if facts["sockets"]:
            command += " && " + systemctl_command("stop", facts["sockets"])
        if facts.get("restart_hold"):
            command = f"{hold_restart_command(str(facts['restart_hold']))} && {command}"
        self.target.run(command, check=True)

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """The main process recorded before the injection is gone, and the service's main
        process is no longer it (a restarted service has a new one); kept down, the service
        does not run at all."""
        pid = int(facts["main_pid"])
        service = self._journalled(facts)
        gone = service.pid_gone(pid)
        status = service.status()
        if not gone or status.main_pid == pid:
            return None
        if facts.get("restart_hold") and status.running:
            return None
        noun = "container" if service.kind == "container" else "unit"
        return (f"{facts['unit']} main process {pid} is gone after {self.values['signal']}; "
                f"{noun} now {status.active} (result {status.result}, "
                f"main pid {status.main_pid or 'none'}, restarts {status.restarts})")

    def undo(self, facts: Mapping[str, Any]) -> None:
        """Lift the restart hold, start the sockets the injection stopped, then the service;
        fails if it does not run."""
        if facts.get("restart_hold"):
            self.target.run(release_restart_command(str(facts["restart_hold"])), check=True)
        legacy = [facts["socket"]] if facts.get("socket") else []  # older journals
        start_sockets(self.target, facts.get("sockets", legacy))
        service = self._journalled(facts)
        self.target.run(service.command("start"), check=True)
        if not service.is_running():
            raise FaultError(f"{self.target.name}: {facts['unit']} did not start again")
