"""Cloud-level drill vocabulary: the canary workload, the data on its volumes, whether a host
can boot a server, and whether the cloud can create a volume."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import pytest
from pytest_bdd import given, parsers, then

from stackdrill.cloud.access import CloudAccess, CloudError
from stackdrill.cloud.boot_check import BootOutcome, boot_on
from stackdrill.cloud.canary import CanaryWorkload
from stackdrill.cloud.volume_check import VolumeOutcome, create_volume
from stackdrill.cloud.volume_data import (
    Readback,
    WrittenData,
    verify_patterns,
    write_patterns,
)
from stackdrill.engine.drill import Drill
from stackdrill.engine.grammar import ON_ROLE, SECONDS
from stackdrill.engine.guards import changes_the_cloud
from stackdrill.hosts.target import Target, Targets

from .drill_steps import chosen_host

BOOTED = rf"a server booted {ON_ROLE} "
BOOT_FAILS = BOOTED + rf'fails within {SECONDS} saying "(?P<words>[^"]+)"'
BOOT_ACTIVE = BOOTED + rf"becomes ACTIVE within {SECONDS}"
# a size of at least 1 GiB: "0 GiB" or "-1 GiB" matches no step and is refused at collection
VOLUME = r"a volume of (?P<size>[1-9]\d*) GiB created on the cloud "
VOLUME_FAILS = VOLUME + rf'fails within {SECONDS} saying "(?P<words>[^"]+)"'
VOLUME_AVAILABLE = VOLUME + rf"becomes available within {SECONDS}"


@changes_the_cloud
@given("the canary workload is running")
def canary_workload(canaries: CanaryWorkload) -> None:
    """The ``canaries`` fixture creates or reuses one canary server per compute host."""


def _volumes(canaries: CanaryWorkload) -> list[str]:
    if not canaries.volumes:
        pytest.fail("the canary servers have no volumes: the cloud has no block storage",
                    pytrace=False)
    return list(canaries.volumes.values())


@changes_the_cloud
@given("each canary volume holds a known pattern", target_fixture="written_data")
def known_pattern(canaries: CanaryWorkload, cloud_access: CloudAccess, targets: Targets,
                  drill: Drill) -> WrittenData:
    written: WrittenData | None = None
    try:
        written = write_patterns(cloud_access, targets, _volumes(canaries))
    except CloudError as exc:
        message = str(exc)
    if written is None:
        pytest.fail(message, pytrace=False)
    drill.evidence.attach_text("data written to the canary volumes", written.render())
    return written


@then("each canary volume reads back its pattern through its guest's disk")
def reads_back(written_data: WrittenData, cloud_access: CloudAccess, targets: Targets,
               drill: Drill) -> None:
    results: list[Readback] | None = None
    try:
        results = verify_patterns(cloud_access, targets, written_data)
    except CloudError as exc:
        message = str(exc)
    if results is None:
        pytest.fail(message, pytrace=False)
    drill.evidence.attach_text("data read back from the canary volumes",
                               "\n".join(r.render() for r in results))
    failed = [r.render() for r in results if not r.ok]
    if failed:
        pytest.fail("; ".join(failed), pytrace=False)


class _Outcome(Protocol):
    def render(self) -> str: ...


_O = TypeVar("_O", bound=_Outcome)


def _checked(drill: Drill, kind: str, title: str, check: Callable[[], _O]) -> _O:
    """Run a boot or volume check; its outcome goes to the timeline and the evidence, and a
    cloud that refuses the check fails the step with its reason."""
    try:
        outcome = check()
    except CloudError as exc:
        pytest.fail(str(exc), pytrace=False)
    drill.timeline.add(kind, outcome.render())
    drill.evidence.attach_text(title, outcome.render())
    return outcome


def _boot(drill: Drill, cloud_access: CloudAccess, canaries: CanaryWorkload, host: Target,
          seconds: str) -> BootOutcome:
    return _checked(drill, "boot-check", f"boot check on {host.name}", lambda: boot_on(
        cloud_access, host.name, canaries.image_id, canaries.flavor_id, float(seconds)))


@changes_the_cloud
@then(parsers.re(BOOT_FAILS))
def boot_fails(role: str, seconds: str, words: str, chosen: dict[str, Target],
               drill: Drill, cloud_access: CloudAccess, canaries: CanaryWorkload) -> None:
    """A server booted on the host goes to ERROR, and Nova's reason says ``words``."""
    outcome = _boot(drill, cloud_access, canaries, chosen_host(chosen, role), seconds)
    if outcome.status != "ERROR" or words.lower() not in outcome.reason.lower():
        pytest.fail(f"expected the boot to fail saying {words!r}; {outcome.render()}",
                    pytrace=False)


@changes_the_cloud
@then(parsers.re(BOOT_ACTIVE))
def boot_active(role: str, seconds: str, chosen: dict[str, Target], drill: Drill,
                cloud_access: CloudAccess, canaries: CanaryWorkload) -> None:
    """A server booted on the host becomes ACTIVE."""
    outcome = _boot(drill, cloud_access, canaries, chosen_host(chosen, role), seconds)
    if outcome.status != "ACTIVE":
        pytest.fail(f"expected the boot to succeed; {outcome.render()}", pytrace=False)


def _create_volume(drill: Drill, cloud_access: CloudAccess | None, size: str,
                   seconds: str) -> VolumeOutcome:
    if cloud_access is None:
        pytest.fail("the volume check needs a cloud: no clouds.yaml entry for this inventory",
                    pytrace=False)
    access = cloud_access
    return _checked(drill, "volume-check", f"volume check ({size} GiB)",
                    lambda: create_volume(access, int(size), float(seconds)))


@changes_the_cloud
@then(parsers.re(VOLUME_FAILS))
def volume_fails(size: str, seconds: str, words: str, drill: Drill,
                 cloud_access: CloudAccess | None) -> None:
    """A volume created on the cloud goes to error (or the API refuses it), and Cinder's
    reason says ``words``."""
    outcome = _create_volume(drill, cloud_access, size, seconds)
    if outcome.available or words.lower() not in outcome.reason.lower():
        pytest.fail(f"expected the volume to fail saying {words!r}; {outcome.render()}",
                    pytrace=False)


@changes_the_cloud
@then(parsers.re(VOLUME_AVAILABLE))
def volume_available(size: str, seconds: str, drill: Drill,
                     cloud_access: CloudAccess | None) -> None:
    """A volume created on the cloud becomes available."""
    outcome = _create_volume(drill, cloud_access, size, seconds)
    if not outcome.available:
        pytest.fail(f"expected the volume to become available; {outcome.render()}",
                    pytrace=False)
