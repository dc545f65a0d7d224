"""The dry run: what each scenario would do to which host, and the exact commands, touching nothing.

The target of a fault or recovery is the host the step ``Given a <role> host`` chooses: the first
host of that role by name (``... holding the VIP``: whichever holds it when the drill runs,
planned as on the first). Commands come from ``Fault.plan()`` and from the ``commands`` of each
step of ``Recovery.runbook()``. The targets given to faults and recoveries here cannot connect:
a plan that would need a host says so instead of contacting it.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stackdrill.api._registry import Registries
from stackdrill.core.errors import ActionFailed, BadInput
from stackdrill.core.params import table_params
from stackdrill.engine.choice import choice_key, inventory_problem, planned, planned_hosts
from stackdrill.engine.grammar import (
    NAMED,
    ON_EVERY_HOST,
    ON_ROLE_HOST,
    Choice,
    chosen_role,
    step_choice,
    vip_qualifier,
)
from stackdrill.engine.guards import Guards
from stackdrill.hosts.secrets import inventory_redactor
from stackdrill.hosts.ssh import CommandResult, HostError, SshConnection
from stackdrill.hosts.target import Target
from stackdrill.inventory.model import HostSpec, Inventory

__all__ = ["DryRunConnection", "PlannedScenario", "dry_run_target", "render_plan"]


class DryRunConnection(SshConnection):
    """A connection that refuses to connect: a dry run contacts no host."""

    def _refuse(self) -> HostError:
        return HostError(f"{self.label}: a dry run does not contact hosts")

    def connect(self) -> None:
        raise self._refuse()

    def reconnect(self, timeout: float) -> None:
        raise self._refuse()

    def run(self, command: str, *, timeout: float | None = None) -> CommandResult:
        raise self._refuse()


def dry_run_target(inventory: Inventory, name: str) -> Target:
    spec = inventory.host(name)
    return Target(spec, DryRunConnection(spec), inventory, [])


@dataclass(frozen=True)
class PlannedScenario:
    location: str
    name: str
    steps: Sequence[Any]
    limits: Mapping[str, int] = field(default_factory=dict)
    changes_the_cloud: bool = True
    """Whether a run of it changes the cloud, so that a production inventory needs --confirm
    (see :func:`stackdrill.pytest_plugin.scenario_changes_the_cloud`)."""
    nodeid: str = ""
    """The scenario's pytest node id: with the seed, it decides the hosts chosen at random."""


def _rows(step: Any) -> list[list[str]]:
    table = getattr(step, "datatable", None)
    return [[str(cell) for cell in row] for row in table.raw()] if table is not None else []


def _first_host(inventory: Inventory, role: str) -> HostSpec | str:
    try:
        hosts = inventory.with_role(role)
    except ValueError as exc:
        return str(exc)
    return hosts[0] if hosts else f"the inventory has no {role} host"


def _untargeted_fault(kind: str, name: str, rest: str, inventory: Inventory,
                      where: str) -> str | None:
    """The line for a fault's end, or a fault injected on every host; None for other steps."""
    if kind != "fault":
        return None
    if rest.strip() == "ends":
        return f"  fault {name} ends ({where}): its undo runs on each host it was injected on"
    every = ON_EVERY_HOST.search(rest)
    if every is None:
        return None
    role = every["role"]
    hosts = sorted(h.name for h in inventory.hosts.values() if role is None or role in h.roles)
    return (f"  fault {name} on every {role + ' ' if role else ''}host ({where}): "
            f"{', '.join(hosts) or 'none'}")


@dataclass
class _Planning:
    """What the plan of one scenario carries from step to step: the hosts under faults (and
    the peers they cut off), the host each role's later steps act on, and the choices made."""

    inventory: Inventory
    registries: Registries
    guards: Guards
    seed: int | None
    nodeid: str
    active: list[HostSpec] = field(default_factory=list)
    picked: dict[str, HostSpec] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)
    qualified: dict[str, str] = field(default_factory=dict)
    """Roles whose host a ``Given`` step chooses when the drill runs ("holding the VIP")."""


def plan_scenario(scenario: PlannedScenario, inventory: Inventory, registries: Registries,
                  guards: Guards, seed: int | None = None) -> list[str]:
    """The scenario's faults and recoveries, one block each; ``guards`` without the production
    check (the plan's header reports that once). With ``seed``, the hosts chosen at random are
    the ones a run with that seed chooses."""
    lines = [f"{scenario.location}: {scenario.name}"]
    if scenario.limits:
        raised = ", ".join(f"{role} {count}" for role, count in sorted(scenario.limits.items()))
        lines[0] += f" (hosts under faults at once raised to: {raised})"
    planning = _Planning(inventory, registries, guards, seed, scenario.nodeid)
    for step in scenario.steps:
        _note_given(planning, step.name)
        match = NAMED.search(step.name)
        if match is not None:
            lines.extend(_plan_step(planning, step, match))
    if len(lines) == 1:
        lines.append("  no faults or recoveries")
    return lines


def _note_given(planning: _Planning, text: str) -> None:
    """A ``Given a <role> host`` step: whether the role's host is chosen when the drill runs."""
    role = chosen_role(text)
    if role is None:
        return
    planning.picked.pop(role, None)
    qualifier = vip_qualifier(text)
    if qualifier is None:
        planning.qualified.pop(role, None)
    else:
        planning.qualified[role] = qualifier


