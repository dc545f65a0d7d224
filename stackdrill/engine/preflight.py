"""Checks run before anything is injected: feature vocabulary, inventory, and host access."""

from __future__ import annotations

import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from stackdrill.api._registry import Registries, UnknownName
from stackdrill.cloud.tempest.selection import step_problems as tempest_step_problems
from stackdrill.core.params import ParamError, boolean, table_params
from stackdrill.core.state import Rule
from stackdrill.engine.choice import inventory_problem
from stackdrill.engine.grammar import (
    BACK_TO_VERIFIED,
    CONFIRM_ALL,
    CONFIRM_ONE,
    FAULT_ENDS,
    INJECT,
    INJECT_EVERYWHERE,
    INJECT_ONE_CHOSEN,
    INJECT_SOME_CHOSEN,
    NAMED,
    ON_EVERY_HOST,
    ON_ROLE_HOST,
    RECOVER,
    RECOVER_CHOSEN,
    RECREATES,
    TOLERATES,
    TOLERATES_FROM_NOW,
    UNCHANGED,
    chosen_role,
    path_cells,
    rule_cells,
    step_choice,
)
from stackdrill.engine.safeguards import SAFEGUARD_STEP, parse_safeguards
from stackdrill.engine.tenant_expectations import step_problems as tenant_step_problems
from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import Target, Targets
from stackdrill.inventory.model import ROLES, Inventory

__all__ = ["NAMED", "check_choices", "check_confirmed", "check_every_role",
           "check_fault_inventory", "check_hosts", "check_recreated", "check_running_domains",
           "check_steps", "one_line", "unchanged_patterns"]

DOMAINS_PROBE = "libvirt_domains"


def unchanged_patterns(steps: Iterable[Any]) -> list[str]:
    """The path patterns the scenario's "still matches" steps check."""
    return [pattern for step in steps if step.name.strip() == UNCHANGED
            for pattern in path_cells(_table(step))]


def _table(step: Any) -> list[list[str]]:
    rows = step.datatable.raw() if step.datatable is not None else []
    return [[str(cell) for cell in row] for row in rows]


def _row_lines(step: Any) -> list[int]:
    """The file line of each row of the step's table (the rows follow the step when the
    table does not say)."""
    rows = getattr(step.datatable, "rows", None)
    lines = [getattr(getattr(row, "location", None), "line", None) for row in rows or []]
    if lines and all(isinstance(line, int) for line in lines):
        return [int(line) for line in lines if line is not None]
    return [step.line_number + 1 + index for index in range(len(_table(step)))]


def _tolerance_problems(location: str, step: Any) -> list[str]:
    """Each rule of a tolerance table must parse; a bad one is named by its row's line."""
    lines = _row_lines(step)
    problems = []
    for index, text in rule_cells(_table(step)):
        try:
            Rule.parse(text)
        except ValueError as exc:
            problems.append(f"{location}:{lines[index]}: {exc}")
    return problems


def _named_problems(where: str, step: Any, registries: Registries) -> list[str]:
    """A fault, recovery or procedure must be registered and take the step's parameters (a
    step that ends a fault takes none)."""
    match = NAMED.search(step.name)
    if match is None:
        return []
    kind, name = match["kind"], match["name"]
    registry = registries.faults if kind == "fault" else registries.recoveries
    try:
        found = registry.get(name)
        if not re.fullmatch(FAULT_ENDS, step.name.strip()):
            found.validate(table_params(_table(step)))
    except (UnknownName, ParamError) as exc:
        return [f"{where}: {exc}"]
    return []


def _unknown_role(where: str, role: str | None) -> list[str]:
    if role is None or role in ROLES:
        return []
    return [f"{where}: unknown role {role!r} (known: {', '.join(ROLES)})"]


