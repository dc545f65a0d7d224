"""The secrets the harness knows of, registered with the redactor before anything is reported.

* The inventory's power options: the BMC password each host's driver would use (given, or read
  from the environment or a file), any other option named like a secret, and a password written
  into a URL (``qemu+ssh://user:pw@host/system``).
* The clouds.yaml entry's credentials: every ``auth`` value under a key naming a password, a
  secret or a token (``password``, ``application_credential_secret``, ``token``, ...).

Database passwords are registered where a DSN is read (:func:`stackdrill.cloud.access.database`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from stackdrill.evidence import Redactor
from stackdrill.inventory import HostSpec, Inventory
from stackdrill.power import power_secrets

__all__ = ["auth_secrets", "inventory_redactor", "inventory_secrets", "is_secret_key"]

SECRET_WORDS = ("password", "passwd", "passcode", "secret", "token")
# option names that say where a secret is, not what it is
_POINTERS = ("_env", "_file")


def is_secret_key(key: str) -> bool:
    """Whether a configuration key names a secret value."""
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS) and not lowered.endswith(_POINTERS)


def _url_password(value: str) -> str | None:
    if "://" not in value:
        return None
    try:
        password = urlsplit(value).password
    except ValueError:
        return None
    return unquote(password) if password else None


def _secret_values(data: Mapping[str, Any]) -> Iterable[str]:
    for key, value in data.items():
        if isinstance(value, Mapping):
            yield from _secret_values(value)
        elif isinstance(value, str):
            if is_secret_key(str(key)):
                yield value
            found = _url_password(value)
            if found:
                yield found


def auth_secrets(auth: Mapping[str, Any] | None) -> list[str]:
    """The secret values of a clouds.yaml entry's ``auth`` section."""
    return list(dict.fromkeys(_secret_values(auth or {})))


def inventory_secrets(hosts: Iterable[HostSpec]) -> list[str]:
    """Every secret the hosts' power options hold or point to."""
    specs = list(hosts)
    found = power_secrets(specs)
    for spec in specs:
        found.extend(_secret_values(spec.power or {}))
    return list(dict.fromkeys(found))


def inventory_redactor(inventory: Inventory | None, redactor: Redactor | None = None
                       ) -> Redactor:
    """``redactor`` (or a new one) with the inventory's secrets registered."""
    found = redactor if redactor is not None else Redactor()
    if inventory is not None:
        found.add_all(inventory_secrets(inventory.hosts.values()))
    return found
