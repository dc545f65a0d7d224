"""Keystone's tokens, asked of Keystone itself in each snapshot: the other cloud probes reuse one
token per thread for as long as Keystone lets them (an hour by default), so a Keystone, or a
database or cache it needs, that can no longer authenticate anyone went unseen by them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from stackdrill.api import CloudContext, CloudProbe, run_calls
from stackdrill.cloud.keystone_tokens import LASTING_FORMATS, TIMEOUT, Answer, Keystone, Token

NEW = "keystone:new_token"
EARLIER = "keystone:earlier_token"
# A fresh password authentication costs Keystone a bcrypt hash (a quarter of a second of CPU on
# the lab's controller); snapshots come every second or two while a drill waits, so a new token
# is asked for at most this often and the answer stands in between.
ISSUE_INTERVAL = 10.0


class KeystoneTokens(CloudProbe):
    """Whether Keystone issues a new token to a fresh authentication with the cloud's
    credentials (``keystone:new_token/issued``), and whether the token it issued when the drill
    first observed the cloud still validates (``keystone:earlier_token/validates``), where the
    deployment promises that tokens survive a restart: by default when they are Fernet or JWS
    tokens, else as the inventory's ``keystone: {tokens_survive: true|false}`` says. A value
    that is false comes with ``.../error``, Keystone's reason without any token."""

    name = "keystone_tokens"
    description = (f"a new token issued to a fresh authentication (asked at most every "
                   f"{ISSUE_INTERVAL:g} s), and the drill's first token still valid "
                   f"(GET /v3/auth/tokens), each within {TIMEOUT:g} s")

    issue_interval = ISSUE_INTERVAL

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # when the last new-token answer came, and the answer
        self._issued: tuple[float, tuple[Token | None, str]] | None = None
        self._keystone: Keystone | None = None
        self._earlier: Token | None = None
        self._checks_earlier: bool | None = None  # decided by the first token issued

    def observe_cloud(self, context: CloudContext) -> dict[str, Any]:
        keystone = self._client(context)
        with self._lock:
            earlier = self._earlier
        if earlier is None:
            issued, why = self._issue(keystone)
            checked = self._first(keystone, issued, context)
        else:
            calls: dict[str, Callable[[], Any]] = {
                "issue": partial(self._issue, keystone),
                "validate": partial(keystone.validate, earlier)}
            found = run_calls(calls)
            issued, why = found["issue"]
            checked = found["validate"]
            if checked.ok and issued is not None and earlier.aging():
                self._renew(earlier, issued, context)
        return _values(issued is not None, why, checked)

    def _issue(self, keystone: Keystone) -> tuple[Token | None, str]:
        """A new token from a fresh authentication, or the last answer if it is younger than
        :attr:`issue_interval` (:data:`ISSUE_INTERVAL`)."""
        with self._lock:
            last = self._issued
        now = time.monotonic()
        if last is not None and now - last[0] < self.issue_interval:
            return last[1]
        answer = keystone.issue()
        with self._lock:
            self._issued = (time.monotonic(), answer)
        return answer

    def problems(self, values: dict[str, Any]) -> list[str]:
        """One line: no new token issued, the first token no longer valid, or both."""
        found = []
        if values.get(f"{NEW}/issued") is False:
            found.append(f"Keystone issued no new token: {values.get(f'{NEW}/error')}")
        if values.get(f"{EARLIER}/validates") is False:
            found.append(f"Keystone no longer validates the drill's first token: "
                         f"{values.get(f'{EARLIER}/error')}")
        return ["; ".join(found)] if found else []

    def _client(self, context: CloudContext) -> Keystone:
        with self._lock:
            if self._keystone is None:
                self._keystone = Keystone(context.access)
            return self._keystone

    def _first(self, keystone: Keystone, issued: Token | None,
               context: CloudContext) -> Answer | None:
        """The first token issued becomes the earlier token, if the deployment promises that it
        survives; it is validated at once, so that a Keystone that refuses a user's validation
        of its own token keeps the drill from starting rather than fail it later."""
        if issued is None:
            return None
        with self._lock:
            if self._checks_earlier is None:
                promised = context.targets.inventory.keystone_tokens_survive
                self._checks_earlier = promised if promised is not None \
                    else issued.format in LASTING_FORMATS
            if not self._checks_earlier:
                return None
            if self._earlier is None:
                self._earlier = issued
                context.access.redactor.add(issued.secret)
            earlier = self._earlier
        return keystone.validate(earlier)

    def _renew(self, earlier: Token, issued: Token, context: CloudContext) -> None:
        """A token that validated, three quarters through its lifetime, is replaced by the one
        just issued: a drill longer than Keystone's token lifetime checks the latest token it
        renewed while Keystone still validated the one before."""
        with self._lock:
            if self._earlier is earlier:
                self._earlier = issued
                context.access.redactor.add(issued.secret)


def _values(issued: bool, why: str, checked: Answer | None) -> dict[str, Any]:
    values: dict[str, Any] = {f"{NEW}/issued": issued}
    if not issued:
        values[f"{NEW}/error"] = why
    if checked is not None:
        values[f"{EARLIER}/validates"] = checked.ok
        if not checked.ok:
            values[f"{EARLIER}/error"] = checked.reason
    return values
