"""The inventory's ``tempest`` key, read into a :class:`~stackdrill.inventory.model.TempestSpec`
and checked beyond what the schema states.

What stackdrill can ask the cloud it asks (the services in the catalog, a cinder-backup
service, Swift's middleware); what it cannot, it leaves off until the inventory says so: guest
networking, SSH into guests, volume snapshots and clones. A test that needs one of those is
then skipped by Tempest, with its reason, rather than failed. ``options`` sets any other
``tempest.conf`` option, over everything stackdrill writes::

    tempest:
      services: {object-storage: false}   # default: what the catalog lists
      image: cirros                        # default: the canary image (and image_alt)
      flavor: m1.tiny                      # default: the canary flavor (and flavor_alt)
      guest_networking: true               # servers get working Neutron ports
      ssh_validation: true                 # Tempest logs in to its guests (needs the above)
      volume: {snapshots: true, clones: true, backups: true, storage_protocol: ceph}
      concurrency: 2                       # Tempest's workers (default 1)
      deadline: 3600                       # seconds a Tempest step may run (default 1800)
      options:
        compute-feature-enabled: {resize: true}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, cast

from stackdrill.inventory.model import DEFAULT_TEMPEST_DEADLINE, TempestSpec

__all__ = ["option_text", "tempest_problems", "tempest_spec"]

SECRET_OPTIONS = frozenset({("auth", "admin_password")})
"""Options the inventory may not set: the admin password comes from the clouds.yaml entry."""


def option_text(value: object) -> str:
    """A YAML scalar as ``tempest.conf`` writes it: ``true``/``false``, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _options(raw: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Mapping[str, str]]:
    return MappingProxyType({section: MappingProxyType(
        {key: option_text(value) for key, value in values.items()})
        for section, values in raw.items()})


def tempest_spec(raw: Mapping[str, Any]) -> TempestSpec:
    """The schema-valid ``tempest`` mapping, its defaults filled in."""
    volume = cast(Mapping[str, Any], raw.get("volume") or {})
    return TempestSpec(
        services=MappingProxyType(dict(cast(Mapping[str, bool], raw.get("services") or {}))),
        image=raw.get("image"),
        image_alt=raw.get("image_alt"),
        flavor=raw.get("flavor"),
        flavor_alt=raw.get("flavor_alt"),
        guest_networking=bool(raw.get("guest_networking", False)),
        ssh_validation=bool(raw.get("ssh_validation", False)),
        storage_protocol=str(volume.get("storage_protocol", "iSCSI")),
        vendor_name=str(volume.get("vendor_name", "Open Source")),
        snapshots=bool(volume.get("snapshots", False)),
        clones=bool(volume.get("clones", False)),
        backups=cast(bool | None, volume.get("backups")),
        concurrency=int(raw.get("concurrency", 1)),
        deadline=float(raw.get("deadline", DEFAULT_TEMPEST_DEADLINE)),
        options=_options(cast(Mapping[str, Mapping[str, Any]], raw.get("options") or {})),
        declared=True,
    )


def tempest_problems(spec: TempestSpec) -> list[tuple[tuple[str, ...], str]]:
    """``(key path under tempest, message)`` for each way the spec cannot be right."""
    problems: list[tuple[tuple[str, ...], str]] = []
    if spec.ssh_validation and not spec.guest_networking:
        problems.append((("ssh_validation",), "needs guest_networking: true (Tempest logs in "
                                              "to its guests over their network)"))
    if not math.isfinite(spec.deadline):
        problems.append((("deadline",), f"expected finite number > 0, got {spec.deadline}"))
    for section, values in spec.options.items():
        problems += [(("options", section, key), "expected one-line string, number or boolean")
                     for key, value in values.items() if "\n" in value or "\r" in value]
    for section, key in sorted(SECRET_OPTIONS):
        if key in spec.options.get(section, {}):
            problems.append((("options", section, key), "the admin password comes from the "
                             "cloud's clouds.yaml entry, never from the inventory"))
    return problems