def _plan_step(planning: _Planning, step: Any, match: re.Match[str]) -> list[str]:
    kind, name = match["kind"], match["name"]
    where = f"line {step.line_number}"
    untargeted = _untargeted_fault(kind, name, step.name[match.end():], planning.inventory,
                                   where)
    if untargeted is not None:
        return [untargeted]
    choice = step_choice(step.name)
    if choice is not None:
        return _plan_choice(planning, step, kind, name, choice)
    role_match = ON_ROLE_HOST.search(step.name, match.end())
    if role_match is None:
        return [f"  {kind} {name} ({where}): the step names no '<role> host' target"]
    role = role_match["role"]
    host = planning.picked.get(role) or _first_host(planning.inventory, role)
    if isinstance(host, str):
        return [f"  {kind} {name} ({where}): {host}"]
    qualifier = planning.qualified.get(role)
    if qualifier is not None:
        return [f"  {kind} {name} on the {role} host {qualifier} when the drill runs "
                f"({where})", f"    as on {host.name}:",
                *_plan_on(planning, step, kind, name, host)]
    return [f"  {kind} {name} on {host.name} ({role} host, {where})",
            *_plan_on(planning, step, kind, name, host)]


def _plan_choice(planning: _Planning, step: Any, kind: str, name: str,
                 choice: Choice) -> list[str]:
    """A step that chooses its hosts: the hosts (or how they will be chosen), then each one's
    plan; when the dry run cannot know them, the plan on the first candidate."""
    where = f"line {step.line_number}"
    problem = inventory_problem(choice, planning.inventory)
    if problem is not None:
        return [f"  {kind} {name} ({where}): {problem}"]
    key = choice_key(planning.nodeid, kind, name, choice, planning.seen)
    said = planned(choice, planning.inventory, planning.seed, key)
    hosts = planned_hosts(choice, planning.inventory, planning.seed, key)
    if hosts is None:
        first = planning.inventory.with_role(choice.role)[0]
        planning.picked[choice.role] = first
        return [f"  {kind} {name} on {said} ({where})", f"    as on {first.name}:",
                *_plan_on(planning, step, kind, name, first)]
    planning.picked[choice.role] = hosts[0]
    lines = [f"  {kind} {name} on {said} ({where})"]
    for host in hosts:
        lines += [f"    on {host.name}:", *_plan_on(planning, step, kind, name, host)]
    return lines


def _plan_on(planning: _Planning, step: Any, kind: str, name: str, host: HostSpec
             ) -> list[str]:
    """What ``kind`` ``name`` would do on ``host``: a guard's refusal, then the commands."""
    target = dry_run_target(planning.inventory, host.name)
    guards, lines = planning.guards, []
    try:
        raw = table_params(_rows(step))
        if kind == "fault":
            fault = planning.registries.faults.get(name)
            cut = fault.cut_off(raw, planning.inventory, host)
            refusal = guards.fault_refusal(name, host, planning.active, cut)
            commands = fault(target, raw).plan()
            if refusal is None:
                planning.active += [host, *cut]
            else:
                lines.append(f"    ! {refusal}")
            lines.extend(f"    $ {command}" for command in commands)
        else:
            refusal = guards.recovery_refusal(name, host)
            if refusal is not None:
                lines.append(f"    ! {refusal}")
            runbook = planning.registries.recoveries.get(name)(target, raw).runbook()
            for number, runbook_step in enumerate(runbook, 1):
                lines.append(f"    {number}. {runbook_step.title}")
                lines.extend(f"       $ {command}" for command in runbook_step.commands)
    except (ActionFailed, BadInput) as exc:  # a host the dry run does not contact
        lines.append(f"    cannot plan: {exc}")
    return lines


def render_plan(scenarios: Sequence[PlannedScenario], inventory: Inventory,
                registries: Registries, confirm: str | None = None,
                seed: int | None = None, skipped: Sequence[str] = ()) -> str:
    """The plan as printed; the inventory's secrets (power passwords) never appear in it. With
    ``seed``, the hosts a run with that seed chooses at random; ``skipped`` are the reasons of
    the scenarios the run would skip (counted in the header, one line per reason)."""
    cloud = repr(inventory.cloud) if inventory.cloud else "(no cloud name)"
    count = len(scenarios)
    lines = [f"plan: {count} scenario{'' if count == 1 else 's'} against cloud {cloud} "
             f"(inventory {inventory.path})",
             "dry run: no host is contacted, nothing is injected or journalled"]
    guards = Guards.for_inventory(inventory, confirm=confirm)
    refusal = guards.production_refusal()
    changing = sum(1 for scenario in scenarios if scenario.changes_the_cloud)
    if refusal is not None and changing:
        # the plan itself changes nothing: this is what a run of these scenarios would say
        lines.append(f"! {refusal.removesuffix('; nothing injected')} ({changing} of {count} "
                     f"scenario{'' if count == 1 else 's'} "
                     f"change{'s' if changing == 1 else ''} the cloud)")
    if inventory.protected:
        lines.append(f"protected hosts (never touched): {', '.join(sorted(inventory.protected))}")
    lines.append("at most one host per role under faults at once, unless a feature raises it "
                 "with @allow_down_<role>_<n>")
    if seed is not None:
        lines.append(f"seed {seed}: the hosts chosen at random are those a run with --seed "
                     f"{seed} chooses")
    for reason, times in Counter(skipped).items():
        lines.append(f"skipped: {times} scenario{'' if times == 1 else 's'}: {reason}")
    for scenario in scenarios:
        limits = Guards.for_inventory(inventory, scenario.limits)
        lines.append("")
        lines.extend(plan_scenario(scenario, inventory, registries,
                                   dataclasses.replace(limits, production=False), seed))
    return inventory_redactor(inventory)("\n".join(lines) + "\n")
