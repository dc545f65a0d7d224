"""Host know-how the recoveries share: proving a reboot by the boot identity, waiting for a host
to answer, and reading nova-compute's AMQP connection from the socket table."""

from __future__ import annotations

import pytest

from stackdrill.hostkit.amqp import main_process_connected
from stackdrill.hostkit.reboots import prove_reboot, wait_for_host
from stackdrill.hosts.ssh import CommandResult, HostError, HostTimeout


class BootingHost:
    """A host whose boot identity is ``identity``; it does not answer the first ``silent``
    times it is asked."""

    name = "compute1"

    def __init__(self, identity: str, silent: int = 0) -> None:
        self.identity = identity
        self.silent = silent
        self.commands: list[str] = []

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True) -> CommandResult:
        if self.silent:
            self.silent -= 1
            raise HostError("compute1: connection refused")
        self.commands.append(command)
        return CommandResult("compute1", command, 0, self.identity.replace(" ", "\n"), "", 0, 0)


def test_a_reboot_is_proven_by_a_changed_boot_identity_only() -> None:
    host = BootingHost("boot-b 7")
    prove_reboot(host, [{"boot_identity": "boot-a:100"}])  # type: ignore[arg-type]
    assert "uptime; cat /proc/sys/kernel/random/boot_id" in host.commands
    with pytest.raises(HostError, match="compute1 did not reboot: boot identity unchanged"):
        prove_reboot(host, [{"boot_identity": "boot-b:7"}])  # type: ignore[arg-type]
    with pytest.raises(HostError, match="no boot identity of compute1 was recorded"):
        prove_reboot(host, [{"other": 1}])  # type: ignore[arg-type]


def test_the_wait_for_a_host_retries_until_it_answers() -> None:
    host = BootingHost("boot-b 7", silent=1)
    assert wait_for_host(host, 30.0) == "boot-b:7"  # type: ignore[arg-type]
    with pytest.raises(HostTimeout, match="compute1 answering over SSH"):
        wait_for_host(BootingHost("x 1", silent=1000), 0.2)  # type: ignore[arg-type]


@pytest.mark.parametrize(("output", "connected"), [
    ("main 4242\nESTAB 0 0 10.0.0.31:41234 10.0.0.11:5672 "
     "users:((\"nova-compute\",pid=4242,fd=17))\n", True),
    ("main 4242\nESTAB 0 0 10.0.0.31:41234 10.0.0.11:5672 "
     "users:((\"nova-compute\",pid=4243,fd=17))\n", False),
    ("main 0\n", False),
    ("", False),
])
def test_only_the_main_process_s_connection_counts(output: str, connected: bool) -> None:
    assert main_process_connected(output) is connected
