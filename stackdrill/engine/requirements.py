"""What a drill needs of the cloud beyond hosts of the roles it names: a drill tagged ``@ha``
drills a highly available control plane (several controllers, a Galera cluster, a RabbitMQ
cluster, a virtual IP), and runs only against an inventory that names them (``clusters:``
``galera`` and ``rabbitmq``, and ``vips:``), as ``stackdrill lab up --topology ha`` writes it.
Against any other inventory it is skipped, with the reason, rather than refused: a run of every
shipped drill against a single controller runs the others."""

from __future__ import annotations

from collections.abc import Iterable

from stackdrill.inventory.model import Inventory

__all__ = ["HA_CLUSTERS", "HA_TAG", "unmet"]

HA_TAG = "ha"
HA_CLUSTERS = ("galera", "rabbitmq")


def unmet(tags: Iterable[str], inventory: Inventory) -> str | None:
    """Why a scenario with ``tags`` cannot run against ``inventory`` (one line), or None."""
    if HA_TAG not in set(tags):
        return None
    missing = [f"cluster {name}" for name in HA_CLUSTERS if name not in inventory.clusters]
    if not inventory.vips:
        missing.append("virtual IP")
    if not missing:
        return None
    return (f"an @{HA_TAG} drill needs an inventory with the clusters galera and rabbitmq and a "
            f"virtual IP (vips:), as stackdrill lab up --topology ha writes; {inventory.path} "
            f"has no {', no '.join(missing)}")
