"""The inventory's ``coordination`` key: where the drill lock is held and where the undo journal
is mirrored, read into a :class:`~stackdrill.inventory.model.CoordinationSpec` and checked
against the hosts.

Without the key, the lock and the journal stay on the machine that runs the drill. With it,
both live on the cloud's side unless it says otherwise: the lock defaults to ``ssh`` (a
``flock`` on the first controller) and the journal's mirror to ``ssh`` (a directory on the first
controller).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from stackdrill.inventory.model import (
    DEFAULT_COORDINATION_DIR,
    DEFAULT_DATABASE_CONFIG,
    DEFAULT_JOURNAL_CONTAINER,
    CoordinationSpec,
)

__all__ = ["URL_SCHEMES", "coordination_problems", "coordination_spec"]

#: The tooz URL schemes each lock backend takes.
URL_SCHEMES: Mapping[str, tuple[str, ...]] = {
    "mysql": ("mysql", "mysql+pymysql"),
    "etcd": ("etcd3+http", "etcd3+https"),
    "redis": ("redis",),
}


def coordination_spec(raw: Mapping[str, Any]) -> CoordinationSpec:
    """The schema-valid ``coordination`` mapping, its defaults filled in."""
    return CoordinationSpec(
        lock=str(raw.get("lock", "ssh")),
        journal=str(raw.get("journal", "ssh")),
        url=raw.get("url"),
        database_config=str(raw.get("database_config", DEFAULT_DATABASE_CONFIG)),
        directory=str(raw.get("directory", DEFAULT_COORDINATION_DIR)).rstrip("/") or "/",
        container=str(raw.get("container", DEFAULT_JOURNAL_CONTAINER)),
        declared=True,
    )


def coordination_problems(spec: CoordinationSpec, *, has_controller: bool
                          ) -> list[tuple[str, str]]:
    """``(key, message)`` for each way the spec cannot work with these hosts."""
    problems: list[tuple[str, str]] = []
    schemes = URL_SCHEMES.get(spec.lock)
    if spec.url is not None:
        scheme = urlsplit(spec.url).scheme
        if schemes is None:
            problems.append(("url", f"a URL is for lock mysql, etcd or redis, not {spec.lock}"))
        elif scheme not in schemes:
            problems.append(("url", f"expected a {' or '.join(s + '://' for s in schemes)} URL "
                                    f"for lock {spec.lock}, got {scheme}://..."))
    elif spec.lock in ("etcd", "redis"):
        problems.append(("lock", f"lock {spec.lock} needs coordination.url "
                                 f"({URL_SCHEMES[spec.lock][0]}://HOST:PORT)"))
    if spec.lock == "local" and spec.journal != "none":
        problems.append(("journal", f"journal {spec.journal} needs the lock on the cloud's side "
                                    f"(lock mysql, etcd, redis or ssh): with lock local, a run "
                                    f"of another machine cannot be told from a dead one"))
    if not has_controller:
        needs = [("lock", f"lock {spec.lock}")] if spec.lock == "ssh" or (
            spec.lock == "mysql" and spec.url is None) else []
        needs += [("journal", "journal ssh")] if spec.journal == "ssh" else []
        if needs:
            verb = "needs" if len(needs) == 1 else "need"
            problems.append((needs[0][0], f"{' and '.join(what for _, what in needs)} {verb} a "
                                          f"host with the controller role (it lives on, or is "
                                          f"read from, the first controller)"))
    return problems
