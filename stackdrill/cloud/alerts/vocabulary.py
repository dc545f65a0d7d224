"""The alert steps' text, and the alert names a scenario's steps name:

- ``the alert "<name>" fires within N seconds`` (timed from the drill's first injection);
- ``it clears within N seconds of the recovery`` (``it``: the alert the scenario named last),
  or ``the alert "<name>" clears within N seconds of the recovery``;
- ``no other critical alert fires`` (from the first injection to this step, none but the
  alerts the scenario names)."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["ALERT_CLEARS", "ALERT_FIRES", "NO_OTHER_ALERT", "is_alert_step", "named_alert",
           "named_alerts"]

_SECONDS = r"(?P<seconds>\d+(?:\.\d+)?) seconds?"
ALERT_FIRES = rf'the alert "(?P<name>[^"]+)" fires within {_SECONDS}'
ALERT_CLEARS = rf'(?:it|the alert "(?P<name>[^"]+)") clears within {_SECONDS} of the recovery'
NO_OTHER_ALERT = "no other critical alert fires"


def named_alert(text: str) -> str | None:
    """The alert a fires or clears step names (None for ``it`` and any other step)."""
    for pattern in (ALERT_FIRES, ALERT_CLEARS):
        match = re.fullmatch(pattern, text.strip())
        if match is not None:
            return match["name"]
    return None


def is_alert_step(text: str) -> bool:
    text = text.strip()
    return text == NO_OTHER_ALERT or any(re.fullmatch(p, text) is not None
                                         for p in (ALERT_FIRES, ALERT_CLEARS))


def named_alerts(texts: Iterable[str]) -> list[str]:
    """Every alert the steps name, once each, in order."""
    found = [name for name in map(named_alert, texts) if name is not None]
    return list(dict.fromkeys(found))
