"""Keystone asked directly: a new token issued to a fresh authentication, and whether a token
issued earlier still validates.

The harness's own API calls (:class:`~stackdrill.cloud.access.CloudAccess`) authenticate once per
thread and reuse that token for as long as Keystone lets them (an hour by default), so a
Keystone that can no longer issue tokens goes unseen by them. :class:`Keystone` authenticates
anew each time it is asked, with the clouds.yaml entry's credentials, and validates a token with
``GET /v3/auth/tokens`` (the token in ``X-Subject-Token``, and in ``X-Auth-Token`` too: a user
may validate its own token); each request gives up after :data:`TIMEOUT` seconds.

No token leaves this module: tokens are kept in memory only (:class:`Token` does not print its
secret), every reason is scrubbed of them and passed through the redactor, and neither the
password request nor the validation (whose answer may quote the token) is logged.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from stackdrill.cloud.access import CloudAccess, CloudError

TIMEOUT = 5.0
"""Seconds one request to Keystone may take: a Keystone that answers slower than this issues no
token, as far as a drill is concerned."""

LASTING_FORMATS = ("fernet", "jws")
"""Token formats that Keystone validates from keys on disk, without a record of the token: a
token of these formats survives a restart of Keystone, memcached or the database."""

RENEW_AFTER = 0.75
"""The share of a token's lifetime after which :meth:`Token.aging` says to replace it."""

REASON_CHARS = 200
_REQUEST_ID = re.compile(r"\s*\(Request-ID: [^)]*\)")


def token_format(secret: str) -> str:
    """``fernet`` (a Fernet token: ``gAAAAA...``), ``jws`` (a JSON Web Signature: ``eyJ...``)
    or ``other`` (a UUID token of old releases, or a format this does not know)."""
    if secret.startswith("gAAAAA"):
        return "fernet"
    if secret.startswith("eyJ"):
        return "jws"
    return "other"


@dataclass(frozen=True)
class Token:
    """A token Keystone issued: its secret (never printed), format, and lifetime in seconds
    from Keystone's ``issued_at`` to its ``expires_at``, counted from ``issued`` (this process's
    monotonic clock), so that a clock that differs from Keystone's does not matter."""

    secret: str = field(repr=False)
    format: str
    lifetime: float
    issued: float

    def aging(self, now: float | None = None) -> bool:
        """Whether :data:`RENEW_AFTER` of its lifetime has passed."""
        moment = time.monotonic() if now is None else now
        return moment >= self.issued + self.lifetime * RENEW_AFTER


@dataclass(frozen=True)
class Answer:
    """What Keystone said: yes, or no with the reason (one line, without any token)."""

    ok: bool
    reason: str = ""


class Keystone:
    """Fresh authentications and token validations with the clouds.yaml entry of ``access``,
    each request within ``timeout`` seconds (:data:`TIMEOUT` by default). Safe to use from
    several threads: each call has a requests session of its own."""

    def __init__(self, access: CloudAccess, timeout: float | None = None) -> None:
        from keystoneauth1.identity.base import BaseIdentityPlugin

        region = access.region()
        auth = region.get_auth()
        if not isinstance(auth, BaseIdentityPlugin):
            kind = region.config.get("auth_type") or "none"
            raise CloudError(f"cloud {access.cloud!r}: its auth type {kind!r} has Keystone issue "
                             f"no token")
        self._auth = auth
        self._verify, self._cert = region.get_requests_verify_args()
        self._redactor = access.redactor
        self._timeout = TIMEOUT if timeout is None else timeout
        self._url: str | None = None
        self._lock = threading.Lock()

    @contextmanager
    def _session(self) -> Iterator[Any]:
        import requests
        from keystoneauth1 import session

        transport = requests.Session()
        try:
            yield session.Session(session=transport, verify=self._verify, cert=self._cert,
                                  timeout=self._timeout)
        finally:
            transport.close()

    def issue(self) -> tuple[Token | None, str]:
        """A new token from a fresh authentication, or None and why Keystone issued none."""
        from keystoneauth1 import exceptions

        with self._session() as session:
            try:
                ref = self._auth.get_auth_ref(session)
            except exceptions.ClientException as exc:
                return None, self.reason(exc)
        secret = str(ref.auth_token or "")
        if not secret:
            return None, "Keystone answered without a token"
        # a token whose lifetime Keystone does not say is never taken for an aging one
        lifetime = (ref.expires - ref.issued).total_seconds() \
            if ref.issued and ref.expires else math.inf
        return Token(secret, token_format(secret), max(lifetime, 0.0), time.monotonic()), ""

    def validate(self, token: Token) -> Answer:
        """Whether Keystone says ``token`` is valid now (``GET /v3/auth/tokens``)."""
        from keystoneauth1 import exceptions

        headers = {"X-Auth-Token": token.secret, "X-Subject-Token": token.secret}
        with self._session() as session:
            try:
                url = self._tokens_url(session)
                response = session.get(url, headers=headers, authenticated=False,
                                       raise_exc=False, log=False)
            except exceptions.ClientException as exc:
                return Answer(False, self.reason(exc, token.secret))
        if response.status_code == 200:
            return Answer(True)
        return Answer(False, self.reason(_http_reason(response), token.secret))

    def _tokens_url(self, session: Any) -> str:
        """``<identity v3>/auth/tokens``, the v3 endpoint found once from the auth URL (version
        discovery, as keystoneauth finds where to authenticate)."""
        from keystoneauth1 import exceptions, plugin

        with self._lock:
            url = self._url
        if url is None:
            # keystoneauth tells its AUTH_INTERFACE marker apart by identity, not as a string
            url = self._auth.get_endpoint(session, interface=cast(str, plugin.AUTH_INTERFACE),
                                          version=(3, 0))
            if not url:
                raise exceptions.DiscoveryFailure("no Identity v3 endpoint at the auth URL")
            with self._lock:
                self._url = url
        return f"{url.rstrip('/')}/auth/tokens"

    def reason(self, error: object, *secrets: str) -> str:
        """``error`` on one short line, without ``secrets`` or any registered secret."""
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        text = self._redactor(" ".join(_REQUEST_ID.sub("", text).split()))
        return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 3] + "..."


def _http_reason(response: Any) -> str:
    """``HTTP <status>: <Keystone's message>`` of an answer that is not a yes."""
    message = ""
    try:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            message = str(error.get("message") or "")
    except ValueError:
        message = ""
    return f"HTTP {response.status_code}: {message or response.reason or 'no message'}"
