"""Tempest, OpenStack's own functional test suite, as a judge of a drill's cloud: its
virtualenv, installed from the lock file beside these modules (:mod:`.install`); the
``tempest.conf`` written from the inventory's ``tempest`` section and the clouds.yaml entry
(:mod:`.conf`, with what the cloud is asked in :mod:`.discovery`); the run of a selection with a
deadline (:mod:`.runner`); and its per-test results and verdict (:mod:`.results`). The step's
text and its checks before the run are in :mod:`.selection`, the test ids the virtualenv lists
in :mod:`.listing`."""

from __future__ import annotations

from stackdrill.core.errors import ActionFailed

__all__ = ["TempestError"]


class TempestError(ActionFailed):
    """Tempest could not be installed, configured or run; one line, secrets redacted."""