def _role_problems(where: str, step: Any, chosen: dict[str, int]) -> list[str]:
    """A step that acts on the <role> host needs an earlier step that chose one host of that
    role (``Given a <role> host``, or a fault or recovery ``on a random <role> host``...); every
    role named must be one the inventories know. Records in ``chosen`` how many hosts of its
    role a step chooses."""
    role = chosen_role(step.name)
    if role is not None:
        chosen[role] = 1
        return _unknown_role(where, role)
    named = NAMED.search(step.name)
    if named is None:  # a step of its own on the <role> host: a server booted on it
        own = ON_ROLE_HOST.search(step.name)
        return [] if own is None else _acting_on(where, "the step", own["role"], chosen)
    choice = step_choice(step.name)
    if choice is not None:
        chosen[choice.role] = choice.count
        count = [] if choice.count >= 1 else [f"{where}: {choice.text}: choose at least one host"]
        return _unknown_role(where, choice.role) + count
    every = ON_EVERY_HOST.search(step.name, named.end())
    if every is not None:
        return _unknown_role(where, every["role"])
    target = ON_ROLE_HOST.search(step.name, named.end())
    if target is None:
        return []
    return _acting_on(where, f"the {named['kind']} {named['name']!r}", target["role"], chosen)


def _acting_on(where: str, actor: str, role: str, chosen: dict[str, int]) -> list[str]:
    """What keeps ``actor`` from acting on the <role> host: an unknown role, no earlier step
    that chose one, or one that chose several."""
    if role not in ROLES:
        return _unknown_role(where, role)
    acts = f"{actor} acts on the {role} host"
    if role not in chosen:
        return [f"{where}: {acts}, but no earlier step 'Given a {role} host' chooses one"]
    if chosen[role] > 1:
        return [f"{where}: {acts}, but an earlier step chose {chosen[role]} {role} hosts; name "
                f"one ('on the {role} host running canary NAME', 'on a random {role} host')"]
    return []


def _acts(text: str) -> str | None:
    """What a step does to the faults injected before it, in words: a recovery or procedure
    runs, a fault ends, the verdict is given; None for any other step."""
    if re.fullmatch(RECOVER, text) or re.fullmatch(RECOVER_CHOSEN, text):
        named = NAMED.search(text)
        return f"the {named['kind']} {named['name']!r} acts" if named else None
    ends = re.fullmatch(FAULT_ENDS, text)
    if ends is not None:
        return f"the fault {ends['fault']!r} ends"
    if re.fullmatch(BACK_TO_VERIFIED, text):
        return "the return to the verified state is checked"
    return None


HOW_TO_CONFIRM = ("('the fault is confirmed within N seconds' confirms the fault last injected "
                  "on one host, 'the faults are confirmed within N seconds' every fault)")
SINGULAR_ALONE = ("the singular confirmation has no fault injected on one host before it; use "
                  "'the faults are confirmed'")


def _injected(text: str) -> re.Match[str] | None:
    """The match of a step that injects a fault (on one host, on every host, on hosts it
    chooses), or None."""
    return (re.fullmatch(INJECT, text) or re.fullmatch(INJECT_EVERYWHERE, text)
            or re.fullmatch(INJECT_ONE_CHOSEN, text) or re.fullmatch(INJECT_SOME_CHOSEN, text))


def _on_one_host(text: str) -> bool:
    return bool(re.fullmatch(INJECT, text) or re.fullmatch(INJECT_ONE_CHOSEN, text))


@dataclass
class _Confirmations:
    """The faults injected and not confirmed yet, as the drill counts them: the singular
    confirmation confirms the fault last injected on one host, the plural one every fault."""

    unconfirmed: dict[int, str] = field(default_factory=dict)  # each one's line: its name
    last_on_one_host: int | None = None

    def first(self) -> tuple[int, str] | None:
        return next(iter(self.unconfirmed.items()), None)

    def problem(self, text: str, line: int) -> str | None:
        """What is wrong with the step at ``line``, or None; counts the faults it injects or
        confirms."""
        injected = _injected(text)
        if injected is not None:
            self.unconfirmed[line] = injected["fault"]
            self.last_on_one_host = line if _on_one_host(text) else self.last_on_one_host
            return None
        if re.fullmatch(CONFIRM_ONE, text):
            return self._confirm_one()
        if re.fullmatch(CONFIRM_ALL, text):
            self.unconfirmed.clear()
            return None
        acts, first = _acts(text), self.first()
        if acts is None or first is None:
            return None
        return f"{acts} before the fault {first[1]!r} of line {first[0]} is confirmed " \
               f"{HOW_TO_CONFIRM}"

    def _confirm_one(self) -> str | None:
        if self.last_on_one_host is None:
            return SINGULAR_ALONE
        self.unconfirmed.pop(self.last_on_one_host, None)
        return None


