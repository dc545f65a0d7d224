"""Restore what a killed run left broken, from the journal alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from stackdrill.api.origin import OriginError, load_class
from stackdrill.api.registry import Registries, Registry
from stackdrill.api.runbook import RecoveryContext
from stackdrill.cloud.access import CloudAccess
from stackdrill.core.errors import ActionFailed, BadInput
from stackdrill.engine.journal import Journal, JournalEntry
from stackdrill.engine.lock import lock_name
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import load_inventory

#: What fails one entry, and the others are still restored: bad input (an unknown name, a
#: parameter), a failed action (the undo or rollback itself), a class that cannot be loaded.
ERRORS = (BadInput, ActionFailed, OriginError)


def undo_pending(journal: Journal, targets: Targets, registries: Registries,
                 cloud: CloudAccess | None = None,
                 redact: Callable[[str], str] = str) -> tuple[list[str], int]:
    """Undo every armed fault and roll back every recovery a run left half done, newest first;
    return one line per entry and the failure count. Every line, and every detail written to
    the journal, passes through ``redact``."""
    lines: list[str] = []
    failures = 0
    pending = journal.pending()
    if journal.cloud is not None:
        pending = [entry for entry in pending
                   if entry.belongs_to(journal.cloud, targets.inventory.hosts)]
    if not pending:
        return [f"nothing pending for {journal.cloud or 'this inventory'} in {journal.path}"], 0
    for entry in reversed(pending):
        label = f"{entry.fault} on {entry.target} (armed by pid {entry.pid}, run {entry.run[:8]})"
        try:
            done = _restore(entry, targets, registries, cloud)
        except ERRORS as exc:
            journal.mark_undone(entry.id, ok=False, detail=redact(str(exc)))
            # the code that can undo it is not at hand: said, since nothing was attempted
            kept = "; left pending" if isinstance(exc, OriginError) else ""
            lines.append(redact(f"FAILED {label}: {exc}{kept}"))
            failures += 1
            continue
        journal.mark_undone(entry.id, detail="restored by stackdrill recover --pending")
        lines.append(redact(f"{done} {label}"))
    return lines, failures


def _restore(entry: JournalEntry, targets: Targets, registries: Registries,
             cloud: CloudAccess | None) -> str:
    target = targets.get(entry.target)
    if entry.kind == "recovery":
        context = RecoveryContext(targets=targets, cloud=cloud)
        recovery = _known(registries.recoveries, entry)
        done = recovery(target, entry.params, context).rollback()
        return f"rolled back the interrupted recovery ({'; '.join(done) or 'nothing to do'})"
    _known(registries.faults, entry)(target, entry.params).undo(entry.undo)
    return "restored"


def _known(registry: Registry[Any], entry: JournalEntry) -> type[Any]:
    """The entry's class: registered by the entry points, or loaded from where the dead run
    found it (a conftest.py, a plugin module) and registered for the entries after it."""
    if entry.fault not in registry and entry.origin is not None:
        registry.register(load_class(entry.origin, registry.kind, entry.fault))
    return registry.get(entry.fault)


def close_replaced_lab(inventory_path: Path, journal_path: Path) -> int:
    """The lab was built afresh: what dead runs left pending on the old one went with it.
    Returns how many entries were closed."""
    inventory = load_inventory(inventory_path)
    journal = Journal(journal_path)
    left = journal.left_behind(lock_name(inventory), inventory.hosts)
    for entry in left:
        journal.mark_undone(entry.id, detail="the lab was rebuilt")
    return len(left)
