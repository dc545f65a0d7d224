"""Power drivers for real servers and virtual machines: IPMI (pyghmi), Redfish (sushy) and
libvirt (``virsh``). Each is named by ``power.driver`` in the inventory and registered in the
power drivers table by :func:`stackdrill.hosts.power.pytest_stackdrill_register`.

Credentials come from the host's ``power`` options: ``username`` and one of ``password``,
``password_env`` (the name of an environment variable) or ``password_file`` (a file whose first
line is the password). A password never appears in a driver's messages or representation;
:func:`stackdrill.hosts.power.power_secrets` lists them for the report redactor.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from stackdrill.core.evidence import Redactor
from stackdrill.hosts.power.drivers import PowerError
from stackdrill.inventory.model import HostSpec

__all__ = ["Credentials", "DriverBase", "credentials", "option", "password"]

T = TypeVar("T")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)


def option(host: HostSpec, options: Mapping[str, Any], key: str, kind: type[T],
           default: T | None = None) -> T:
    """The power option ``key`` as ``kind``; a missing or mistyped one is a one-line error."""
    value = options.get(key, default)
    driver = options.get("driver")
    if value is None:
        raise PowerError(f"{host.name}: power driver {driver}: missing option {key!r}")
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PowerError(f"{host.name}: power driver {driver}: option {key!r}: expected "
                         f"{kind.__name__}, got {type(value).__name__}")
    return value


def credentials(host: HostSpec, options: Mapping[str, Any]) -> Credentials:
    """Username and password from the host's power options."""
    username = option(host, options, "username", str)
    return Credentials(username, password(host, options))


def password(host: HostSpec, options: Mapping[str, Any]) -> str:
    """The password the host's power options give, or read from the environment or a file."""
    driver = options.get("driver")
    where = f"{host.name}: power driver {driver}"
    given = [key for key in ("password", "password_env", "password_file") if key in options]
    if len(given) != 1:
        raise PowerError(f"{where}: expected exactly one of password, password_env, "
                         f"password_file (got {len(given)})")
    key = given[0]
    raw = option(host, options, key, str)
    if key == "password":
        return raw
    if key == "password_env":
        secret = os.environ.get(raw)
        if not secret:
            raise PowerError(f"{where}: environment variable {raw} is not set")
        return secret
    try:
        lines = Path(raw).expanduser().read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise PowerError(f"{where}: password_file {raw}: {exc.strerror or exc}") from None
    if not lines or not lines[0]:
        raise PowerError(f"{where}: password_file {raw} is empty")
    return lines[0]


class DriverBase:
    """Shared by the drivers: the host, a label for messages, and calls whose failures become
    one-line :class:`PowerError` messages without the password."""

    kind = "power"
    errors: tuple[type[BaseException], ...] = (OSError,)

    def __init__(self, host: HostSpec, label: str, secret: str | None = None) -> None:
        self.host = host
        self.label = label
        self._redact = Redactor()
        self._redact.add(secret)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.host.name} {self.label}>"

    def call(self, action: str, function: Callable[[], T]) -> T:
        try:
            return function()
        except PowerError:
            raise
        except self.errors as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise PowerError(self._redact(
                f"{self.host.name}: {self.kind} {self.label}: {action}: {detail}")) from None