def check_confirmed(location: str, steps: Iterable[Any]) -> list[str]:
    """Nothing acts on a fault before a step confirms it, and every fault is confirmed by the
    scenario's last step, as the drill counts them (:class:`_Confirmations`); the singular
    confirmation needs a fault injected on one host before it. Names the first step that acts
    too early or confirms nothing, else the first fault never confirmed, or nothing."""
    confirmations = _Confirmations()
    for step in steps:
        problem = confirmations.problem(step.name.strip(), step.line_number)
        if problem is not None:
            return [f"{location}:{step.line_number}: {problem}"]
    first = confirmations.first()
    if first is None:
        return []
    line, fault = first
    return [f"{location}:{line}: the fault {fault!r} of line {line} is never confirmed "
            f"{HOW_TO_CONFIRM}"]


def _recreates(step: Any) -> bool:
    """Whether a fault step's table says its recovery re-creates what the fault removed (a
    table or value that does not parse is the parameter check's to report)."""
    try:
        value = table_params(_table(step)).get(RECREATES)
        return value is not None and boolean(value)
    except (ParamError, ValueError):
        return False


def _repair_checked(later: Iterable[Any], fault: str) -> bool:
    """Whether a later step checks the return to the verified state before the fault ends
    (an ended fault is undone, and its repair no longer checked)."""
    for step in later:
        text = step.name.strip()
        if re.fullmatch(BACK_TO_VERIFIED, text):
            return True
        ends = re.fullmatch(FAULT_ENDS, text)
        if ends is not None and ends["fault"] == fault:
            return False
    return False


def check_recreated(location: str, steps: Iterable[Any]) -> list[str]:
    """A fault whose recovery is said to re-create what it removed (``recovery_recreates``)
    needs a later 'the cloud is back to its verified state' step, where the drill checks that
    repair, before the fault ends."""
    steps = list(steps)
    problems = []
    for index, step in enumerate(steps):
        injected = _injected(step.name.strip())
        if injected is None or not _recreates(step) \
                or _repair_checked(steps[index + 1:], injected["fault"]):
            continue
        problems.append(f"{location}:{step.line_number}: the fault {injected['fault']!r} says "
                        f"its recovery re-creates what it removes ({RECREATES}), but no later "
                        f"step 'the cloud is back to its verified state within N seconds' "
                        f"checks that before the fault ends")
    return problems


def check_steps(location: str, steps: Iterable[Any], registries: Registries) -> list[str]:
    """Every fault or recovery a scenario names must be registered and take its parameters, on
    a host an earlier step chose; a safeguards or tolerance table must parse; a tenant
    expectation must name a known API and claims that read; a Tempest regex must compile; no
    fault is acted on before it is confirmed, none is left unconfirmed, and a repair the
    scenario claims is checked."""
    steps = list(steps)
    problems = []
    chosen: dict[str, int] = {}
    for step in steps:
        where = f"{location}:{step.line_number}"
        text = step.name.strip()
        if text == SAFEGUARD_STEP:
            try:
                parse_safeguards(_table(step))
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
            continue
        if text in (TOLERATES, TOLERATES_FROM_NOW):
            problems += _tolerance_problems(location, step)
            continue
        problems += _role_problems(where, step, chosen)
        problems += _named_problems(where, step, registries)
        problems += tenant_step_problems(where, text)
        problems += tempest_step_problems(where, text)
    return problems + check_confirmed(location, steps) + check_recreated(location, steps)


