"""What a fault is: inject, confirm that the damage happened, and undo."""

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
        """The commands ``inject`` would run, for the dry run and the report."""

    def prepare(self) -> dict[str, Any]:
        """Facts needed to confirm and undo (JSON-serialisable); raise FaultError if unsafe."""
        return {}

    @abstractmethod
    def inject(self, facts: Mapping[str, Any]) -> None: ...

    @abstractmethod
    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """Evidence that the damage happened, or None while it is not (yet) observable."""

    @abstractmethod
    def undo(self, facts: Mapping[str, Any]) -> None:
        """Put back what ``inject`` broke. Idempotent: it may run after a recovery already did."""
