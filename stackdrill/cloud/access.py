"""The cloud's APIs through openstacksdk, configured from clouds.yaml / OS_CLOUD as the openstack
CLI is, and its database through PyMySQL with a DSN from the inventory or the controller."""

from __future__ import annotations

import configparser
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, urlsplit

from stackdrill.core.errors import ActionFailed
from stackdrill.core.evidence import Redactor
from stackdrill.hosts.target import Target
from stackdrill.inventory.secrets import auth_secrets, config_secrets


class CloudError(ActionFailed):
    """The cloud's API or database could not be reached; one line."""


API_TIMEOUT = 60.0
"""Seconds any one API request of the harness may take. Without it, a request to a service that
waits on a message queue that is down (nova-api listing hypervisors while RabbitMQ is stopped)
never returned, and a snapshot waited on it for good; now the request fails, the probe records
the error and the wait polls again."""


class CloudAccess:
    """One openstacksdk connection per thread, created on first use; every request times out
    after :data:`API_TIMEOUT` seconds."""

    def __init__(self, cloud: str, redactor: Redactor | None = None,
                 config_files: list[str] | None = None) -> None:
        self.cloud = cloud
        self.redactor = redactor or Redactor()
        self.config_files = config_files
        self._local = threading.local()

    def connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            import openstack

            conn = openstack.connection.Connection(config=self._region())
            self._local.conn = conn
        return conn

    def _region(self) -> Any:
        """The clouds.yaml entry, its credentials registered with the redactor."""
        import openstack.config
        from openstack.exceptions import ConfigException

        try:
            loader = openstack.config.OpenStackConfig(config_files=self.config_files)
            region = loader.get_one(cloud=self.cloud, api_timeout=API_TIMEOUT)
        except ConfigException as exc:
            raise CloudError(f"cloud {self.cloud!r}: {exc}") from exc
        self.redactor.add_all(auth_secrets(region.config.get("auth")))
        return region

    def region(self) -> Any:
        """The clouds.yaml entry as openstacksdk reads it (a ``CloudRegion``), with a keystoneauth
        plugin of its own, for a caller that authenticates by itself rather than through the
        per-thread connections; its credentials are registered with the redactor."""
        return self._region()

    def register_secrets(self) -> bool:
        """Register the clouds.yaml entry's credentials without connecting; False when
        clouds.yaml has no usable entry for this cloud."""
        try:
            self._region()
        except CloudError:
            return False
        return True

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


@dataclass(frozen=True)
class Dsn:
    host: str
    port: int
    user: str
    password: str
    database: str
    # every other secret of the config file the DSN was read from, registered with its password
    config_secrets: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def parse(cls, url: str) -> Dsn:
        """``mysql+pymysql://user:pw@host[:port]/db?...`` as in an OpenStack config file."""
        parts = urlsplit(url)
        if not parts.scheme.startswith("mysql") or not parts.hostname:
            raise CloudError(f"not a MySQL connection URL: {parts.scheme}://...")
        return cls(host=parts.hostname, port=parts.port or 3306,
                   user=unquote(parts.username or ""), password=unquote(parts.password or ""),
                   database=parts.path.lstrip("/"))


def dsn_from_config(target: Target, path: str, section: str = "database") -> Dsn:
    """The ops guide's way: read ``connection`` from the service's own config on a host."""
    result = target.run(f"cat {path}", record=False)
    if not result.ok:
        raise CloudError(f"{target.name}: cannot read {path}: {result.stderr.strip()}")
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_file(io.StringIO(result.stdout))
    try:
        dsn = Dsn.parse(parser.get(section, "connection"))
    except (configparser.Error, CloudError) as exc:
        raise CloudError(f"{target.name}:{path}: [{section}] connection: {exc}") from exc
    return replace(dsn, config_secrets=tuple(config_secrets(result.stdout)))


@contextmanager
def database(dsn: Dsn, redactor: Redactor | None = None,
             timeout: float = 10.0) -> Iterator[Any]:
    import pymysql

    if redactor is not None:
        redactor.add(dsn.password)
        redactor.add_all(dsn.config_secrets)
    try:
        conn = pymysql.connect(host=dsn.host, port=dsn.port, user=dsn.user,
                               password=dsn.password, database=dsn.database,
                               connect_timeout=timeout, read_timeout=timeout,
                               write_timeout=timeout, autocommit=True,
                               cursorclass=pymysql.cursors.DictCursor)
    except pymysql.MySQLError as exc:
        raise CloudError(f"database {dsn.user}@{dsn.host}/{dsn.database}: {exc.args[-1]}") \
            from exc
    try:
        yield conn
    finally:
        conn.close()
