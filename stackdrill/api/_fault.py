"""What a fault is: inject, confirm that the damage happened, and undo. Drill authors import
:class:`Fault` and :class:`FaultError` from :mod:`stackdrill.api`, not from here."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from stackdrill.core.errors import ActionFailed
from stackdrill.core.params import Param, parse_params
from stackdrill.hosts.target import Target
from stackdrill.inventory.model import HostSpec, Inventory


class FaultError(ActionFailed):
    """A fault could not be prepared, injected or undone."""


class Fault(ABC):
    """Subclass, set ``name``, ``description`` and ``params``, and register it.

    ``prepare`` gathers what ``undo`` will need; the drill writes it to the journal before
    ``inject`` runs, so a later process can undo the fault from the journal alone.

    ``name`` is what a feature writes (``When the fault "kill_service" is injected on the
    compute host``) and is unique among faults; ``description`` is one line for the catalogue
    (say what the confirm observes); ``params`` maps each parameter a feature's table may give
    to its :class:`~stackdrill.api.Param`. An instance is made per use, with the
    chosen host's ``target`` and the table's raw strings: ``raw_params`` keeps them as given,
    ``values`` holds them parsed (defaults filled in). Keep what ``undo`` needs in the facts,
    not on the instance: it may run on a new instance, in another process.

    When each part runs, in a drill:

    1. ``validate`` and ``inventory_problems`` (class methods) at collection: bad parameters
       refuse the run with one line before anything is touched.
    2. The guards, and before the drill's first fault the pre-flight (the cloud still matches
       its verified state); then ``plan``, whose commands go to the evidence ("fault plan"),
       then ``prepare`` on the live host. An ``ActionFailed`` (:class:`FaultError`,
       ``HostError``) or ``BadInput`` from either refuses the fault: the drill fails, nothing
       is journalled or injected.
    3. The journal entry is written and fsynced: the fault's name, the host's name, the raw
       parameters, the facts ``prepare`` returned, the run, the process ID, the cloud, and
       where the class was loaded from (so that ``stackdrill recover --pending`` finds it).
    4. ``inject(facts)``. From here the fault counts as injected, even when ``inject`` raises
       half way: its undo runs whatever happened next.
    5. ``confirm(facts)``, polled until it returns evidence, when the scenario says "the fault
       is confirmed within N seconds" ("the faults are confirmed ..." confirms every fault).
       No recovery runs, no fault ends and no verdict is given before it is confirmed.
    6. ``undo(facts)`` when the scenario says the fault ends, else when the scenario ends
       (passed, failed, interrupted), newest fault first; after a SIGKILL, ``stackdrill
       recover --pending`` in another process, on a new instance made from the journalled
       parameters with the journalled facts.

    In the dry run (``stackdrill plan``) only ``plan`` runs, on a target that cannot connect.
    A fault may also say that the recovery repairs its damage: with an ``unrepaired(facts)``
    method (:class:`~stackdrill.engine.verdicts.ClaimsRepair`) the drill fails when the
    verified state is back but the damage is not repaired.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[Mapping[str, Param]] = {}

    def __init__(self, target: Target, raw_params: Mapping[str, str]) -> None:
        self.target = target
        self.raw_params = dict(raw_params)
        self.values: dict[str, Any] = parse_params(f"fault {self.name!r}", self.params,
                                                   raw_params)

    @classmethod
    def validate(cls, raw_params: Mapping[str, str]) -> None:
        """Refuse a feature's parameters with a one-line
        :class:`~stackdrill.api.ParamError` (checked at collection, before anything
        runs)."""
        parse_params(f"fault {cls.name!r}", cls.params, raw_params)

    @classmethod
    def inventory_problems(cls, raw_params: Mapping[str, str], inventory: Inventory,
                           hosts: Sequence[HostSpec]) -> list[str]:
        """What is wrong with the parameters against the inventory when the fault acts on
        ``hosts`` (checked at collection, once the inventory is known, after :meth:`validate`):
        one line each, or nothing. A set that names no host, say."""
        return []

    @classmethod
    def cut_off(cls, raw_params: Mapping[str, str], inventory: Inventory,
                host: HostSpec) -> list[HostSpec]:
        """The other hosts this fault on ``host`` cuts off (a partition's peers): the guards
        count them as under the fault too, for the protected hosts, the role limits and the
        quorum. Parameters that name no host give none (``prepare`` refuses them)."""
        return []

    @abstractmethod
    def plan(self) -> list[str]:
        """The commands ``inject`` would run, for the dry run and the report. Build them from
        ``values`` and the target's name alone: in the dry run the target cannot connect (a
        :class:`~stackdrill.api.HostError` there is printed as "cannot plan")."""

    def prepare(self) -> dict[str, Any]:
        """Facts needed to confirm and undo (JSON-serialisable); raise FaultError if unsafe.

        Runs on the live host before anything is journalled or injected: read what the undo
        will have to put back (a unit's state, a file's mode, the host's boot identity) and
        refuse what would prove nothing or cannot be undone (a service that is not running).
        The facts are journalled as they are returned: strings, numbers, booleans, lists and
        mappings (a value JSON cannot hold stops the drill before the injection)."""
        return {}

    @abstractmethod
    def inject(self, facts: Mapping[str, Any]) -> None:
        """Break the host as planned, with the commands ``plan`` names, run with ``record`` on
        so that the evidence shows them. Return once the damage is under way; the drill polls
        ``confirm`` for its effect. An :class:`~stackdrill.core.errors.ActionFailed` fails the
        drill, and the undo still runs."""

    @abstractmethod
    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """Evidence that the damage happened, or None while it is not (yet) observable.

        The drill calls it every 0.2 s to 1 s until it returns a non-empty string or the
        scenario's N seconds pass (then the drill fails: fault not confirmed). The string is
        the evidence, on the drill's timeline: say what was observed ("pid 4242 of libvirtd
        is gone on compute1"). Observe the damage itself, not that ``inject`` ran. A
        :class:`~stackdrill.api.HostError` counts as not yet; any other
        ``ActionFailed`` fails the confirmation at once."""

    @abstractmethod
    def undo(self, facts: Mapping[str, Any]) -> None:
        """Put back what ``inject`` broke. Idempotent: it may run after a recovery already did.

        It gets only the journalled facts and a new instance's ``target`` and ``values`` (in
        another process, after a killed run), and may run after ``inject`` failed half way.
        Raise an :class:`~stackdrill.core.errors.ActionFailed` when it cannot: the drill fails
        with it, and the journal keeps the fault pending until ``stackdrill recover --pending``
        undoes it."""
