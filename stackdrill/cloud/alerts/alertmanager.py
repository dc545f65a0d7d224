"""Alertmanager's API v2, as much as a drill needs: the alerts it holds now
(``GET /api/v2/alerts``), each with its name, labels, state and the moment Prometheus says it
began firing. Resolved alerts are not listed: Alertmanager drops an alert from the list once
its ``endsAt`` has passed, so an alert that is no longer listed has cleared."""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from stackdrill.cloud.alerts import AlertError

__all__ = ["Alert", "AlertSource", "Alertmanager", "parse_alerts", "parse_time"]

DEFAULT_TIMEOUT = 5.0
"""Seconds an Alertmanager request may take."""

Fetch = Callable[[str, float], bytes]
"""GET a URL within a timeout, returning the body (a test's fake stands in for HTTP)."""


@dataclass(frozen=True)
class Alert:
    """One alert as Alertmanager lists it: ``state`` is ``active``, ``suppressed`` (silenced or
    inhibited: nobody is paged) or ``unprocessed``; ``starts_at`` is epoch seconds."""

    name: str
    fingerprint: str
    state: str
    starts_at: float
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")

    def label_text(self) -> str:
        """The labels but the name and severity, as ``{hostname="compute1",...}``."""
        shown = [f'{key}="{value}"' for key, value in sorted(self.labels.items())
                 if key not in ("alertname", "severity")]
        return "{" + ",".join(shown) + "}" if shown else ""


class AlertSource(Protocol):
    """What lists the alerts firing now (Alertmanager, or a test's fake)."""

    def alerts(self) -> list[Alert]: ...

    def describe(self) -> str: ...


_FRACTION = re.compile(r"\.(\d+)")


def parse_time(text: str) -> float:
    """RFC 3339 as Alertmanager writes it (nanoseconds, ``Z`` or an offset) to epoch seconds."""
    cleaned = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], text.strip(), count=1)
    cleaned = cleaned[:-1] + "+00:00" if cleaned.endswith(("Z", "z")) else cleaned
    try:
        moment = dt.datetime.fromisoformat(cleaned)
    except ValueError:
        raise AlertError(f"Alertmanager: cannot read the time {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _alert(item: Any) -> Alert:
    if not isinstance(item, dict) or not isinstance(item.get("labels"), dict):
        raise AlertError("Alertmanager: an alert without labels")
    labels = {str(key): str(value) for key, value in item["labels"].items()}
    status = item.get("status")
    state = str(status.get("state", "")) if isinstance(status, dict) else ""
    return Alert(name=labels.get("alertname", ""), fingerprint=str(item.get("fingerprint", "")),
                 state=state or "active", starts_at=parse_time(str(item.get("startsAt", ""))),
                 labels=MappingProxyType(labels))


def parse_alerts(body: bytes | str) -> list[Alert]:
    """The alerts of a ``GET /api/v2/alerts`` answer; :class:`AlertError` when it is not one."""
    try:
        data = json.loads(body)
    except ValueError:
        raise AlertError("Alertmanager: the answer is not JSON") from None
    if not isinstance(data, list):
        raise AlertError("Alertmanager: expected a list of alerts")
    return [_alert(item) for item in data]


def _urlopen(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
        body: bytes = answer.read()
    return body


def get(url: str, timeout: float, fetch: Fetch = _urlopen, what: str = "Alertmanager") -> bytes:
    """GET ``url``; any failure is an :class:`AlertError` naming ``what`` and the reason."""
    try:
        return fetch(url, timeout)
    except urllib.error.HTTPError as exc:
        reason = f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = " ".join(str(getattr(exc, "reason", exc)).split()) or type(exc).__name__
    base = url.partition("/api/")[0]
    raise AlertError(f"{what} at {base} did not answer: {reason}")


class Alertmanager:
    """An Alertmanager at ``url`` (``http://host:9093``), asked for every alert it holds:
    active, silenced, inhibited and unprocessed."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT,
                 fetch: Fetch = _urlopen) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.fetch = fetch

    def describe(self) -> str:
        return f"Alertmanager at {self.url}"

    def alerts(self) -> list[Alert]:
        query = "active=true&silenced=true&inhibited=true&unprocessed=true"
        return parse_alerts(get(f"{self.url}/api/v2/alerts?{query}", self.timeout, self.fetch))
