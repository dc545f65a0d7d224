"""The drill lock in the cloud's MySQL or MariaDB: tooz's MySQL driver takes ``GET_LOCK`` on a
connection of its own, and the server releases it when that connection dies.

The credentials are the inventory's ``coordination.url`` or, by default, the ``[database]
connection`` of ``coordination.database_config`` (Nova's) read on the first controller, as the
``nova_db`` probe reads it. They are never printed: a message that would carry the password
has it replaced, and the redactor knows it (:func:`stackdrill.cloud.access.database`
registers the DSN's password where it is read). ``IS_USED_LOCK`` names the connection that holds
the lock: the holder's record carries it, so that a refused run names the live holder, never an
older record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from urllib.parse import quote

from stackdrill.cloud.access import CloudError, Dsn, database, dsn_from_config
from stackdrill.core.errors import ActionFailed
from stackdrill.engine.cloud_side import Shell
from stackdrill.engine.lock_holder import LockError, lock_stem
from stackdrill.engine.tooz_lock import ToozBackend
from stackdrill.hosts.target import Target
from stackdrill.inventory.model import Inventory

__all__ = ["mysql_backend", "mysql_lock_key", "tooz_url"]

_URL_BREAKERS = "/?#"
_MYSQL_NAME_LIMIT = 64


def mysql_lock_key(cloud: str) -> str:
    """The lock's name: ``stackdrill:<cloud>``, hashed when longer than MySQL's 64."""
    key = f"stackdrill:{lock_stem(cloud)}"
    if len(key) > _MYSQL_NAME_LIMIT:
        key = "stackdrill:" + hashlib.sha256(cloud.encode()).hexdigest()[:40]
    return key


def tooz_url(dsn: Dsn) -> str:
    """``mysql://user:password@host:port/db`` as tooz's MySQL driver reads it: tooz does not
    unquote the password, so one with ``/``, ``?`` or ``#`` cannot be carried."""
    if any(char in dsn.password for char in _URL_BREAKERS):
        raise LockError("the database password holds / ? or #, which tooz's MySQL URL cannot "
                        "carry: give the lock its own account in coordination.url")
    return f"mysql://{quote(dsn.user, safe='')}:{dsn.password}@{dsn.host}:{dsn.port}/" \
           f"{dsn.database}"


class _Credentials:
    """The DSN, read once (on the first controller unless the inventory gives a URL)."""

    def __init__(self, inventory: Inventory, controller: Shell) -> None:
        self.inventory = inventory
        self.controller = controller
        self._dsn: Dsn | None = None

    def dsn(self) -> Dsn:
        if self._dsn is None:
            spec = self.inventory.coordination
            try:
                if spec.url is not None:
                    self._dsn = Dsn.parse(spec.url)
                else:
                    assert isinstance(self.controller, Target)
                    self._dsn = dsn_from_config(self.controller, spec.database_config)
            except ActionFailed as exc:  # the config not read (a host not reached), or bad
                raise LockError(f"the drill lock's database: {exc}") from None
        return self._dsn

    def owner_of(self, key: str) -> Callable[[], str | None]:
        def owner() -> str | None:
            try:
                with database(self.dsn(), timeout=5.0) as conn, conn.cursor() as cur:
                    cur.execute("SELECT IS_USED_LOCK(%s) AS owner", (key,))
                    row = cur.fetchone()
            except CloudError as exc:
                raise LockError(str(exc)) from None
            value = row["owner"] if row else None
            return None if value is None else str(value)

        return owner


def mysql_backend(inventory: Inventory, controller: Shell, key: str) -> ToozBackend:
    """``GET_LOCK(key)`` on the cloud's database."""
    spec = inventory.coordination
    credentials = _Credentials(inventory, controller)
    source = "coordination.url" if spec.url is not None \
        else f"{controller.name}:{spec.database_config}"
    return ToozBackend(lambda: tooz_url(credentials.dsn()), key,
                       f"MySQL GET_LOCK('{key}') on the database of {source}",
                       owner=credentials.owner_of(key))
