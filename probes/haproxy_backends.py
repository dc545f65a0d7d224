"""Each HAProxy server's state, as the stats socket of every load balancer reports it
(``show stat`` on ``/run/haproxy/admin.sock``, through ``socat``'s ``UNIX-CONNECT``, which
never creates a file where the socket is gone, as a bare path would; the CSV read by
:func:`stackdrill.hostkit.haproxy.parse_show_stat`). The load balancers are the hosts that may
hold a virtual IP of the inventory (``vips:``); a cloud whose inventory names none has nothing
to observe here.

Per host: ``haproxy:answering`` (false when HAProxy does not answer on its socket: the socket
is gone, or nothing listens on it), and while it answers ``haproxy:<proxy>/server:<server>``,
the server's status in HAProxy's words (``UP``, ``DOWN``, ``MAINT``, ``UP 1/3`` while its checks
start failing, ``no check``...). A server ``DOWN``, a proxy none of whose servers is up, or an
HAProxy that does not answer rules out a healthy start. Any other failure (no ``socat``, output
that is no CSV) fails the probe on that host.
"""

from __future__ import annotations

import shlex
from typing import Any, ClassVar

from stackdrill.api import Probe, ProbeFailed, ProbeOutput
from stackdrill.hostkit.haproxy import ADMIN_SOCKET, UP_STATES, parse_show_stat
from stackdrill.hosts.target import Target

SCRIPT = """\
if [ ! -S {socket} ]; then echo "@@haproxy no socket"
elif stats=$(echo "show stat" | timeout 10 socat stdio UNIX-CONNECT:{socket}); then
  echo "@@haproxy answering"; printf '%s\\n' "$stats"
else echo "@@haproxy failed $?"
fi"""
NOT_LISTENING = ("Connection refused", "No such file or directory")
"""What ``socat`` says when nothing listens on the socket."""


class HaproxyBackends(Probe):
    """On each host that may hold a VIP of the inventory: ``haproxy:answering`` (whether HAProxy
    answers on its stats socket), and ``haproxy:<proxy>/server:<server>``, each server's status
    from ``show stat`` (``UP``, ``DOWN``, ``MAINT``, ``UP 1/3``...). A server ``DOWN``, a proxy
    without a server up, or an HAProxy that does not answer rule out a healthy start."""

    name = "haproxy_backends"
    description = "each HAProxy backend server's status from the stats socket (show stat)"
    socket: ClassVar[str] = ADMIN_SOCKET

    def applies_to(self, target: Target) -> bool:
        return any(target.name in vip.hosts for vip in target.inventory.vips.values())

    def command(self, target: Target) -> str:
        return target.service("haproxy").shell(SCRIPT.format(socket=shlex.quote(self.socket)))

    def parse(self, target: Target, output: ProbeOutput) -> dict[str, Any]:
        head, _, body = output.require_ok().partition("\n")
        if head == "@@haproxy answering":
            if not body.startswith("# "):
                raise ProbeFailed(f"{target.name}: HAProxy's show stat printed no CSV header")
            values: dict[str, Any] = {"haproxy:answering": True}
            for server in parse_show_stat(body):
                values[f"haproxy:{server.proxy}/server:{server.server}"] = server.status
            return values
        if head == "@@haproxy no socket" or (
                head.startswith("@@haproxy failed")
                and any(reason in output.stderr for reason in NOT_LISTENING)):
            return {"haproxy:answering": False}
        errors = [line for line in output.stderr.splitlines() if line.strip()]
        raise ProbeFailed(f"{target.name}: show stat on {self.socket} failed: "
                          f"{errors[-1] if errors else head}")

    def problems(self, values: dict[str, Any]) -> list[str]:
        if not values.get("haproxy:answering"):
            return [f"HAProxy does not answer on {self.socket}"]
        statuses: dict[str, list[str]] = {}
        found = []
        for path, status in sorted(values.items()):
            if "/server:" not in path:
                continue
            proxy, server = path.removeprefix("haproxy:").split("/server:", 1)
            statuses.setdefault(proxy, []).append(status)
            if status.startswith("DOWN"):
                found.append(f"{proxy}: server {server} is {status}")
        found += [f"{proxy}: no server is up" for proxy, seen in statuses.items()
                  if not any(status.startswith(UP_STATES) for status in seen)]
        return found
