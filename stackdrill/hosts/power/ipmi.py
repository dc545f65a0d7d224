"""IPMI over LAN through pyghmi: chassis power on, off (hard), reset, and status.

Inventory: ``power: {driver: ipmi, address: 10.0.0.21, port: 623, username: admin,
password_env: BMC_PASSWORD, timeout: 60}``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from pyghmi.exceptions import IpmiException  # type: ignore[import-untyped]
from pyghmi.ipmi import command as ipmi_command  # type: ignore[import-untyped]

from stackdrill.hosts.power.bmc import Credentials, DriverBase, credentials, option
from stackdrill.hosts.power.drivers import PowerError
from stackdrill.inventory.model import HostSpec

T = TypeVar("T")
DEADLINE_MARGIN = 15.0  # beyond the driver's own timeout, for a wait=timeout power change


class IpmiPowerDriver(DriverBase):
    kind = "ipmi"
    errors = (IpmiException, OSError)

    def __init__(self, host: HostSpec, options: Mapping[str, Any]) -> None:
        self.address = option(host, options, "address", str)
        self.port = option(host, options, "port", int, 623)
        self.timeout = option(host, options, "timeout", float, 60.0)
        self._credentials: Credentials = credentials(host, options)
        super().__init__(host, f"{self.address}:{self.port}", self._credentials.password)

    def _session(self) -> Any:
        # pyghmi keeps one session per BMC and credentials in this process, and logs in again
        # once the BMC would have timed it out, so sessions are not logged out here (a
        # logged-out session object would be handed out again). It finds its cached session by
        # comparing the credentials with the bytes it stored: pass bytes, or it waits forever
        # on the cached session instead.
        return ipmi_command.Command(bmc=self.address,
                                    userid=self._credentials.username.encode(),
                                    password=self._credentials.password.encode(),
                                    port=self.port, keepalive=False)

    def _bounded(self, action: str, function: Callable[[], T]) -> T:
        """Run a pyghmi call with a hard deadline. pyghmi can wait forever (a BMC that stops
        answering mid-session, a stale cached session); the caller must never hang with it."""
        outcome: list[Any] = []

        def run() -> None:
            try:
                outcome.append((True, function()))
            except BaseException as exc:  # re-raised in the caller's thread
                outcome.append((False, exc))

        worker = threading.Thread(target=run, name=f"ipmi {self.address}", daemon=True)
        worker.start()
        worker.join(self.timeout + DEADLINE_MARGIN)
        if not outcome:
            raise PowerError(self._redact(
                f"{self.host.name}: ipmi {self.label}: {action}: no answer within "
                f"{self.timeout + DEADLINE_MARGIN:.0f}s"))
        ok, value = outcome[0]
        if not ok:
            raise value
        return cast(T, value)

    def _set_power(self, state: str, wait: float | bool) -> None:
        self.call(f"power {state}", lambda: self._bounded(
            f"power {state}", lambda: self._session().set_power(state, wait=wait)))

    def power_off(self) -> None:
        self._set_power("off", self.timeout)

    def power_on(self) -> None:
        self._set_power("on", self.timeout)

    def reset(self) -> None:
        self._set_power("reset", False)

    def is_on(self) -> bool:
        return self.call("power status", lambda: self._bounded(
            "power status", lambda: bool(self._session().get_power()["powerstate"] == "on")))
