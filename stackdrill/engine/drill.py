"""A drill: verified state, fault, confirmation, recovery, and the return to the verified state.

Everything a drill does is recorded on its timeline and sent to its evidence; every fault is
journalled before it is injected and undone when the drill ends, whatever happened in between.
Safeguards declared by the feature are watched from the first injection on; when one trips, the
drill's current action stops at its next wait and the drill ends as aborted.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

from stackdrill.api._fault import Fault
from stackdrill.api._origin import origin_of
from stackdrill.api._probe import CloudContext, CloudProbe, Probe
from stackdrill.api._registry import Registries
from stackdrill.api._runbook import RecoveryContext, RunbookRecord
from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.listings import Listings
from stackdrill.cloud.tenant_view import TenantObserver
from stackdrill.core.errors import ActionFailed, BadInput
from stackdrill.core.evidence import Evidence, Timeline
from stackdrill.core.state import Deviation, Rule, Snapshot, Tolerance, compare, render_diff
from stackdrill.core.waiting import PollRecord, WaitTimeout, observing, poll
from stackdrill.engine.guards import Guards
from stackdrill.engine.journal import Journal, JournalMirrorError
from stackdrill.engine.runbooks import RunbookRunner
from stackdrill.engine.safeguards import (
    DEFAULT_INTERVAL,
    Safeguard,
    SafeguardMonitor,
    SafeguardTripped,
)
from stackdrill.engine.snapshot import SnapshotSettings, take_snapshot
from stackdrill.engine.state_checks import check_deviates, check_unchanged, unknown_patterns
from stackdrill.engine.tenant_watch import TenantWatch
from stackdrill.engine.verdicts import (
    ABORT_PREFIX,
    ActiveFault,
    BudgetExceeded,
    ClaimsRepair,
    DrillError,
    DrillResult,
    FaultNotConfirmed,
    GuardRefused,
    NotRepaired,
    PreflightFailed,
    SafeguardAborted,
    still_unrepaired,
)
from stackdrill.engine.verify import RecoveryWatch
from stackdrill.hosts.reconnect import retrying_on_disconnect
from stackdrill.hosts.ssh import CommandResult, HostError
from stackdrill.hosts.target import Target, Targets
from stackdrill.inventory.model import HostSpec

# A drill's verbs, and the verdicts and checks that go with them, are imported from here.
__all__ = [
    "ABORT_PREFIX",
    "PREFLIGHT_FRESH",
    "PREFLIGHT_SETTLE",
    "ActiveFault",
    "BudgetExceeded",
    "ClaimsRepair",
    "Drill",
    "DrillError",
    "DrillResult",
    "FaultNotConfirmed",
    "GuardRefused",
    "NotRepaired",
    "PreflightFailed",
    "SafeguardAborted",
    "check_deviates",
    "check_unchanged",
    "unknown_patterns",
]

#: How long the pre-flight waits for the cloud to match its verified state before it refuses:
#: for a value in flux to settle, and a request that timed out (5 s) to be tried again.
PREFLIGHT_SETTLE = 30.0
#: A verified state recorded this recently (seconds) is the pre-flight: the drill's first fault
#: usually follows it at once, and observing the whole cloud again would only repeat it.
PREFLIGHT_FRESH = 5.0


class Drill:
    def __init__(self, name: str, targets: Targets, registries: Registries, journal: Journal,
                 evidence: Evidence | None = None, rules: list[Rule] | None = None,
                 guards: Guards | None = None, cloud: CloudAccess | None = None,
                 safeguard_interval: float = DEFAULT_INTERVAL) -> None:
        self.name = name
        self.targets = targets
        self.registries = registries
        self.journal = journal
        self.evidence = evidence or Evidence()
        self.timeline = Timeline()
        self.probes: list[Probe | CloudProbe] = [registries.probes.get(n)()
                                                 for n in registries.probes]
        self.listings = Listings()  # the last listing of each long list, to re-poll
        self.cloud = CloudContext(cloud, targets, self.listings) if cloud is not None else None
        default_rules = [rule for probe in self.probes for rule in probe.tolerance_rules()]
        self.tolerance = Tolerance(default_rules).extended(rules or [])
        self.baseline: Snapshot | None = None
        self.faults: list[ActiveFault] = []
        self.result = DrillResult(name)
        self.guards = guards if guards is not None else Guards.for_inventory(
            getattr(targets, "inventory", None))
        self.runbooks = RunbookRunner(journal, self.timeline, self.evidence,
                                      self.check_safeguards)
        self.safeguards: list[Safeguard] = []
        self.safeguard_interval = safeguard_interval
        self.monitor: SafeguardMonitor | None = None
        self.aborted: str | None = None
        self.preflight_passed = False
        #: Path patterns the scenario later says stay unchanged: each must name a path of the
        #: verified state, checked before the first fault (a typo found after it is too late).
        self.expected_paths: list[str] = []
        #: When the drill's first recovery or procedure started, and which one it was.
        self.first_procedure: tuple[float, str] | None = None
        #: What the tenants feel, watched from the verified state until the drill closes.
        self.tenants = TenantWatch(self.timeline, self.evidence)
        targets.listeners.append(self._on_command)

    def _on_command(self, result: CommandResult) -> None:
        if self.runbooks.step is not None:
            self.runbooks.step.commands.append(result)
        self.evidence.attach_text(f"$ {result.command[:60]} [{result.host}]", result.render())

    # -- verified state ---------------------------------------------------------------------
    #: How snapshots fan out over the hosts (workers, per-host timeout).
    snapshot_settings: SnapshotSettings = SnapshotSettings()
    #: The latest snapshot compared during the drill; the wait for recovery starts from it.
    _latest: Snapshot | None = None

    def _take(self, focus: frozenset[str] | None = None, health: dict[str, str] | None = None,
              boundary: bool = False) -> Snapshot:
        """A ``boundary`` snapshot lists the cloud's long lists in full, not what changed."""
        return take_snapshot(self.targets, self.probes, health, self.cloud,
                             self.snapshot_settings, focus, boundary)

    def snapshot(self, label: str, health: dict[str, str] | None = None,
                 focus: frozenset[str] | None = None) -> Snapshot:
        """With ``focus`` (sources) after an earlier snapshot, only they are observed again."""
        latest = self._latest
        snap = self._take(health=health) if focus is None or latest is None else \
            latest.merged(self._take(focus, health=health), focus)
        self._latest = snap
        self.evidence.attach_json(f"snapshot: {label}", snap.to_json())
        return snap

    def record_baseline(self, settle: float = 0.0,
                        observers: Sequence[TenantObserver] = ()) -> Snapshot:
        """Record the verified state of a healthy cloud. With ``settle``, wait up to that many
        seconds for the cloud to become healthy (a previous drill's effects may still be
        clearing); refuse with the first reason if it does not. Once it is recorded, the
        ``observers`` of what the tenants feel start, until :meth:`close`."""
        problems: list[str] = []

        def healthy() -> Snapshot | None:
            health: dict[str, str] = {}
            snap = self._take(health=health, boundary=True)
            problems[:] = [f"cannot record the verified state: {key}: {message}"
                           for key, message in sorted(snap.errors.items())]
            problems.extend(f"not starting from a healthy cloud: {key}: {problem}"
                            for key, problem in sorted(health.items()))
            return None if problems else snap

        try:
            snap, record = poll(healthy, timeout=settle, interval=2.0, max_interval=5.0,
                                description="a healthy cloud to record the verified state")
        except WaitTimeout as exc:
            self.evidence.attach_text("health checks", exc.record.render())
            raise DrillError(problems[0] if problems else str(exc)) from None
        if len(record.attempts) > 1:
            self.evidence.attach_text("health checks", record.render())
        self.evidence.attach_json("snapshot: verified state", snap.to_json())
        self.baseline = snap
        self.timeline.add("baseline", f"verified state recorded ({len(snap.values)} values)")
        self.tenants.start(observers)
        return snap

    def tolerate(self, rules: list[Rule]) -> None:
        """Extra tolerance rules from the feature (the last matching rule wins)."""
        self.tolerance = self.tolerance.extended(rules)
        self.evidence.attach_text("tolerance rules", "\n".join(r.text for r in rules))

    def deviations(self, label: str, focus: frozenset[str] | None = None) -> list[Deviation]:
        if self.baseline is None:
            raise DrillError("no verified state recorded yet")
        found = compare(self.baseline, self.snapshot(label, focus=focus), self.tolerance)
        self.evidence.attach_text(f"state difference: {label}", render_diff(found))
        return found

    # -- faults -----------------------------------------------------------------------------
    def record_choice(self, note: str) -> None:
        """A step chose its hosts (at random with the run's seed, where a server runs): how,
        in the evidence and on the timeline, so that the run can be replayed."""
        self.evidence.attach_text("host choice", note)
        self.timeline.add("host-chosen", note)

    def inject(self, fault_name: str, target: Target, raw_params: Mapping[str, str]) -> ActiveFault:
        with self.watched():
            return self._inject(fault_name, target, raw_params)

    def _inject(self, fault_name: str, target: Target, raw_params: Mapping[str, str]
                ) -> ActiveFault:
        self._guard(fault_name, [target], raw_params)
        self._preflight()
        monitor = self._safeguard_monitor()
        return self._fire(self._arm(fault_name, target, raw_params), monitor)

    def _arm(self, fault_name: str, target: Target, raw_params: Mapping[str, str]
             ) -> ActiveFault:
        """The fault prepared and its undo journalled (and mirrored), not injected yet."""
        fault_class = self.registries.faults.get(fault_name)
        try:
            fault = fault_class(target, raw_params)
            self.evidence.attach_text("fault plan", "\n".join(fault.plan()))
            facts = fault.prepare()
        except (ActionFailed, BadInput) as exc:
            raise DrillError(f"fault {fault_name} on {target.name} not injected: {exc}") \
                from exc
        try:
            entry = self.journal.arm(fault_name, target.name, dict(raw_params), facts,
                                     origin=origin_of(type(fault)))
        except JournalMirrorError as exc:  # refused: one line, and the run stops (exit 2)
            raise DrillError(str(exc)) from None
        return ActiveFault(fault, entry, facts, 0.0)

    def _fire(self, armed: ActiveFault, monitor: SafeguardMonitor | None) -> ActiveFault:
        fault, target = armed.fault, armed.fault.target
        active = ActiveFault(fault, armed.entry, armed.facts, time.time())
        self.faults.append(active)
        try:
            with self.listings.acting():
                fault.inject(active.facts)
        except ActionFailed as exc:
            raise DrillError(f"fault {fault.name} on {target.name} failed to inject: {exc}") \
                from exc
        finally:
            if monitor is not None:
                self.monitor = monitor
                self.timeline.add("safeguards", f"{len(self.safeguards)} safeguard(s) watched")
                monitor.start()
        # the clock runs from the moment the injection began: a graceful reboot or a BMC's
        # power-off takes seconds to return, and the damage starts with it
        self.timeline.add("fault-injected", f"{fault.name} on {target.name}",
                          f"injecting took {time.time() - active.injected_at:.2f}s",
                          at=active.injected_at)
        return active

    def confirm(self, active: ActiveFault, timeout: float) -> str:
        with self.watched():
            return self._confirm(active, timeout)

    def _confirm(self, active: ActiveFault, timeout: float) -> str:
        def check() -> str | None:
            return active.fault.confirm(active.facts)

        try:
            evidence, record = poll(check, timeout=timeout, interval=0.2, max_interval=1.0,
                                    description=f"fault {active.fault.name} confirmed",
                                    ignore=(HostError,))
        except WaitTimeout as exc:
            self.evidence.attach_text("confirmation attempts", exc.record.render())
            raise FaultNotConfirmed(f"fault not confirmed: {exc}") from exc
        except ActionFailed as exc:
            raise FaultNotConfirmed(f"fault not confirmed: {active.fault.name} on "
                                    f"{active.fault.target.name}: {exc}") from exc
        active.confirmed_at = time.time()
        active.evidence = evidence
        self.result.observed("confirm", record)
        self.evidence.attach_text("fault confirmed", f"{evidence}\n\n{record.render()}")
        self.timeline.add("effect-detected", evidence, at=active.confirmed_at)
        return evidence

    def inject_each(self, fault_name: str, targets: Sequence[Target],
                    raw_params: Mapping[str, str]) -> list[ActiveFault]:
        """The same fault on several hosts, one after the other (a power outage). The guards
        judge the whole set first: if any host of it would be refused, none is touched. Every
        undo is journalled, and mirrored, before the first injection (one may take the mirror's
        host down); what was journalled and never injected is closed as such."""
        with self.watched():
            self._guard(fault_name, targets, raw_params)
            self._preflight()
            monitor = self._safeguard_monitor()
        armed: list[ActiveFault] = []
        try:
            for target in targets:
                armed.append(self._arm(fault_name, target, raw_params))
            for index, each in enumerate(armed):
                with self.watched():
                    armed[index] = self._fire(each, monitor if index == 0 else None)
        finally:
            for each in armed:
                if not each.injected_at:
                    self.journal.mark_undone(each.entry.id, detail="not injected")
        return armed

    def _cut_off(self, fault_class: type[Fault], raw_params: Mapping[str, str],
                 host: HostSpec) -> list[HostSpec]:
        inventory = getattr(self.targets, "inventory", None)
        return [] if inventory is None else fault_class.cut_off(raw_params, inventory, host)

    def _guard(self, fault_name: str, targets: Sequence[Target],
               raw_params: Mapping[str, str]) -> None:
        """Refuse ``fault_name`` on ``targets`` (each added to the faults already active, with
        the peers each one cuts off) if the guards would refuse any of them."""
        active = [spec for a in self.faults if not a.undone
                  for spec in (a.fault.target.spec,
                               *self._cut_off(type(a.fault), a.fault.raw_params,
                                              a.fault.target.spec))]
        fault_class = self.registries.faults.get(fault_name)
        for target in targets:
            cut = self._cut_off(fault_class, raw_params, target.spec)
            refusal = self.guards.fault_refusal(fault_name, target.spec, active, cut)
            if refusal is not None:
                self.timeline.add("refused", refusal)
                if len(targets) > 1:
                    refusal += f"; no host of the {len(targets)} was touched"
                raise GuardRefused(refusal)
            active += [target.spec, *cut]

    def _preflight(self) -> None:
        """Before the drill's first fault, the cloud must still match its verified state
        (a drill started on a broken cloud proves nothing, and may break it further); later
        faults are part of the drill. Refuses with the first deviation; nothing is injected."""
        if self.preflight_passed:
            return
        if self.baseline is None:
            raise PreflightFailed("pre-flight: no verified state recorded before the first "
                                  "fault; nothing injected")
        unknown = unknown_patterns(self.baseline, self.expected_paths)
        if unknown:
            raise PreflightFailed(f"pre-flight: {unknown[0]}: no such path in the verified "
                                  f"state (the scenario checks it stays unchanged); nothing "
                                  f"injected")
        age = time.time() - self.baseline.taken_at
        if age <= PREFLIGHT_FRESH:
            self.preflight_passed = True
            self.timeline.add("pre-flight", f"the verified state was recorded {age:.1f}s ago")
            return
        found: list[Deviation] = []

        def matches() -> bool:
            found[:] = self.deviations("pre-flight")
            return not found

        try:
            _, record = poll(matches, timeout=PREFLIGHT_SETTLE, interval=1.0, max_interval=2.0,
                             description="the cloud to match its verified state before the "
                                         "first fault", ignore=(HostError,))
        except WaitTimeout as late:
            reason = (f"pre-flight: the cloud does not match its verified state: {len(found)} "
                      f"deviation(s), first: {found[0] if found else 'none'}; nothing injected")
            self.timeline.add("refused", reason, f"{render_diff(found)}\n\n{late.record.render()}")
            raise PreflightFailed(reason) from None
        self.preflight_passed = True
        self.timeline.add("pre-flight", "the cloud matches its verified state", record.render())

    def unconfirmed(self) -> list[ActiveFault]:
        return [active for active in self.faults if active.confirmed_at is None]

    def require_confirmed(self, before: str) -> None:
        """Every fault injected so far must have been confirmed before ``before``: a recovery
        from damage never observed proves nothing. Refuses with the first unconfirmed one."""
        missing = self.unconfirmed()
        if not missing:
            return
        first = missing[0].fault
        reason = (f"fault not confirmed: {first.name} on {first.target.name} was never "
                  f"confirmed before {before}; a drill confirms every fault it injects "
                  f"(\"the faults are confirmed within N seconds\" confirms them all)")
        self.timeline.add("not-confirmed", reason)
        raise FaultNotConfirmed(reason)

    def confirm_all(self, timeout: float) -> list[str]:
        """Confirm every active fault not confirmed yet, all within one deadline."""
        deadline = time.monotonic() + timeout
        return [self.confirm(active, max(0.0, deadline - time.monotonic()))
                for active in self.faults if not active.undone and active.confirmed_at is None]

    @property
    def last_fault(self) -> ActiveFault:
        if not self.faults:
            raise DrillError("no fault has been injected in this drill")
        return self.faults[-1]

    # -- recovery ---------------------------------------------------------------------------
    def recover(self, recovery_name: str, target: Target,
                raw_params: Mapping[str, str]) -> RunbookRecord:
        with self.watched(), retrying_on_disconnect():
            return self._recover(recovery_name, target, raw_params)

    def _recover(self, recovery_name: str, target: Target,
                 raw_params: Mapping[str, str]) -> RunbookRecord:
        refusal = self.guards.recovery_refusal(recovery_name, target.spec)
        if refusal is not None:
            self.timeline.add("refused", refusal)
            raise GuardRefused(refusal)
        self.require_confirmed(f"the recovery {recovery_name}")
        context = RecoveryContext(
            targets=self.targets, cloud=self.cloud.access if self.cloud else None,
            fault_facts=tuple(f.facts for f in self.faults if f.fault.target is target))
        recovery = self.registries.recoveries.get(recovery_name)(target, raw_params, context)
        record = RunbookRecord(recovery_name, target.name)
        self.result.recoveries.append(record)
        entry = self.runbooks.arm(recovery, record, raw_params)
        started = time.time()
        self.timeline.add("recovery-start", f"{recovery_name} on {target.name}", at=started)
        if self.first_procedure is None:
            self.first_procedure = (started, f"{recovery_name} on {target.name}")
        with self.listings.acting():  # a runbook may write the databases in SQL
            self.runbooks.run(recovery, record, entry)
        return record

    def wait_verified(self, budget: float) -> float:
        """Poll until the state matches the verified state; return the time to recover."""
        with self.watched():
            return self._wait_verified(budget)

    def _clock_start(self) -> tuple[float, str]:
        """When the time to recover and the budget start, and what happened then: the first
        fault's injection; in a drill without a fault, the start of its first recovery or
        procedure (a maintenance is timed whole, not only its final check); else now."""
        if self.faults:
            first = self.faults[0]
            return first.injected_at, (f"the injection of fault {first.fault.name} on "
                                       f"{first.fault.target.name}")
        if self.first_procedure is not None:
            at, what = self.first_procedure
            return at, f"the start of procedure {what}"
        return time.time(), "the start of this check (no fault injected, no procedure run)"

    def _wait_verified(self, budget: float) -> float:
        if self.baseline is None:
            raise DrillError("no verified state recorded yet")
        start, measured_from = self._clock_start()
        self.result.budget, self.result.measured_from = budget, measured_from
        self.evidence.attach_text("budget", f"{budget:g}s, measured from {measured_from}")
        remaining = max(0.0, start + budget - time.time())
        latest = self._latest if self.faults and self._latest is not None \
            and self._latest.taken_at >= self.faults[0].injected_at else None
        # its full snapshots may each be the final verification: they list the APIs in full
        watch = RecoveryWatch(self.baseline, self.tolerance,
                              lambda focus: self._take(focus, boundary=focus is None),
                              current=latest)
        began = time.time()
        try:
            restored, record = watch.wait(remaining, ignore=(HostError,))
        except WaitTimeout as exc:
            last = watch.last
            self.evidence.attach_text("state difference at the deadline", render_diff(last))
            self.evidence.attach_text("verification attempts", exc.record.render())
            raise BudgetExceeded(f"not back to the verified state within {budget:g}s of "
                                 f"{measured_from}: {len(last)} deviation(s), first: "
                                 f"{last[0] if last else 'none'}") from exc
        self.result.mark("confirmed")
        ttr = restored.restored_at - start
        self.result.time_to_recover = ttr
        self.result.observed("verify", record, until=restored.restored_at - began)
        if ttr > budget:  # the budget was spent before the wait began (a long procedure)
            self.evidence.attach_text("verification attempts", record.render())
            raise BudgetExceeded(f"not back to the verified state within {budget:g}s of "
                                 f"{measured_from}: back after {ttr:.2f}s")
        self.timeline.add("verified", f"verified state restored, time to recover {ttr:.2f}s "
                                      f"(budget {budget:g}s from {measured_from})",
                          at=restored.restored_at)
        self.evidence.attach_text("verification attempts", record.render())
        self.evidence.attach_json("snapshot: verified again", restored.confirmed.to_json())
        self.require_confirmed("the verified state was accepted")
        self._require_repaired()
        return ttr

    def _require_repaired(self) -> None:
        """The damage the scenario says its recovery repairs must be repaired by now, not left
        for the fault's undo to put back."""
        reason = still_unrepaired(self.faults)
        if reason:
            self.timeline.add("not-repaired", reason)
            raise NotRepaired(reason)

    # -- safeguards -------------------------------------------------------------------------
    def guard_with(self, safeguards: list[Safeguard]) -> None:
        """Safeguards watched from the first injection to the end of the drill."""
        if self.monitor is not None:
            raise DrillError("safeguards must be declared before the first fault")
        self.safeguards.extend(safeguards)
        self.evidence.attach_text("safeguards", "\n".join(s.text for s in safeguards))

    def _safeguard_monitor(self) -> SafeguardMonitor | None:
        """The monitor to start with the first fault (None without safeguards or once it runs);
        refuses safeguards that guard nothing, before anything is journalled."""
        if not self.safeguards or self.monitor is not None:
            return None
        if self.baseline is None:
            raise DrillError("safeguards need the verified state: record it before the fault")
        monitor = SafeguardMonitor(self.safeguards, self.baseline,
                                   self._safeguard_observer(self.baseline),
                                   interval=self.safeguard_interval)
        unguarded = monitor.unguarded()
        if unguarded:
            raise DrillError(f"safeguard {unguarded[0].rule.pattern}: no such path in the "
                             f"verified state; nothing injected")
        return monitor

    def _safeguard_observer(self, baseline: Snapshot) -> Callable[[], Snapshot]:
        """A snapshot of only what the safeguards guard: the hosts they name, and the cloud
        only if a ``cloud/`` path is guarded."""
        paths = [p for s in self.safeguards for p in s.guarded_paths(baseline)]
        hosts = {p.split("/", 1)[0].removeprefix("host:") for p in paths
                 if p.startswith("host:")}
        targets = [t for t in self.targets if t.name in hosts]
        cloud = self.cloud if any(p.startswith("cloud/") for p in paths) else None
        return lambda: take_snapshot(targets, self.probes, cloud=cloud,
                                     settings=self.snapshot_settings, boundary=False)

    def check_safeguards(self) -> None:
        """Raise :class:`SafeguardAborted` if a safeguard has tripped."""
        if self.monitor is None:
            return
        try:
            self.monitor.check()
        except SafeguardTripped as exc:
            reason = str(exc)
        else:
            return
        if self.aborted is None:
            self.aborted = reason
            self.timeline.add("aborted", f"{ABORT_PREFIX}{reason}")
            self.evidence.attach_text("aborted by safeguard", reason)
        raise SafeguardAborted(f"{ABORT_PREFIX}{self.aborted}")

    def _on_wait(self, record: PollRecord, remaining: float) -> None:
        self.check_safeguards()

    @contextlib.contextmanager
    def watched(self) -> Iterator[None]:
        """Around each drill action: stop before it if a safeguard has tripped, and at every
        wait inside it (the drill's own and the runbooks')."""
        self.check_safeguards()
        with observing(self._on_wait):
            yield
        self.check_safeguards()

    def stop_safeguards(self) -> None:
        if self.monitor is not None:
            self.monitor.stop()

    # -- cleanup ----------------------------------------------------------------------------
    def undo_all(self) -> list[str]:
        """Undo every fault still armed, newest first; return the errors, never raise. The
        safeguards stop first: nothing interrupts an undo."""
        self.stop_safeguards()
        errors = [self._undo(active) for active in reversed(self.faults) if not active.undone]
        return [error for error in errors if error]

    def _undo(self, active: ActiveFault, kind: str = "undone") -> str | None:
        try:
            with retrying_on_disconnect(), self.listings.acting():
                active.fault.undo(active.facts)
        except (ActionFailed, WaitTimeout) as exc:
            detail = f"undo of {active.fault.name} on {active.fault.target.name} failed: {exc}"
            self.journal.mark_undone(active.entry.id, ok=False, detail=detail)
            self.timeline.add("undo-failed", detail)
            return detail
        active.undone = True
        self.journal.mark_undone(active.entry.id)
        self.timeline.add(kind, f"{active.fault.name} on {active.fault.target.name}")
        return None

    def end_faults(self, fault_name: str) -> list[ActiveFault]:
        """End every active fault of this kind as the scenario says (power returns, the link
        comes back): its undo runs now, before the recovery, in the order they were injected."""
        ending = [a for a in self.faults if a.fault.name == fault_name and not a.undone]
        if not ending:
            raise DrillError(f"no active {fault_name} fault to end")
        self.require_confirmed(f"the end of {fault_name}")
        errors = [self._undo(active, kind="fault-ended") for active in ending]
        failed = [error for error in errors if error]
        if failed:
            raise DrillError(failed[0])
        return ending

    def close(self) -> None:
        """Stop the tenant observers (their last figures and outages go to the result and the
        evidence) and stop recording commands."""
        final = self.tenants.stop()
        if listed := self.listings.report():
            self.evidence.attach_text("API listings", listed)
        if final is not None:
            self.result.tenant_figures = dict(final.figures)
            self.result.outages = list(final.outages)
        if self._on_command in self.targets.listeners:
            self.targets.listeners.remove(self._on_command)
