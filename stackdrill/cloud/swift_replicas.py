"""Where the object storage canaries' replicas are, and how many each has: found as an operator
finds them, ``swift-get-nodes`` on a host holding the rings, then a direct HEAD to each
primary's storage server (from that host: storage networks are often not reachable from
outside). The ``swift_replicas`` probe and the ring recoveries count them with
:func:`observe_replicas`.

The locations are kept per ring host and account, keyed by the rings' checksums: while the
three rings are unchanged, an observation is one command on one host (``md5sum`` of the rings
and every HEAD). When a ring changes (a rebalance, a device removed), the ring listing and
``swift-get-nodes`` run again (a Python process each, about 0.5 s apiece), then the HEADs.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stackdrill.cloud.swift_canary import CONTAINER, EXPECTED_ETAGS
from stackdrill.cloud.swift_ring import (
    RINGS,
    SWIFT_DIR,
    HeadResult,
    NodeLocation,
    head_command,
    parse_get_nodes,
    parse_heads,
    parse_ring,
)
from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import Target, Targets

SECTION = "### "


@dataclass(frozen=True)
class Canary:
    """One thing whose replicas are counted: its state path, ring and get-nodes arguments."""

    path: str
    ring: str
    args: tuple[str, ...]
    etag: str | None = None  # objects must answer with this ETag


def canaries(account: str) -> list[Canary]:
    items = [Canary("swift_account", "account", (account,)),
             Canary(f"swift_container:{CONTAINER}", "container", (account, CONTAINER))]
    items += [Canary(f"swift_object:{name}", "object", (account, CONTAINER, name), etag)
              for name, etag in sorted(EXPECTED_ETAGS.items())]
    return items


def locate_command(items: list[Canary], swift_dir: str = SWIFT_DIR) -> str:
    """The object ring's device table, then ``swift-get-nodes`` for each canary, each output
    after a section marker."""
    parts = [f"echo '{SECTION}ring'; swift-ring-builder {swift_dir}/object.ring.gz"]
    parts += [f"echo '{SECTION}{item.path}'; swift-get-nodes {swift_dir}/{item.ring}.ring.gz "
              + " ".join(shlex.quote(a) for a in item.args) for item in items]
    return "; ".join(parts)


def split_sections(text: str) -> dict[str, str]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith(SECTION):
            current = sections.setdefault(line[len(SECTION):].strip(), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


def count_replicas(item: Canary, primaries: list[NodeLocation],
                   heads: dict[str, HeadResult]) -> int:
    """How many of the ring's primaries hold the item (and, for objects, the right ETag)."""
    count = 0
    for location in primaries:
        answer = heads.get(location.url)
        if answer is None or answer.status is None or not 200 <= answer.status < 300:
            continue
        if item.etag is not None and answer.etag != item.etag:
            continue
        count += 1
    return count


def replica_values(items: list[Canary], located: dict[str, str],
                   heads: dict[str, HeadResult]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "ring" in located:
        ring = parse_ring(located["ring"])
        values["swift_ring:object/devices"] = sorted(d.label for d in ring.devices)
    for item in items:
        primaries = [loc for loc in parse_get_nodes(located.get(item.path, ""))
                     if not loc.handoff]
        values[f"{item.path}/replicas"] = count_replicas(item, primaries, heads)
        values[f"{item.path}/primaries"] = len(primaries)
    return values


def ring_host(targets: Targets, roles: tuple[str, ...] = ("controller", "storage")) -> \
        Target | None:
    """The first host (controllers first) that holds the object ring and answers."""
    for role in roles:
        for target in targets.with_role(role):
            try:
                result = target.run(f"test -r {SWIFT_DIR}/object.ring.gz", record=False,
                                    timeout=10)
            except HostError:
                continue
            if result.ok:
                return target
    return None


def checksum_command(swift_dir: str = SWIFT_DIR) -> str:
    """The rings' checksums, after a section marker: the key of the cached locations."""
    files = " ".join(f"{swift_dir}/{ring}.ring.gz" for ring in RINGS)
    return f"echo '{SECTION}checksums'; md5sum {files} 2>&1"


@dataclass(frozen=True)
class Located:
    """Where the canaries live under one set of rings."""

    checksums: str
    sections: dict[str, str]
    urls: tuple[str, ...]


_located: dict[tuple[str, str], Located] = {}
_located_lock = threading.Lock()


def _heads_section(urls: tuple[str, ...]) -> str:
    return f"echo '{SECTION}heads'; {head_command(list(urls))}" if urls else "true"


def _locate(target: Target, items: list[Canary]) -> Located:
    located = target.run(f"{checksum_command()}; {locate_command(items)}", record=False,
                         timeout=60)
    if not located.ok:
        detail = (located.stderr or located.stdout).strip().splitlines()
        raise HostError(f"{target.name}: swift-get-nodes failed: "
                        f"{detail[-1] if detail else located.exit_status}")
    sections = split_sections(located.stdout)
    urls = tuple(sorted({loc.url for item in items
                         for loc in parse_get_nodes(sections.get(item.path, ""))
                         if not loc.handoff}))
    return Located(sections.pop("checksums", ""), sections, urls)


def observe_replicas(target: Target, account: str) -> dict[str, Any]:
    """The replica counts of every canary, from the cached locations while the rings' checksums
    are those they were found under (one command), else located again first."""
    items = canaries(account)
    key = (target.name, account)
    with _located_lock:
        cached = _located.get(key)
    if cached is not None:
        answered = target.run(f"{checksum_command()}; {_heads_section(cached.urls)}",
                              record=False, timeout=60)
        sections = split_sections(answered.stdout)
        if sections.get("checksums") == cached.checksums:
            return replica_values(items, cached.sections, parse_heads(sections.get("heads", "")))
    fresh = _locate(target, items)
    with _located_lock:
        _located[key] = fresh
    answered = target.run(_heads_section(fresh.urls), record=False, timeout=60)
    heads = parse_heads(split_sections(answered.stdout).get("heads", ""))
    return replica_values(items, fresh.sections, heads)


def replica_problems(values: Mapping[str, Any]) -> list[str]:
    """Each canary of :func:`observe_replicas`'s values with fewer replicas than the ring has
    primaries for it."""
    found = []
    for path, value in sorted(values.items()):
        if not path.endswith("/replicas"):
            continue
        resource = path.rsplit("/", 1)[0]
        expected = values.get(f"{resource}/primaries", 0)
        if value < expected:
            found.append(f"{resource} has {value} of its {expected} replicas")
    return found