def check_every_role(location: str, steps: Iterable[Any], inventory: Inventory) -> list[str]:
    """A fault on every host of a role needs at least one such host in the inventory."""
    problems = []
    for step in steps:
        named = NAMED.search(step.name)
        every = ON_EVERY_HOST.search(step.name, named.end()) if named else None
        if named is None or every is None or every["role"] not in ROLES:
            continue
        role = every["role"]
        if not inventory.with_role(role):
            problems.append(f"{location}:{step.line_number}: the {named['kind']} "
                            f"{named['name']!r} acts on every {role} host, but the inventory "
                            f"has no {role} host")
    return problems


def check_choices(location: str, steps: Iterable[Any], inventory: Inventory) -> list[str]:
    """A step that chooses its hosts needs them in the inventory: a host of the role, as many
    as it asks for."""
    problems = []
    for step in steps:
        choice = step_choice(step.name)
        named = NAMED.search(step.name)
        problem = inventory_problem(choice, inventory) if choice and named else None
        if problem is not None and named is not None:
            problems.append(f"{location}:{step.line_number}: the {named['kind']} "
                            f"{named['name']!r} acts on {problem}")
    return problems


def _acted_on(text: str, inventory: Inventory) -> list[Any] | None:
    """The hosts a fault step acts on (every host of its role, which the drill narrows to
    the one it chose), or None for a step that injects no fault."""
    injected = _injected(text)
    if injected is None:
        return None
    choice = step_choice(text)
    role = choice.role if choice is not None else injected.groupdict().get("role")
    if role is None:
        return sorted(inventory.hosts.values(), key=lambda spec: spec.name)
    return inventory.with_role(role) if role in ROLES else None


def check_fault_inventory(location: str, steps: Iterable[Any], inventory: Inventory,
                          registries: Registries) -> list[str]:
    """Each fault's parameters against the inventory (:meth:`Fault.inventory_problems`): a
    partition whose set is empty or holds the harness's own address, say."""
    problems = []
    for step in steps:
        text = step.name.strip()
        hosts = _acted_on(text, inventory)
        named = NAMED.search(text)
        if hosts is None or named is None:
            continue
        try:
            fault = registries.faults.get(named["name"])
            raw = table_params(_table(step))
            fault.validate(raw)
        except (UnknownName, ParamError):
            continue  # check_steps names it
        problems += [f"{location}:{step.line_number}: fault {named['name']!r}: {problem}"
                     for problem in fault.inventory_problems(raw, inventory, hosts)]
    return problems


def check_running_domains(target: Target, registries: Registries) -> str | None:
    """Why ``target`` cannot be called a host running qemu domains, or None: at least one
    domain that libvirt lists as running and whose qemu process is alive, as the
    ``libvirt_domains`` probe observes them (one round trip)."""
    try:
        probe = registries.probes.get(DOMAINS_PROBE)()
        values = probe.observe(target)
    except (HostError, UnknownName) as exc:
        return f"{target.name}: cannot list its qemu domains: {exc}"
    running = getattr(probe, "running", None)
    if running is None:
        return f"{target.name}: the {DOMAINS_PROBE} probe registered cannot tell running domains"
    if running(values):
        return None
    why = "" if values.get("libvirt/answering") else " (libvirtd is not answering)"
    return f"{target.name} runs no qemu domain{why}"


def check_hosts(targets: Targets) -> list[str]:
    """Connect to every host once, in parallel; each failure is one line."""

    def connect(name: str) -> str | None:
        try:
            targets.get(name).connection.connect()
        except HostError as exc:
            return str(exc)
        return None

    names = sorted(targets.inventory.hosts)
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(names)))) as pool:
        return [problem for problem in pool.map(connect, names) if problem]


def one_line(problems: list[str]) -> str:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0] + more
