"""Restore what a killed run left broken, from the journal alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from stackdrill.api._origin import OriginError, load_class
from stackdrill.api._registry import Registries, Registry
from stackdrill.api._runbook import RecoveryContext
from stackdrill.cloud.access import CloudAccess
from stackdrill.core.errors import ActionFailed, BadInput, WaitTimeout
from stackdrill.engine.journal import Journal, JournalEntry, JournalError, JournalMirrorError
from stackdrill.engine.lock import lock_for, lock_name, run_lock
from stackdrill.engine.lock_holder import LockUnreachable, RunLock
from stackdrill.hosts.reconnect import retrying_on_disconnect
from stackdrill.hosts.target import Target, Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.inventory.model import Inventory

#: What fails one entry, and the others are still restored: bad input (an unknown name, a
#: parameter), a failed action (the undo or rollback itself, a host that stayed unreachable),
#: a wait of the undo that ran out, a class that cannot be loaded.
ERRORS = (BadInput, ActionFailed, WaitTimeout, OriginError)


RECOVERING = "recover --pending"


def recovery_lock(inventory: Inventory, state_dir: Path,
                  journal: Journal) -> tuple[RunLock, str | None, bool]:
    """The drill lock ``recover --pending`` holds, a note to print, and whether only this
    machine's dead runs' entries may be undone under it.

    A lock on the cloud's database (``coordination.lock: mysql``) cannot be taken while the
    database does not answer, and the server frees it with the connection: the fault a killed
    run left pending may be what stopped that database. When this machine's dead runs left
    entries pending, those are then undone under this machine's lock file rather than not at
    all; another machine's entries wait for the cloud's lock."""
    lock = run_lock(inventory, state_dir, RECOVERING)
    try:
        return lock, lock.acquire(), False
    except LockUnreachable as exc:
        count = _left_here(journal, inventory) if inventory.coordination.lock == "mysql" else 0
        if not count:
            raise
        reason = str(exc)
    local = lock_for(inventory, state_dir, RECOVERING)
    note = local.acquire()
    said = (f"{reason}; a lock on a database that does not answer is free, and this machine's "
            f"dead runs left {count} entr{'y' if count == 1 else 'ies'} pending: undoing them "
            f"under this machine's lock {local.path}")
    return local, "; ".join(filter(None, (said, note))), True


def _left_here(journal: Journal, inventory: Inventory) -> int:
    return sum(1 for entry in journal.pending(local_only=True)
               if _gone_here(entry) and entry.belongs_to(lock_name(inventory), inventory.hosts))


def _gone_here(entry: JournalEntry) -> bool:
    """Armed by a run of this machine that is no longer alive."""
    return entry.here and entry.run_gone()


def undo_pending(journal: Journal, targets: Targets, registries: Registries,
                 cloud: CloudAccess | None = None,
                 redact: Callable[[str], str] = str,
                 here_only: bool = False) -> tuple[list[str], int]:
    """Undo every armed fault and roll back every recovery a run left half done, newest first;
    return one line per entry and the failure count. Every line, and every detail written to
    the journal, passes through ``redact``. With ``here_only`` (the cloud's lock not held:
    :func:`recovery_lock`), only the entries of this machine's dead runs.

    With a mirror, the entries of both places are undone and each is marked done in both; a
    mirror that cannot be read is a failure, and the local journal's entries are undone
    still."""
    lines: list[str] = []
    failures = 0
    try:
        pending = journal.pending()
    except JournalMirrorError as exc:
        lines.append(redact(f"FAILED {exc}; only the local journal {journal.path} was read"))
        failures += 1
        pending = journal.pending(local_only=True)
    unread = failures > 0  # the mirror: nothing more to ask of it
    if journal.cloud is not None:
        pending = [entry for entry in pending
                   if entry.belongs_to(journal.cloud, targets.inventory.hosts)]
    if here_only:
        pending = [entry for entry in pending if _gone_here(entry)]
    if not pending:
        failures += 0 if unread else _settle_mirror(journal, lines, redact)
        return [*lines, f"nothing pending for {journal.cloud or 'this inventory'} in "
                        f"{_places(journal)}"], failures
    for entry in reversed(pending):
        where = "" if entry.here else f" on {entry.host}"
        label = (f"{entry.fault} on {entry.target} (armed by pid {entry.pid}{where}, "
                 f"run {entry.run[:8]})")
        try:
            done = _restore(entry, targets, registries, cloud)
        except ERRORS as exc:
            journal.mark_undone(entry.id, ok=False, detail=redact(_reason(entry, exc)))
            # the code that can undo it is not at hand: said, since nothing was attempted
            kept = "; left pending" if isinstance(exc, OriginError) else ""
            lines.append(redact(f"FAILED {label}: {exc}{kept}"))
            failures += 1
            continue
        journal.mark_undone(entry.id, detail="restored by stackdrill recover --pending")
        lines.append(redact(f"{done} {label}"))
    unwritten = journal.unwritten_lag()  # a full disk: the undos ran, their records wait
    if unwritten is not None:
        lines.append(redact(f"FAILED {unwritten}"))
        failures += 1
    if not unread:
        failures += _settle_mirror(journal, lines, redact)
    return lines, failures


def _places(journal: Journal) -> str:
    """The journal's file, and its mirror when it has one."""
    return journal.path.as_posix() + (f" and {journal.mirror.where}" if journal.mirror else "")


def _settle_mirror(journal: Journal, lines: list[str], redact: Callable[[str], str]) -> int:
    """The mirror gets the undo records it missed, and each place the successful undos the
    other has (a run that undid its faults while the mirror was down); 1 when it cannot."""
    if journal.mirror is None:
        return 0
    lag = journal.mirror_lag()
    try:
        if lag is None:
            journal.reconcile()
    except JournalError as exc:
        lag = str(exc)
    if lag is None:
        return 0
    lines.append(redact(f"FAILED journal mirror {journal.mirror.where}: {lag}"))
    return 1


def _reason(entry: JournalEntry, exc: Exception) -> str:
    """Why the entry stays pending, on one line naming its host."""
    text = " ".join(str(exc).split())
    return text if text.startswith(f"{entry.target}") else f"{entry.target}: {text}"


def _restore(entry: JournalEntry, targets: Targets, registries: Registries,
             cloud: CloudAccess | None) -> str:
    """Undo the entry's fault, or roll back its recovery; a command whose connection is lost
    runs again on a fresh one (undo and rollback are written to run twice)."""
    target = targets.get(entry.target)
    with retrying_on_disconnect():
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


def journal_for(inventory: Inventory, path: Path, targets: Targets,
                cloud: CloudAccess | None) -> Journal:
    """The journal at ``path`` with the mirror the inventory names (read and written through
    ``targets``' first controller, or Swift through ``cloud``)."""
    from stackdrill.engine.journal_mirror import mirror_for

    def controller() -> Target:
        return targets.get(inventory.with_role("controller")[0].name)

    return Journal(path, cloud=lock_name(inventory),
                   mirror=mirror_for(inventory, controller, lambda: cloud))


def close_replaced_lab(inventory_path: Path, journal_path: Path) -> int:
    """The lab was built afresh: what dead runs left pending on the old one went with it.
    Returns how many entries were closed."""
    inventory = load_inventory(inventory_path)
    journal = Journal(journal_path)
    left = journal.left_behind(lock_name(inventory), inventory.hosts)
    for entry in left:
        journal.mark_undone(entry.id, detail="the lab was rebuilt")
    return len(left)
