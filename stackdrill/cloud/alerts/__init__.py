"""The cloud's monitoring as a judge of a drill: its Alertmanager asked which alerts fire
(:mod:`.alertmanager`), sampled in the background from the verified state to the end of the
drill (:mod:`.sampler`), and the alerting rules an alert step may name, read from the rule files
the inventory lists or from Prometheus (:mod:`.rules`). The steps' text is in
:mod:`.vocabulary`."""

from __future__ import annotations

from stackdrill.core.errors import ActionFailed

__all__ = ["AlertError"]


class AlertError(ActionFailed):
    """Alertmanager or Prometheus could not be asked, or answered what cannot be read; one
    line."""
