"""The secrets the harness knows of, registered with the redactor before anything is reported.

* The inventory's power options: the BMC password each host's driver would use (given, or read
  from the environment or a file), any other option named like a secret, and a password written
  into a URL (``qemu+ssh://user:pw@host/system``).
* The clouds.yaml entry's credentials: every ``auth`` value under a key naming a password, a
  secret or a token (``password``, ``application_credential_secret``, ``token``, ...).
* The password of the ``coordination`` URL (the lock's MySQL, etcd or Redis).
* Every value of the files the inventory lists under ``secrets_files`` (YAML or JSON mappings:
  the embedded lab's ``secrets.json``, kolla-ansible's ``passwords.yml``).

Finding them needs nothing but the inventory and the files (:mod:`stackdrill.inventory.secrets`),
except the power passwords, which the power drivers' options give.

Database passwords are registered where a DSN is read (:func:`stackdrill.cloud.access.database`),
with every other secret of the config file it is read from
(:func:`stackdrill.inventory.secrets.config_secrets`): the
``transport_url``'s password, ``[keystone_authtoken] password``. And the redactor replaces the
password of any URL in the text (``rabbit://user:***@host``) whether it is registered or not.
"""

from __future__ import annotations

from collections.abc import Iterable

from stackdrill.core.evidence import Redactor
from stackdrill.hosts.power import power_secrets
from stackdrill.inventory.model import HostSpec, Inventory
from stackdrill.inventory.secrets import file_secrets, secret_values

__all__ = ["inventory_redactor", "inventory_secrets"]


def inventory_secrets(hosts: Iterable[HostSpec]) -> list[str]:
    """Every secret the hosts' power options hold or point to."""
    specs = list(hosts)
    found = power_secrets(specs)
    for spec in specs:
        found.extend(secret_values(spec.power or {}))
    return list(dict.fromkeys(found))


def inventory_redactor(inventory: Inventory | None, redactor: Redactor | None = None
                       ) -> Redactor:
    """``redactor`` (or a new one) with the inventory's secrets registered."""
    found = redactor if redactor is not None else Redactor()
    if inventory is not None:
        found.add_all(inventory_secrets(inventory.hosts.values()))
        # the password of the coordination backend's URL (``mysql://user:pw@host/db``)
        found.add_all(secret_values({"url": inventory.coordination.url or ""}))
        for path in inventory.secrets_files:
            found.add_all(file_secrets(path))
    return found
