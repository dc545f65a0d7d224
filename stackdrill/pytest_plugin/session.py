"""The session's shared state and its setup and teardown: the registries, the inventory, the
hosts, the drill lock, the interrupt guard, and the drills to undo if the session ends early."""

from __future__ import annotations

import contextlib
import functools
import sys
from pathlib import Path

import pytest

from stackdrill.api._registry import Registries, entry_point_plugins
from stackdrill.core.errors import HarnessError
from stackdrill.engine.drill import Drill
from stackdrill.engine.guards import LIMIT_MARK
from stackdrill.engine.interrupts import InterruptGuard
from stackdrill.engine.journal import Journal, JournalError
from stackdrill.engine.lock import DrillLock, LockError, RunLock, lock_for, lock_name, run_lock
from stackdrill.engine.state_dir import default_state_dir
from stackdrill.hosts.secrets import inventory_redactor
from stackdrill.hosts.target import Target, Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.inventory.model import Inventory, InventoryError
from stackdrill.pytest_plugin import allure_bdd
from stackdrill.pytest_plugin.cloud_fixtures import session_redactor
from stackdrill.pytest_plugin.options import planning
from stackdrill.reporting.history import VERSION_SETTINGS
from stackdrill.reporting.notify import SESSION_CLOUD
from stackdrill.reporting.service_versions import DEFAULT_DIRECTORIES, VersionSettings

REGISTRIES = pytest.StashKey[Registries]()
"""The faults, recoveries, probes and power drivers the plugins registered, once asked for."""
INVENTORY = pytest.StashKey[Inventory]()
"""The inventory the session drills, once loaded."""
LOCK = pytest.StashKey[RunLock]()
"""The drill lock of the inventory's cloud (where the inventory says), held until the session
ends."""
_LAB_LOCK = pytest.StashKey[DrillLock]()
_JOURNAL = pytest.StashKey[Journal]()
_INTERRUPTS = pytest.StashKey[InterruptGuard]()
LIVE_DRILLS: set[Drill] = set()
"""The drills of the scenarios running now: undone if the session ends before they do."""
ABORTED: list[str] = []
"""Every drill a safeguard aborted in the current session, as ``<test id>: <reason>``."""


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    ABORTED.clear()
    config.addinivalue_line("markers", f"{LIMIT_MARK}(tag): a role limit raised by a feature's "
                                       f"@allow_down_<role>_<n> tag")
    if planning(config) and getattr(config.option, "allure_report_dir", None):
        config.option.allure_report_dir = None
    for name, plugin in entry_point_plugins():
        if not config.pluginmanager.is_registered(plugin):
            config.pluginmanager.register(plugin, name=name)
    config.pluginmanager.register(allure_bdd, "stackdrill.pytest_plugin.allure_bdd")

    config.stash[VERSION_SETTINGS] = version_settings(config)

    if not hasattr(config, "workerinput"):
        guard = InterruptGuard(functools.partial(_say_past_capture, config))
        if guard.install():
            config.stash[_INTERRUPTS] = guard


def version_settings(config: pytest.Config) -> VersionSettings:
    """Where the OpenStack services' commands are looked for on the hosts besides PATH: the
    given directories, DevStack's virtualenv, and with ``--lab`` the virtualenv of the release
    the lab runs (the one it was built with, or the one an upgrade installed)."""
    directories = [str(d) for d in config.getoption("openstack_bin_dir", None) or []]
    if config.getoption("lab", False):
        from stackdrill.lab.cloud.release import running_release
        from stackdrill.lab.topology import LabPaths

        directories.append(str(running_release(LabPaths.default()).bin))
    return VersionSettings(directories=tuple(dict.fromkeys([*directories,
                                                             *DEFAULT_DIRECTORIES])))


def _say_past_capture(config: pytest.Config, text: str) -> None:
    """A line for the operator's terminal now, not in a test's captured output."""
    capture = config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(text, file=sys.stderr, flush=True)


def registries(config: pytest.Config) -> Registries:
    if REGISTRIES not in config.stash:
        found = Registries()
        config.hook.pytest_stackdrill_register(registries=found)
        config.stash[REGISTRIES] = found
    return config.stash[REGISTRIES]


def resolve_inventory(config: pytest.Config) -> Inventory:
    if INVENTORY in config.stash:
        return config.stash[INVENTORY]
    path = config.getoption("inventory")
    if config.getoption("lab") and planning(config):
        from stackdrill.lab.topology import LabPaths

        path = str(LabPaths.default().inventory)
        if not Path(path).is_file():
            raise pytest.UsageError(f"lab: no inventory at {path}; the lab is not up "
                                    f"(stackdrill lab up)")
    elif config.getoption("lab"):
        from stackdrill.lab.lab import Lab

        try:
            path = str(Lab().ensure_up(journal=journal_path(config)))
        except (HarnessError, OSError) as exc:  # the lab, its journal
            raise pytest.UsageError(f"lab: {exc}") from None
    if not path:
        raise pytest.UsageError("drills need an inventory: pass --inventory FILE or --lab")
    try:
        inventory = load_inventory(path)
    except InventoryError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[INVENTORY] = inventory
    config.stash[SESSION_CLOUD] = inventory.cloud  # for the run's notification
    inventory_redactor(inventory, session_redactor(config))
    return inventory


def journal_path(config: pytest.Config) -> Path:
    path = config.getoption("journal")
    return Path(path) if path else default_state_dir() / "journal.jsonl"


