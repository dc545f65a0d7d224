"""libvirt domains through ``virsh``: for DevStack nodes that are virtual machines.

Inventory: ``power: {driver: libvirt, domain: devstack1, uri: qemu+ssh://root@hv1/system}``
(``domain`` defaults to the host's name, ``uri`` to ``qemu:///system``). The hypervisor is
reached by libvirt's own transport, so credentials are libvirt's (an SSH key for qemu+ssh).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from typing import Any

from stackdrill.core.waiting import WaitTimeout, poll
from stackdrill.hosts.power.bmc import DriverBase, option
from stackdrill.hosts.power.drivers import PowerError
from stackdrill.inventory.model import HostSpec


class LibvirtPowerDriver(DriverBase):
    kind = "libvirt"
    errors = (OSError, subprocess.SubprocessError, WaitTimeout)

    def __init__(self, host: HostSpec, options: Mapping[str, Any]) -> None:
        self.domain = option(host, options, "domain", str, host.name)
        self.uri = option(host, options, "uri", str, "qemu:///system")
        self.virsh = option(host, options, "virsh", str, "virsh")
        self.timeout = option(host, options, "timeout", float, 60.0)
        super().__init__(host, f"{self.uri} domain {self.domain}")

    def _virsh(self, *words: str) -> str:
        result = subprocess.run([self.virsh, "--quiet", "-c", self.uri, *words, self.domain],
                                capture_output=True, text=True, timeout=self.timeout,
                                check=False)
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines()
            raise PowerError(f"{self.host.name}: libvirt {self.label}: virsh {words[0]}: "
                             f"{lines[0] if lines else f'exit {result.returncode}'}")
        return result.stdout.strip()

    def state(self) -> str:
        return self.call("domstate", lambda: self._virsh("domstate"))

    def _wait(self, on: bool) -> None:
        poll(lambda: self.is_on() is on, timeout=self.timeout,
             description=f"{self.host.name}: domain {self.domain} {'running' if on else 'off'}")

    def power_off(self) -> None:
        if self.is_on():
            self.call("destroy", lambda: self._virsh("destroy"))
        self.call("destroy", lambda: self._wait(False))

    def power_on(self) -> None:
        if not self.is_on():
            self.call("start", lambda: self._virsh("start"))
        self.call("start", lambda: self._wait(True))

    def reset(self) -> None:
        self.call("reset", lambda: self._virsh("reset"))

    def is_on(self) -> bool:
        return self.state() in ("running", "paused", "in shutdown", "pmsuspended")
