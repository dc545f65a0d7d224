"""The drill vocabulary's grammar, said once: the step definitions (``steps/drill_steps.py``),
the checks at collection (:mod:`stackdrill.engine.preflight`) and the dry run
(:mod:`stackdrill.engine.plan`) all read the steps with these patterns.

A fault, recovery or procedure step acts on the host that an earlier ``Given a <role> host``
of the same scenario (its Background included) chose, or on every host of a role. A fault or
recovery step may also choose its hosts the way operators do (:data:`CHOICE`): ``on a random
compute host`` (drawn with the run's seed), ``on 2 compute hosts`` (the first two by name),
``on 2 random compute hosts``, ``on the compute host running canary X`` (or ``running server
X``: where Nova says that server runs). A step's choice becomes "the <role> host" of the
steps after it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

ROLE = r"[\w-]+"

# A procedure (a backup, planned maintenance) is a runbook like a recovery, in the same registry.
NAMED = re.compile(r'\b(?P<kind>fault|recovery|procedure) "(?P<name>[^"]+)"')
ON_ROLE = rf"on the (?P<role>{ROLE}) host"
ON_EVERY = rf"on every (?:(?P<role>{ROLE}) )?host"
ON_ROLE_HOST = re.compile(rf"\b{ON_ROLE}\b")
ON_EVERY_HOST = re.compile(rf"\b{ON_EVERY}\b")

CHOOSE_FIRST = rf"an? (?P<role>{ROLE}) host(?P<domains> running qemu domains)?"
# "a controller host holding the VIP" (or "not holding the VIP"): the host of the role that
# holds the inventory's virtual IP when the step runs (or one that does not)
HOLDING_THE_VIP = r" (?:not )?holding the VIP"
CHOOSE_BY_VIP = rf"an? (?P<role>{ROLE}) host(?P<vip>{HOLDING_THE_VIP})"
# either: every step that chooses "the <role> host" of the steps after it
CHOOSE_HOST = (rf"an? (?P<role>{ROLE}) host(?:(?P<domains> running qemu domains)|"
               rf"(?P<vip>{HOLDING_THE_VIP}))?")
INJECT = rf'the fault "(?P<fault>[^"]+)" is injected {ON_ROLE}:?'
INJECT_EVERYWHERE = rf'the fault "(?P<fault>[^"]+)" is injected {ON_EVERY}:?'
RECOVER = rf'the (?:recovery|procedure) "(?P<recovery>[^"]+)" runs {ON_ROLE}:?'

# hosts chosen the way operators choose them: one (at random, or where a server runs), or N
SERVER = r"[^\s:\"]+"
ONE_CHOSEN = (rf"a random {ROLE} host|the {ROLE} host running (?:canary|server) {SERVER}")
SOME_CHOSEN = rf"\d+ (?:random )?{ROLE} hosts"
CHOICE = rf"(?:{ONE_CHOSEN}|{SOME_CHOSEN})"
ON_CHOICE = re.compile(rf"\bon (?P<choice>{CHOICE})(?=:?$)")
INJECT_ONE_CHOSEN = rf'the fault "(?P<fault>[^"]+)" is injected on (?P<choice>{ONE_CHOSEN}):?'
INJECT_SOME_CHOSEN = rf'the fault "(?P<fault>[^"]+)" is injected on (?P<choice>{SOME_CHOSEN}):?'
RECOVER_CHOSEN = (rf'the (?P<kind>recovery|procedure) "(?P<recovery>[^"]+)" runs on '
                  rf'(?P<choice>{ONE_CHOSEN}):?')
SECONDS = r"(?P<seconds>\d+(?:\.\d+)?) seconds?"
# the singular confirms the fault of the last INJECT (one host); the plural confirms them all
CONFIRM_ONE = rf"the fault is confirmed within {SECONDS}"
CONFIRM_ALL = rf"the faults are confirmed within {SECONDS}"
FAULT_ENDS = r'the fault "(?P<fault>[^"]+)" ends'
BACK_TO_VERIFIED = rf"the cloud is back to its verified state within {SECONDS}"
# a fault parameter: the scenario says its recovery re-creates what the fault removed, which
# the drill checks once the verified state is back (BACK_TO_VERIFIED)
RECREATES = "recovery_recreates"

TOLERATES = "the verified state tolerates:"
TOLERATES_FROM_NOW = "the verified state from now on tolerates:"
RULE_HEADER = "rule"
UNCHANGED = "the state still matches the verified state at:"
PATH_HEADER = "path"


def chosen_role(text: str) -> str | None:
    """The role a ``Given a <role> host`` step chooses, or None for any other step."""
    match = re.fullmatch(CHOOSE_HOST, text.strip())
    return match["role"] if match else None


def vip_qualifier(text: str) -> str | None:
    """``holding the VIP`` or ``not holding the VIP`` for a ``Given a <role> host`` step that
    chooses by the VIP; None for any other step."""
    match = re.fullmatch(CHOOSE_HOST, text.strip())
    return match["vip"].strip() if match and match["vip"] else None


def path_cells(rows: Sequence[Sequence[str]]) -> list[str]:
    """The path patterns of a path table: the first column, without the header row."""
    return [str(row[0]).strip() for row in rows
            if row and str(row[0]).strip() and str(row[0]).strip() != PATH_HEADER]


def rule_cells(rows: Sequence[Sequence[str]]) -> list[tuple[int, str]]:
    """Each rule of a tolerance table with the index of its row: the first column, without
    the header row."""
    return [(index, str(row[0]).strip()) for index, row in enumerate(rows)
            if row and str(row[0]).strip() != RULE_HEADER]

# What the tenants felt (read by stackdrill.engine.tenant_expectations): an API's longest
# outage, and what the canaries' guests saw. An API or a claim is matched loosely here and
# refused by name at collection, so that a typo gets its own line rather than "no step matches".
API_UNAVAILABLE = rf"(?:the (?P<api>[\w -]+?) API|every API) was unavailable for at most {SECONDS}"
CANARY_HOST = r"[\w.-]+"
TENANTS_SAW = (rf"(?:the tenants|each canary|the canary on (?P<host>{CANARY_HOST})) "
               rf"saw (?P<claims>.+)")
NO_CANARY_REBOOTED = r"no canary rebooted"
CANARY_REBOOTED = (rf"(?:each canary|the canary on (?P<host>{CANARY_HOST})) rebooted at most "
                   rf"(?P<times>once|\d+ times)")
HEARTBEATS_STALLED = rf"the canaries' heartbeats stalled for at most {SECONDS}"


@dataclass(frozen=True)
class Choice:
    """Hosts a step chooses: ``count`` hosts of ``role``, at random (with the run's seed) or the
    first by name; or the host running server ``server`` (a canary's short name or any
    server's name, as ``kind`` says)."""

    role: str
    count: int = 1
    random: bool = False
    server: str | None = None
    kind: str = "server"

    @property
    def text(self) -> str:
        if self.server is not None:
            return f"the {self.role} host running {self.kind} {self.server}"
        if self.count == 1 and self.random:
            return f"a random {self.role} host"
        return f"{self.count} {'random ' if self.random else ''}{self.role} hosts"


_RANDOM_ONE = re.compile(rf"a random (?P<role>{ROLE}) host")
_RUNNING = re.compile(rf"the (?P<role>{ROLE}) host running (?P<kind>canary|server) "
                      rf"(?P<server>{SERVER})")
_SOME = re.compile(rf"(?P<count>\d+) (?P<random>random )?(?P<role>{ROLE}) hosts")


def parse_choice(text: str) -> Choice | None:
    """The :class:`Choice` a :data:`CHOICE` text says, or None for any other text."""
    text = text.strip()
    match = _RANDOM_ONE.fullmatch(text)
    if match:
        return Choice(match["role"], random=True)
    match = _RUNNING.fullmatch(text)
    if match:
        return Choice(match["role"], server=match["server"], kind=match["kind"])
    match = _SOME.fullmatch(text)
    if match:
        return Choice(match["role"], count=int(match["count"]), random=bool(match["random"]))
    return None


def step_choice(text: str) -> Choice | None:
    """The choice a fault, recovery or procedure step makes with its target, or None."""
    named = NAMED.search(text)
    found = ON_CHOICE.search(text.strip(), named.end()) if named else None
    return parse_choice(found["choice"]) if found else None
