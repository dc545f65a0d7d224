"""The cloud's SQL databases as a host's ``mysql`` client reaches them: a database or table name
is checked before it reaches a shell or SQL."""

from __future__ import annotations

from stackdrill.core.errors import InvalidValue


def identifier(text: str) -> str:
    """A database or table name; anything else is refused before it reaches a shell or SQL."""
    if not text or not all(ch.isalnum() or ch == "_" for ch in text):
        raise InvalidValue("expected a database or table name (letters, digits, _)")
    return text
