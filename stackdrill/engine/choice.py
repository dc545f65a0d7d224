"""Hosts chosen the way operators choose them (:class:`~stackdrill.engine.grammar.Choice`): at
random, a given number of them, or the host where a server runs.

A random choice is drawn from the run's seed and the step's place (the scenario's node id and
the step's line): the same seed chooses the same hosts for the same step whatever else the run
selects, so ``--seed N`` replays a run's choices, and ``stackdrill plan --seed N`` shows them
before anything runs. ``N <role> hosts`` without ``random`` are the first N by name, as
``Given a <role> host`` chooses the first. The host running a server is the one Nova names
(``OS-EXT-SRV-ATTR:host``), which must be an inventory host of the role; a canary is named by
its host part (``canary compute1`` is the server ``stackdrill-canary-compute1``) or in full.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.canary import PREFIX as CANARY_PREFIX
from stackdrill.core.errors import InvalidValue
from stackdrill.engine.grammar import Choice
from stackdrill.engine.verdicts import DrillError
from stackdrill.hostkit.addresses import held_addresses
from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import Target, Targets
from stackdrill.inventory.model import ROLES, HostSpec, Inventory

__all__ = ["Chosen", "choice_key", "choose", "choose_by_vip", "draw_seed", "inventory_problem",
           "planned", "planned_hosts", "server_name"]

T = TypeVar("T")


def draw_seed() -> int:
    """A seed for a run that was given none (printed, so that it can be given again)."""
    return secrets.randbelow(1 << 31)


def choice_key(nodeid: str, kind: str, name: str, choice: Choice, seen: dict[str, int]
               ) -> str:
    """The key a step's random choice is drawn with: the scenario, the step (its fault or
    recovery and its choice), and how many such steps came before it in the scenario (counted
    in ``seen``). The run and the dry run count the same steps alike."""
    step = f"{kind} {name} on {choice.text}"
    seen[step] = seen.get(step, 0) + 1
    return f"{nodeid}|{step}|{seen[step]}"


def server_name(choice: Choice) -> str:
    """The Nova server a ``running canary|server`` choice names."""
    assert choice.server is not None
    if choice.kind == "canary" and not choice.server.startswith(CANARY_PREFIX):
        return f"{CANARY_PREFIX}-{choice.server}"
    return choice.server


def _pick(candidates: Sequence[T], choice: Choice, seed: int, key: str) -> list[T]:
    """``choice.count`` of ``candidates`` (in name order): drawn with a generator seeded by the
    run's seed and the step's key, or the first ones."""
    if not choice.random:
        return list(candidates[:choice.count])
    drawn = random.Random(f"{seed}|{key}").sample(range(len(candidates)), choice.count)
    return [candidates[index] for index in sorted(drawn)]


def inventory_problem(choice: Choice, inventory: Inventory) -> str | None:
    """Why ``inventory`` cannot satisfy ``choice`` (no such role, too few hosts), or None."""
    if choice.role not in ROLES:
        return f"unknown role {choice.role!r} (known: {', '.join(ROLES)})"
    hosts = [spec.name for spec in inventory.with_role(choice.role)]
    if choice.count < 1:
        return f"{choice.text}: choose at least one host"
    if not hosts:
        return f"{choice.text}: the inventory has no {choice.role} host"
    if choice.count > len(hosts):
        return (f"{choice.text}: the inventory has {len(hosts)} {choice.role} "
                f"host{'' if len(hosts) == 1 else 's'} ({', '.join(hosts)})")
    return None


def planned(choice: Choice, inventory: Inventory, seed: int | None, key: str) -> str:
    """What the dry run says of a choice: the hosts it chooses, or how it will choose them."""
    hosts = [spec.name for spec in inventory.with_role(choice.role)]
    if choice.server is not None:
        return (f"{choice.text}: where Nova runs {server_name(choice)} when the drill runs "
                f"(one of {', '.join(hosts)})")
    if not choice.random:
        return f"{choice.text}: {', '.join(_pick(hosts, choice, 0, key))}"
    if seed is None:
        return (f"{choice.text}: drawn from {', '.join(hosts)} with the run's seed "
                f"(plan --seed N shows the choice of run --seed N)")
    return f"{choice.text}: {', '.join(_pick(hosts, choice, seed, key))} (seed {seed})"


def planned_hosts(choice: Choice, inventory: Inventory, seed: int | None, key: str
                  ) -> list[HostSpec] | None:
    """The hosts a run will choose, when the dry run can know them (not a server's host, not a
    random choice without a seed)."""
    if choice.server is not None or (choice.random and seed is None):
        return None
    return _pick(inventory.with_role(choice.role), choice, seed or 0, key)


@dataclass(frozen=True)
class Chosen:
    """The hosts a step chose, and the line that says how (for the evidence)."""

    hosts: list[Target]
    note: str


def choose(choice: Choice, targets: Targets, *, seed: int, key: str,
           cloud: CloudAccess | None = None) -> Chosen:
    """The hosts ``choice`` names now; a :class:`DrillError` (one line) when it names none."""
    try:
        candidates = targets.with_role(choice.role)
    except (InvalidValue, ValueError) as exc:
        raise DrillError(str(exc)) from None
    names = ", ".join(t.name for t in candidates)
    problem = inventory_problem(choice, targets.inventory)
    if problem is not None:
        raise DrillError(problem)
    if choice.server is not None:
        host = _running(choice, targets, cloud)
        return Chosen([host], f"{choice.text}: {host.name}, where Nova runs "
                              f"{server_name(choice)}")
    hosts = _pick(candidates, choice, seed, key)
    chosen = ", ".join(t.name for t in hosts)
    if not choice.random:
        return Chosen(hosts, f"{choice.text}: {chosen}, the first by name of {names}")
    return Chosen(hosts, f"{choice.text}: {chosen}, drawn from {names} with seed {seed} "
                         f"(--seed {seed} replays it)")


def _running(choice: Choice, targets: Targets, cloud: CloudAccess | None) -> Target:
    name = server_name(choice)
    if cloud is None:
        raise DrillError(f"{choice.text}: finding where {name} runs needs the cloud's APIs "
                         f"(clouds.yaml / --os-cloud)")
    try:
        server: Any = cloud.connection().compute.find_server(name, ignore_missing=True,
                                                               all_projects=True)
    except Exception as exc:
        raise DrillError(f"{choice.text}: cannot look {name} up: {type(exc).__name__}: "
                         f"{exc}".splitlines()[0]) from exc
    if server is None:
        raise DrillError(f"{choice.text}: the cloud has no server named {name}")
    host = getattr(server, "compute_host", None)
    found = {t.name: t for t in targets.with_role(choice.role)}
    if host not in found:
        raise DrillError(f"{choice.text}: {name} runs on {host or 'no host'}, which is not a "
                         f"{choice.role} host of the inventory ({', '.join(sorted(found))})")
    return found[str(host)]


def _the_vip(targets: Targets) -> str:
    vips = targets.inventory.vips
    if len(vips) != 1:
        names = ", ".join(sorted(vips)) or "none"
        raise DrillError(f"holding the VIP: the inventory must name exactly one virtual IP "
                         f"(vips:), {targets.inventory.path} names {names}")
    return next(iter(vips.values())).address


def choose_by_vip(targets: Targets, role: str, holding: bool) -> Chosen:
    """The host of ``role`` that holds the inventory's virtual IP now (``holding``; exactly one
    must), or the first by name of those seen not holding it; each host is asked which
    addresses it holds (``ip -o addr show``), and one that cannot be asked is neither."""
    address = _the_vip(targets)
    try:
        candidates = targets.with_role(role)
    except (InvalidValue, ValueError) as exc:
        raise DrillError(str(exc)) from None
    seen: dict[str, bool] = {}
    for target in candidates:
        try:
            seen[target.name] = address in held_addresses(target)
        except HostError:
            continue
    holders = [t for t in candidates if seen.get(t.name) is True]
    free = [t for t in candidates if seen.get(t.name) is False]
    unasked = [t.name for t in candidates if t.name not in seen]
    said = f"; {', '.join(unasked)} could not be asked" if unasked else ""
    if holding and len(holders) != 1:
        raise DrillError(f"a {role} host holding the VIP: {address} is held by "
                         f"{', '.join(t.name for t in holders) or 'no ' + role + ' host'}"
                         f"{said}")
    if not holding and not free:
        raise DrillError(f"a {role} host not holding the VIP: every {role} host holds "
                         f"{address} or could not be asked{said}")
    if holding:
        return Chosen(holders, f"a {role} host holding the VIP: {holders[0].name} holds "
                               f"{address}{said}")
    return Chosen(free[:1], f"a {role} host not holding the VIP: {free[0].name}, the first by "
                            f"name of {', '.join(t.name for t in free)}, which do not hold "
                            f"{address}{said}")