def session_journal(config: pytest.Config, inventory: Inventory) -> Journal:
    """The run's journal, with the mirror the inventory names (on the first controller, or in
    Swift)."""
    if _JOURNAL not in config.stash:
        from stackdrill.cloud.access import CloudAccess
        from stackdrill.engine.journal_mirror import mirror_for

        def controller() -> Target:
            return session_targets(config).get(inventory.with_role("controller")[0].name)

        def access() -> CloudAccess | None:
            name = config.getoption("os_cloud", None) or inventory.cloud
            return CloudAccess(name, session_redactor(config)) if name else None

        config.stash[_JOURNAL] = Journal(journal_path(config), cloud=lock_name(inventory),
                                         mirror=mirror_for(inventory, controller, access))
    return config.stash[_JOURNAL]


def refuse_leftovers(config: pytest.Config, inventory: Inventory) -> None:
    """Nothing is drilled on a cloud that a dead run left broken: the guards count only the
    faults of the live run, so a second controller could go down. The journal's mirror is read
    (what a dead drill host left) and must take records, or nothing is injected."""
    try:
        journal = session_journal(config, inventory)
        if journal.mirror is not None:
            journal.mirror.check()
        left = journal.left_behind(lock_name(inventory), inventory.hosts)
    except JournalError as exc:
        raise pytest.UsageError(f"{exc}; nothing injected") from None
    if left:
        first = left[0]
        raise pytest.UsageError(
            f"{len(left)} {'entry' if len(left) == 1 else 'entries'} left pending on this cloud "
            f"by a run that is gone (first: {first.kind} {first.fault} on {first.target}, "
            f"pid {first.pid}): run `stackdrill recover --pending` first")


def existing_lab_inventory() -> Inventory | None:
    from stackdrill.lab.topology import LabPaths

    path = LabPaths.default().inventory
    try:
        return load_inventory(path) if path.is_file() else None
    except InventoryError:
        return None


def take_lab_lock(config: pytest.Config, inventory: Inventory) -> None:
    """This machine's lock file of the lab's cloud, before the lab may be rebuilt under another
    run's drill (the lab runs here; its database may be down until it is up again)."""
    if hasattr(config, "workerinput") or _LAB_LOCK in config.stash:
        return
    lock = lock_for(inventory, default_state_dir(), _drill_of(config))
    _acquire(lock)
    config.stash[_LAB_LOCK] = lock


def take_lock(config: pytest.Config, inventory: Inventory) -> None:
    """The inventory's drill lock, where it says (:func:`~stackdrill.engine.lock.run_lock`)."""
    if hasattr(config, "workerinput") or LOCK in config.stash:
        return
    lock = run_lock(inventory, default_state_dir(), _drill_of(config))
    lab = config.stash.get(_LAB_LOCK, None)
    if lab is not None and isinstance(lock, DrillLock) and lock.path == lab.path:
        config.stash[LOCK] = lab  # the same lock file, taken once
        return
    _acquire(lock, _local_only(inventory))
    config.stash[LOCK] = lock


def _drill_of(config: pytest.Config) -> str:
    """What the run drills, for the lock holder's record."""
    return " ".join(["drills", *map(str, config.args)])[:160]


def _acquire(lock: RunLock, otherwise: str | None = None) -> None:
    try:
        note = lock.acquire() or otherwise
    except LockError as exc:
        raise pytest.UsageError(str(exc)) from None
    if note:
        print(f"stackdrill: {note}", file=sys.stderr, flush=True)


def _local_only(inventory: Inventory) -> str | None:
    """For a production inventory that names no coordination: said once, not silently."""
    if not inventory.production or inventory.coordination.declared:
        return None
    return (f"cloud {lock_name(inventory)}: the drill lock and the undo journal are on this "
            f"machine only (the inventory has no coordination key): a run from another "
            f"machine is not stopped, and faults left by this one are undone only from here")


def check_lock(config: pytest.Config) -> None:
    """Before each scenario: the lock is still held (taken again if its backend dropped it);
    a run whose lock another run took stops here, exit 2."""
    lock = config.stash.get(LOCK, None)
    if lock is None:
        return
    try:
        note = lock.check()
    except LockError as exc:
        pytest.exit(f"stackdrill: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    if note:
        _say_past_capture(config, f"stackdrill: {note}")


_TARGETS = pytest.StashKey[dict[str, Targets]]()


def session_targets(config: pytest.Config) -> Targets:
    holder = config.stash.setdefault(_TARGETS, {})
    if "targets" not in holder:
        holder["targets"] = Targets(resolve_inventory(config),
                                    power_drivers=registries(config).power_drivers)
    return holder["targets"]


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """An injection the journal's mirror refused is bad input: exit 2, its line said."""
    journal = session.config.stash.get(_JOURNAL, None)
    if journal is not None and journal.refusal is not None:
        _say_past_capture(session.config, f"stackdrill: {journal.refusal}")
        session.exitstatus = pytest.ExitCode.USAGE_ERROR


def pytest_unconfigure(config: pytest.Config) -> None:
    lock = config.stash.get(LOCK, None)
    if lock is not None:
        undo_live_drills()
    journal = config.stash.get(_JOURNAL, None)
    for lag in [journal.mirror_lag(), journal.unwritten_lag()] if journal is not None else []:
        if lag:
            print(f"stackdrill: {lag}", file=sys.stderr, flush=True)
    holder = config.stash.get(_TARGETS, {})
    if "targets" in holder:
        holder["targets"].close()
    if lock is not None:
        lock.release()
    lab_lock = config.stash.get(_LAB_LOCK, None)
    if lab_lock is not None:
        lab_lock.release()
    guard = config.stash.get(_INTERRUPTS, None)
    if guard is not None:
        guard.restore()


def undo_live_drills() -> None:
    for drill in list(LIVE_DRILLS):
        drill.undo_all()
        LIVE_DRILLS.discard(drill)


def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    undo_live_drills()
