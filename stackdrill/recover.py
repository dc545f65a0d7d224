"""Restore what a killed run left broken, from the journal alone."""

from __future__ import annotations

from stackdrill.fault import FaultError
from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import Targets
from stackdrill.inventory import InventoryError
from stackdrill.journal import Journal
from stackdrill.params import ParamError
from stackdrill.registry import Registries, UnknownName


def undo_pending(journal: Journal, targets: Targets,
                 registries: Registries) -> tuple[list[str], int]:
    """Undo every armed fault, newest first; return one line per fault and the failure count."""
    lines: list[str] = []
    failures = 0
    pending = journal.pending()
    if not pending:
        return [f"nothing pending in {journal.path}"], 0
    for entry in reversed(pending):
        label = f"{entry.fault} on {entry.target} (armed by pid {entry.pid}, run {entry.run[:8]})"
        try:
            fault = registries.faults.get(entry.fault)(targets.get(entry.target), entry.params)
            fault.undo(entry.undo)
        except (UnknownName, ParamError, InventoryError, HostError, FaultError) as exc:
            journal.mark_undone(entry.id, ok=False, detail=str(exc))
            lines.append(f"FAILED {label}: {exc}")
            failures += 1
            continue
        journal.mark_undone(entry.id, detail="restored by stackdrill recover --pending")
        lines.append(f"restored {label}")
    return lines, failures
