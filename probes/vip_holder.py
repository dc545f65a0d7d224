"""Which host holds each virtual IP the inventory names (``vips: {api: {address: ...,
hosts: [...]}}``, by default every controller may hold it), read on each of those hosts from
``ip -o addr show`` (:mod:`stackdrill.hostkit.addresses`), the hosts asked concurrently.

``cloud/vip:<name>/host:<host>/holds`` is true or false, or ``unknown`` when the host could not
be asked (unreachable, powered off): an address is never taken for held or free unseen.
``cloud/vip:<name>/holders`` is how many hosts hold it, ``unknown`` unless every host was
asked. It does not depend on where the VIP is: a drill whose VIP moves for good (keepalived
without preemption) tolerates ``cloud/vip:*/host:*/holds ignore`` after the move, and the count
still says that exactly one host holds it. Anything but exactly one holder rules out a healthy
start. A cloud whose inventory names no VIP yields nothing.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from stackdrill.api import CloudContext, CloudProbe, HostError, Target, Targets, run_calls
from stackdrill.hostkit.addresses import held_addresses

UNKNOWN = "unknown"


class VipHolder(CloudProbe):
    """For each VIP of the inventory's ``vips`` and each host that may hold it (every controller
    unless the VIP names its hosts): ``vip:<name>/host:<host>/holds``, true or false from the
    host's ``ip -o addr show``, ``unknown`` when the host cannot be asked; and
    ``vip:<name>/holders``, how many hold it (``unknown`` unless every host was asked).
    Anything but exactly one holder rules out a healthy start."""

    name = "vip_holder"
    description = "which host holds each virtual IP the inventory names (ip -o addr show)"

    def observe_cloud(self, context: CloudContext) -> dict[str, Any]:
        return observe_vips(context.targets)

    def problems(self, values: dict[str, Any]) -> list[str]:
        found = []
        for path, holders in sorted(values.items()):
            if not path.endswith("/holders"):
                continue
            name = path.removesuffix("/holders")
            held = {key.split("/")[1].removeprefix("host:"): seen
                    for key, seen in values.items() if key.startswith(f"{name}/host:")}
            if holders == UNKNOWN:
                unknown = sorted(host for host, seen in held.items() if seen == UNKNOWN)
                found.append(f"{name}: {', '.join(unknown)} could not be asked")
            elif holders != 1:
                named = sorted(host for host, seen in held.items() if seen is True)
                found.append(f"{name} is held by {holders} hosts "
                             f"({', '.join(named) or 'none'}), not exactly one")
        return found


def observe_vips(targets: Targets) -> dict[str, Any]:
    """The probe's values: each host that may hold a VIP of the inventory asked, concurrently,
    whether it holds it."""
    vips = targets.inventory.vips
    hosts = sorted({host for vip in vips.values() for host in vip.hosts})
    held = run_calls({host: partial(_addresses, targets.get(host)) for host in hosts})
    values: dict[str, Any] = {}
    for name, vip in sorted(vips.items()):
        holds = {host: _holds(held[host], vip.address) for host in vip.hosts}
        values.update({f"vip:{name}/host:{host}/holds": seen for host, seen in holds.items()})
        values[f"vip:{name}/holders"] = (UNKNOWN if UNKNOWN in holds.values()
                                         else sum(seen is True for seen in holds.values()))
    return values


def _holds(addresses: set[str] | None, address: str) -> bool | str:
    return UNKNOWN if addresses is None else address in addresses


def _addresses(target: Target) -> set[str] | None:
    """The addresses ``target`` holds; None when it cannot be asked."""
    try:
        return set(held_addresses(target))
    except HostError:
        return None
