"""The secrets an inventory and a cloud's configuration hold, found without reaching a host.

* Any option named like a secret (``password``, ``application_credential_secret``, ``token``,
  ...), and a password written into a URL (``qemu+ssh://user:pw@host/system``).
* The clouds.yaml entry's credentials: every ``auth`` value under a key naming a secret.
* Every value of the files the inventory lists under ``secrets_files`` (YAML or JSON mappings:
  the embedded lab's ``secrets.json``, kolla-ansible's ``passwords.yml``).
* The secrets of an OpenStack service's config file: options named like a secret, and the
  password of each host of a URL (``connection``, ``transport_url``).

The power passwords a host's driver would use are found in :mod:`stackdrill.hosts.secrets`,
which registers all of these with the redactor.
"""

from __future__ import annotations

import configparser
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from stackdrill.inventory.model import InventoryError

__all__ = ["SECRET_WORDS", "SecretsFileError", "auth_secrets", "config_secrets", "file_secrets",
           "is_secret_key", "secret_values"]


class SecretsFileError(InventoryError):
    """A secrets file the inventory names that cannot be read as a mapping; one line."""


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


def secret_values(data: Mapping[str, Any]) -> Iterable[str]:
    """The values, at any depth, under a key naming a secret, and every password in a URL."""
    for key, value in data.items():
        if isinstance(value, Mapping):
            yield from secret_values(value)
        elif isinstance(value, str):
            if is_secret_key(str(key)):
                yield value
            found = _url_password(value)
            if found:
                yield found


def auth_secrets(auth: Mapping[str, Any] | None) -> list[str]:
    """The secret values of a clouds.yaml entry's ``auth`` section."""
    return list(dict.fromkeys(secret_values(auth or {})))


def _all_values(data: object) -> Iterable[str]:
    if isinstance(data, Mapping):
        for value in data.values():
            yield from _all_values(value)
    elif isinstance(data, list):
        for value in data:
            yield from _all_values(value)
    elif isinstance(data, str | int | float) and not isinstance(data, bool):
        yield str(data)


def file_secrets(path: Path) -> list[str]:
    """Every value, at any depth, of a secrets file (a YAML or JSON mapping)."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SecretsFileError(f"secrets file {path}: cannot read: {reason}") from None
    except yaml.YAMLError:
        raise SecretsFileError(f"secrets file {path}: not YAML or JSON") from None
    if not isinstance(data, Mapping):
        raise SecretsFileError(f"secrets file {path}: expected a mapping of names to secrets")
    return list(dict.fromkeys(_all_values(data)))


SWITCHES = frozenset({"true", "false", "yes", "no", "on", "off", "none"})
"""Values of a boolean option: never a secret, and redacting them would mangle evidence."""


def config_secrets(text: str) -> list[str]:
    """The secrets of an INI config file as OpenStack's services write them: every option
    named like a secret, and the password of every URL (``connection``, ``transport_url``,
    with each of its hosts)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    found: list[str] = []
    for section in [parser.defaults(), *(parser[name] for name in parser.sections())]:
        for key, value in section.items():
            # a switch named like a secret (send_service_user_token = true) holds none
            if is_secret_key(key) and value and value.lower() not in SWITCHES:
                found.append(value)
            found.extend(_transport_passwords(value))
    return list(dict.fromkeys(found))


def _transport_passwords(value: str) -> list[str]:
    """Each host's password in an oslo.messaging URL (``rabbit://u:p@h1,u:p@h2/``)."""
    if "://" not in value:
        return []
    netloc = value.split("://", 1)[1].split("/", 1)[0]
    found = []
    for part in netloc.split(","):
        userinfo, at, _ = part.rpartition("@")
        if at and ":" in userinfo:
            found.append(unquote(userinfo.split(":", 1)[1]))
    return found
