"""A recovery's runbook run inside a drill: journalled before its first step, each step timed on
the timeline and grouped in the evidence with the commands it ran, and rolled back when a step
fails or the drill is stopped (Ctrl-C, SIGTERM, a safeguard's abort)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from stackdrill.api._origin import origin_of
from stackdrill.api._runbook import Recovery, RecoveryFailed, RunbookRecord, RunbookStep, StepRecord
from stackdrill.core.errors import ActionFailed
from stackdrill.core.evidence import Evidence, Timeline
from stackdrill.engine.journal import Journal, JournalEntry
from stackdrill.engine.verdicts import SafeguardAborted

__all__ = ["RunbookRunner"]


class RunbookRunner:
    """Runs a drill's recoveries, one at a time. ``check`` is called before each step and
    raises to stop the runbook (the drill's safeguards: :class:`SafeguardAborted`)."""

    def __init__(self, journal: Journal, timeline: Timeline, evidence: Evidence,
                 check: Callable[[], None]) -> None:
        self.journal = journal
        self.timeline = timeline
        self.evidence = evidence
        self.check = check
        #: The step running now: the commands run meanwhile are recorded in it.
        self.step: StepRecord | None = None
        #: Once the running runbook was rolled back: whether the rollback ran through.
        self._rolled_back: bool | None = None

    def arm(self, recovery: Recovery, record: RunbookRecord,
            raw_params: Mapping[str, str]) -> JournalEntry:
        """Journal the recovery before its first step, so that a run killed half way through
        (a service the runbook stopped still down) is rolled back by
        ``stackdrill recover --pending``."""
        return self.journal.arm(record.recovery, record.target, raw_params, {}, kind="recovery",
                                origin=origin_of(type(recovery)))

    def run(self, recovery: Recovery, record: RunbookRecord, entry: JournalEntry) -> None:
        """Every step of the runbook in order. A failed step raises :class:`RecoveryFailed`
        naming it, after the rollback; whatever else stops the runbook rolls it back too. The
        journal entry is closed once the runbook ended, or its rollback ran through."""
        self._rolled_back = None
        ended = False
        try:
            for step in recovery.runbook():
                self.check()
                self._run_step(recovery, record, step)
            ended = True
        except BaseException:
            if self._rolled_back is None:  # Ctrl-C, SIGTERM, a safeguard's abort
                self._roll_back_once(recovery)
            ended = bool(self._rolled_back)
            raise
        finally:
            if ended:
                self.journal.mark_undone(entry.id, detail="recovery ended")
            self.step = None
            self.evidence.attach_text(f"runbook: {record.recovery}", record.render())

    def _run_step(self, recovery: Recovery, record: RunbookRecord, step: RunbookStep) -> None:
        """One step, in its own group of the evidence; a failed action rolls the runbook back
        at once (the rollback's evidence in the step's group)."""
        current = self.step = StepRecord(step.title, started=time.time())
        record.steps.append(current)
        with self.evidence.step(step.title):
            clock = time.monotonic()
            try:
                step.action()
                current.ok = True
            except ActionFailed as exc:
                current.error = str(exc)
                self._roll_back_once(recovery)
                raise RecoveryFailed(f"recovery {record.recovery}, step {step.title!r}: "
                                     f"{exc}") from exc
            except SafeguardAborted as exc:
                current.error = str(exc)
                raise
            finally:
                current.duration = time.monotonic() - clock
                self.timeline.add("recovery-step", step.title)

    def _roll_back_once(self, recovery: Recovery) -> None:
        self._rolled_back = False  # a rollback stopped half way is not started again
        self._rolled_back = self.roll_back(recovery)

    def roll_back(self, recovery: Recovery) -> bool:
        """A runbook that failed or was stopped puts back what it changed on purpose (a
        disabled service, say); what the rollback could not do is reported beside the failure,
        not instead of it. Returns whether the rollback ran through."""
        ok = True
        try:
            done = recovery.rollback()
        except ActionFailed as exc:
            done, ok = [f"rollback failed: {exc}"], False
        if done:
            self.timeline.add("recovery-rollback", "; ".join(done))
            self.evidence.attach_text(f"rollback: {recovery.name}", "\n".join(done))
        return ok
