"""HAProxy as its stats socket reports it: each backend server's state (``show stat``), and
whether a host's servers are marked up in every proxy that has one."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

ADMIN_SOCKET = "/run/haproxy/admin.sock"
SHOW_STAT = (f"if command -v socat >/dev/null 2>&1; then echo 'show stat' | socat stdio "
             f"UNIX-CONNECT:{ADMIN_SOCKET}; else python3 -c \"import socket; "
             f"s = socket.socket(socket.AF_UNIX); s.connect('{ADMIN_SOCKET}'); "
             f"s.sendall(b'show stat\\n'); print(s.makefile().read())\"; fi")
"""Prints HAProxy's statistics as CSV, through ``socat`` or, without it, python3."""
AGGREGATES = ("FRONTEND", "BACKEND")
UP_STATES = ("UP", "no check")
"""A server's ``status`` that counts as up: ``UP`` (also ``UP 1/3``, going down), or a server
HAProxy does not check, which it never marks down."""


@dataclass(frozen=True)
class ServerState:
    """One server of one backend: ``proxy`` (the backend), ``server`` (its name), ``address``
    (``host:port``, where HAProxy reports it) and ``status`` (``UP``, ``DOWN``, ``MAINT``...)."""

    proxy: str
    server: str
    address: str
    status: str

    @property
    def up(self) -> bool:
        return self.status.startswith(UP_STATES)


def parse_show_stat(output: str) -> list[ServerState]:
    """The servers of ``show stat``'s CSV (its header line starts with ``# ``); frontends and
    the backends' own rows are left out."""
    text = output.lstrip()
    if text.startswith("# "):
        text = text[2:]
    servers = []
    for row in csv.DictReader(io.StringIO(text)):
        name = row.get("svname") or ""
        if not name or name in AGGREGATES:
            continue
        servers.append(ServerState(row.get("pxname") or "", name, row.get("addr") or "",
                                   row.get("status") or ""))
    return servers


def servers_of(servers: Sequence[ServerState], host: str, address: str) -> list[ServerState]:
    """The servers that are ``host``: named after it, or at its address."""
    return [s for s in servers
            if s.server == host or s.address.rsplit(":", 1)[0] == address]


def down_servers(servers: Sequence[ServerState], host: str, address: str) -> list[str]:
    """``proxy/server status`` for each of ``host``'s servers HAProxy does not mark up; a
    line saying so when it has none at all (the host is no backend of this HAProxy)."""
    mine = servers_of(servers, host, address)
    if not mine:
        return [f"no backend server is {host} ({address})"]
    return [f"{s.proxy}/{s.server} {s.status}" for s in mine if not s.up]
