"""What every recovery after a reboot starts with: wait for the host, then prove it rebooted by
its boot identity (recorded by the fault before it struck), never by SSH answering alone."""

from __future__ import annotations

from typing import Any

from stackdrill.api.runbook import Recovery, RecoveryFailed, ResourceFailed
from stackdrill.core.waiting import WaitTimeout, poll
from stackdrill.hosts.identity import boot_identity
from stackdrill.hosts.ssh import HostError


def wait(check: Any, timeout: float, description: str) -> Any:
    """Poll ``check`` until it returns something true; a timeout fails the runbook step. A
    host that does not answer and a failed API call are retried; a resource in an error state
    (:class:`ResourceFailed`) fails the step at once."""
    failed: list[ResourceFailed] = []

    def attempt() -> Any:
        try:
            return check()
        except ResourceFailed as exc:
            failed.append(exc)
            return True

    try:
        value, _ = poll(attempt, timeout=timeout, interval=1.0, max_interval=3.0,
                        description=description, ignore=(HostError, RecoveryFailed))
    except WaitTimeout as exc:
        raise RecoveryFailed(str(exc)) from exc
    if failed:
        raise RecoveryFailed(f"{description}: {failed[0]}") from failed[0]
    return value


class AfterReboot(Recovery):
    """Base of the runbooks that follow a reboot; subclasses define ``timeout`` in params."""

    def wait_for_host(self) -> None:
        wait(lambda: boot_identity(self.target, timeout=3), self.values["timeout"],
             f"{self.target.name} answering over SSH")

    def prove_reboot(self) -> None:
        before = [f["boot_identity"] for f in self.context.fault_facts if "boot_identity" in f]
        if not before:
            raise RecoveryFailed(f"no boot identity of {self.target.name} was recorded before "
                                 f"the fault; cannot prove a reboot")
        self.target.run("uptime; cat /proc/sys/kernel/random/boot_id")
        if boot_identity(self.target) == before[-1]:
            raise RecoveryFailed(f"{self.target.name} did not reboot: boot identity unchanged")
