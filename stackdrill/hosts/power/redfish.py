"""Redfish through sushy: ComputerSystem.Reset (On, ForceOff, ForceRestart) and PowerState.

Inventory: ``power: {driver: redfish, url: https://10.0.0.21, system: /redfish/v1/Systems/1,
username: admin, password_env: BMC_PASSWORD, verify: true, timeout: 60}``. Without ``system``
the BMC must manage exactly one system. ``verify`` is true, false, or a CA bundle's path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
import sushy  # type: ignore[import-untyped]
from sushy import auth as sushy_auth
from sushy import exceptions as sushy_errors

from stackdrill.core.waiting import WaitTimeout, poll
from stackdrill.hosts.power.bmc import Credentials, DriverBase, credentials, option
from stackdrill.hosts.power.drivers import PowerError
from stackdrill.inventory.model import HostSpec


class RedfishPowerDriver(DriverBase):
    kind = "redfish"
    errors = (sushy_errors.SushyError, requests.RequestException, OSError, WaitTimeout)

    def __init__(self, host: HostSpec, options: Mapping[str, Any]) -> None:
        self.url = option(host, options, "url", str).rstrip("/")
        system = options.get("system")
        self.system = None if system is None else option(host, options, "system", str)
        verify = options.get("verify", True)
        if not isinstance(verify, bool | str):
            raise PowerError(f"{host.name}: power driver redfish: option 'verify': expected "
                             f"true, false or a CA bundle path")
        self.verify: bool | str = verify
        self.timeout = option(host, options, "timeout", float, 60.0)
        self._credentials: Credentials = credentials(host, options)
        super().__init__(host, self.url, self._credentials.password)

    def _system(self) -> Any:
        basic = sushy_auth.BasicAuth(username=self._credentials.username,
                                     password=self._credentials.password)
        connection = sushy.Sushy(self.url, auth=basic, verify=self.verify,
                                 read_timeout=self.timeout, server_side_retries=0)
        path = self.system
        if path is None:
            members = sorted(connection.get_system_collection().members_identities)
            if len(members) != 1:
                raise PowerError(f"{self.host.name}: redfish {self.url}: {len(members)} systems "
                                 f"({', '.join(members)}); name one with the 'system' option")
            path = members[0]
        elif not path.startswith("/"):
            path = f"/redfish/v1/Systems/{path}"
        return connection.get_system(path)

    def _reset(self, reset_type: Any, wanted: Any | None) -> None:
        def act() -> None:
            system = self._system()
            system.reset_system(reset_type)
            if wanted is None:
                return

            def reached() -> bool:
                system.refresh(force=True)
                return bool(system.power_state == wanted)

            poll(reached, timeout=self.timeout,
                 description=f"{self.host.name}: redfish power state {wanted.value}")

        self.call(f"reset {reset_type.value}", act)

    def power_off(self) -> None:
        self._reset(sushy.ResetType.FORCE_OFF, sushy.PowerState.OFF)

    def power_on(self) -> None:
        self._reset(sushy.ResetType.ON, sushy.PowerState.ON)

    def reset(self) -> None:
        self._reset(sushy.ResetType.FORCE_RESTART, None)

    def is_on(self) -> bool:
        return self.call("power state",
                         lambda: bool(self._system().power_state == sushy.PowerState.ON))
