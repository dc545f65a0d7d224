"""Where a drill's evidence goes: a timeline, attachments, and nested steps, with secrets removed.

The drill engine only talks to :class:`Evidence`; the pytest plugin supplies one that writes
Allure attachments inside the current Gherkin step.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

# a URL's user:password@ parts, each host's of an oslo.messaging URL (rabbit://u:p@h1,u:p@h2/)
_URL_NETLOC = re.compile(r"(?<![\w+.-])([A-Za-z][\w+.-]*://)([^\s/?#\"'<>]+@)")
_USERINFO = re.compile(r"(^|,)([^:@,]*):[^@,]*@")


def _mask_netloc(match: re.Match[str]) -> str:
    return match[1] + _USERINFO.sub(r"\1\2:***@", match[2])


class Redactor:
    """Replaces every registered secret value with ``***`` in text bound for reports or logs,
    as written, as a JSON string holds it and as a URL quotes it; and the password of every
    URL (``mysql+pymysql://nova:***@db/nova``), registered or not."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()  # longest first

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4:
            forms = {secret, json.dumps(secret)[1:-1], quote(secret, safe="")}
            with self._lock:
                self._secrets = tuple(sorted(forms.union(self._secrets), key=len, reverse=True))

    def add_all(self, secrets: Iterable[str | None]) -> None:
        for secret in secrets:
            self.add(secret)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _URL_NETLOC.sub(_mask_netloc, text) if "://" in text else text


@dataclass(frozen=True)
class Event:
    at: float
    offset: float
    kind: str
    title: str
    detail: str = ""


@dataclass
class Timeline:
    started: float = field(default_factory=time.time)
    events: list[Event] = field(default_factory=list)

    def add(self, kind: str, title: str, detail: str = "", at: float | None = None) -> Event:
        moment = time.time() if at is None else at
        event = Event(at=moment, offset=moment - self.started, kind=kind, title=title,
                      detail=detail)
        self.events.append(event)
        return event

    def render(self) -> str:
        return "\n".join(f"+{e.offset:8.2f}s  {e.kind:<16} {e.title}" for e in self.events)

    def to_json(self) -> list[dict[str, Any]]:
        return [asdict(e) for e in self.events]


class Evidence:
    """Collects attachments; subclasses forward them to a report. Text is always redacted."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        self.redact = redactor or Redactor()
        self.attachments: list[tuple[str, str]] = []
        # finished sub-steps of the current step: (title, status, message)
        self.outcomes: list[tuple[str, str, str]] = []

    def attach_text(self, name: str, text: str) -> None:
        self.attachments.append((name, self.redact(text)))

    def attach_json(self, name: str, data: Any) -> None:
        text = json.dumps(data, indent=2, sort_keys=True, default=str)
        self.attachments.append((name, self.redact(text)))

    def attach_xml(self, name: str, text: str) -> None:
        self.attachments.append((name, self.redact(text)))

    def outcome_step(self, title: str, status: str, message: str = "") -> None:
        """A sub-step that already ended (a test another tool ran): its title, its status
        (``passed``, ``failed`` or ``skipped``) and the failure's text or the skip's reason."""
        self.outcomes.append((self.redact(title), status, self.redact(message)))

    def time_to_recover(self, seconds: float, budget: float) -> None:
        self.attach_text("time to recover", f"{seconds:.2f}s (budget {budget:g}s)")

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        yield
