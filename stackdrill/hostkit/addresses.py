"""The IP addresses a host holds, from ``ip -o addr show`` (one line per address:
``4: eth0    inet 172.31.77.10/32 scope global eth0\\ ...``): where a virtual IP (keepalived's
VRRP address) is held right now."""

from __future__ import annotations

import ipaddress

from stackdrill.hosts.target import CommandFailed, Target

__all__ = ["ADDRESSES", "held_addresses", "parse_addresses"]

ADDRESSES = "ip -o addr show"


def parse_addresses(text: str) -> dict[str, str]:
    """Each address the output of :data:`ADDRESSES` lists (normalised, without its prefix
    length), and the interface holding it."""
    held = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[2] not in ("inet", "inet6"):
            continue
        try:
            address = ipaddress.ip_interface(fields[3]).ip
        except ValueError:
            continue
        held[str(address)] = fields[1]
    return held


def held_addresses(target: Target, timeout: float = 10.0) -> dict[str, str]:
    """The addresses ``target`` holds now (one command, not recorded);
    :class:`CommandFailed` when ``ip`` fails."""
    result = target.run(ADDRESSES, timeout=timeout, record=False)
    if not result.ok:
        raise CommandFailed(result)
    return parse_addresses(result.stdout)
