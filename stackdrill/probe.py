"""What a state probe is: it observes one host and returns values under stable paths."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

from stackdrill.cloud.access import CloudAccess, CloudError
from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import Target, Targets
from stackdrill.state import Rule, Snapshot


class _ProbeBase(ABC):
    """What host and cloud probes share: a name, default tolerance rules, health problems."""

    name: ClassVar[str]
    description: ClassVar[str]
    rules: ClassVar[tuple[str, ...]] = ()

    def problems(self, values: dict[str, Any]) -> list[str]:
        """What in the observed values rules out calling it healthy (for the baseline)."""
        return []

    @classmethod
    def tolerance_rules(cls) -> list[Rule]:
        return [Rule.parse(text) for text in cls.rules]


class Probe(_ProbeBase):
    """``observe`` returns paths relative to the host (``unit:dbus/active``); the snapshot
    prefixes them with ``host:<name>/``. ``rules`` are the probe's default tolerance rules."""

    roles: ClassVar[tuple[str, ...]] = ()

    def applies_to(self, target: Target) -> bool:
        return not self.roles or any(role in target.spec.roles for role in self.roles)

    @abstractmethod
    def observe(self, target: Target) -> dict[str, Any]: ...


@dataclass(frozen=True)
class CloudContext:
    """What a cloud probe may use: the APIs, the hosts (e.g. to read a DSN), the redactor."""

    access: CloudAccess
    targets: Targets


class CloudProbe(_ProbeBase):
    """Observes the cloud as a whole, once per snapshot; paths are prefixed with ``cloud/``."""

    @abstractmethod
    def observe_cloud(self, context: CloudContext) -> dict[str, Any]: ...


def _observe_cloud(probe: CloudProbe, context: CloudContext, values: dict[str, Any],
                   errors: dict[str, str], health: dict[str, str] | None) -> None:
    try:
        observed = probe.observe_cloud(context)
    except (CloudError, HostError) as exc:
        errors[f"cloud/probe:{probe.name}"] = str(exc)
        return
    except Exception as exc:
        errors[f"cloud/probe:{probe.name}"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return
    values.update({f"cloud/{key}": value for key, value in observed.items()})
    if health is not None:
        for problem in probe.problems(observed):
            health[f"cloud/probe:{probe.name}"] = problem


def take_snapshot(targets: Targets | Iterable[Target], probes: Iterable[Probe | CloudProbe],
                  health: dict[str, str] | None = None,
                  cloud: CloudContext | None = None) -> Snapshot:
    """Run every applicable probe on every target, hosts in parallel; failures become errors.

    With ``health``, each probe's ``problems`` are added to it, keyed by host and probe.
    """
    hosts = list(targets)
    everything = list(probes)
    probe_list = [p for p in everything if isinstance(p, Probe)]
    cloud_probes = [p for p in everything if isinstance(p, CloudProbe)] if cloud else []
    started = time.time()

    def observe_host(target: Target) -> tuple[dict[str, Any], dict[str, str]]:
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for probe in probe_list:
            if not probe.applies_to(target):
                continue
            try:
                observed = probe.observe(target)
            except HostError as exc:
                errors[f"host:{target.name}/probe:{probe.name}"] = str(exc)
                continue
            values.update({f"host:{target.name}/{key}": value for key, value in observed.items()})
            if health is not None:
                for problem in probe.problems(observed):
                    health[f"host:{target.name}/probe:{probe.name}"] = problem
        return values, errors

    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(hosts) + len(cloud_probes)))) as pool:
        cloud_jobs = [pool.submit(_observe_cloud, probe, cloud, values, errors, health)
                      for probe in cloud_probes if cloud is not None]
        for host_values, host_errors in pool.map(observe_host, hosts):
            values.update(host_values)
            errors.update(host_errors)
        for job in cloud_jobs:
            job.result()
    return Snapshot(taken_at=started, values=dict(sorted(values.items())), errors=errors)


def health_problems(targets: Targets | Iterable[Target], probes: Iterable[Probe | CloudProbe],
                    cloud: CloudContext | None = None) -> dict[str, str]:
    """Everything that keeps the cloud from being called healthy: probes' problems and the
    parts that could not be observed. Empty when healthy."""
    health: dict[str, str] = {}
    snap = take_snapshot(targets, probes, health, cloud)
    return {**snap.errors, **health}
