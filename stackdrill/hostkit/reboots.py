"""After a reboot: wait for the host to answer, then prove it rebooted by its boot identity
(recorded by the fault before it struck), never by SSH answering alone."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from stackdrill.core.waiting import WaitTimeout, poll
from stackdrill.hosts.identity import boot_identity
from stackdrill.hosts.ssh import HostError, HostTimeout
from stackdrill.hosts.target import Target


def wait_for_host(target: Target, timeout: float) -> str:
    """Poll until ``target`` answers over SSH, and return its boot identity; a host silent at
    the deadline raises :class:`HostTimeout`."""
    try:
        identity, _ = poll(lambda: boot_identity(target, timeout=3), timeout=timeout,
                           interval=1.0, max_interval=3.0,
                           description=f"{target.name} answering over SSH", ignore=(HostError,))
    except WaitTimeout as exc:
        raise HostTimeout(str(exc)) from exc
    return identity


def prove_reboot(target: Target, fault_facts: Iterable[Mapping[str, Any]]) -> None:
    """Raise :class:`HostError` unless ``target``'s boot identity differs from the last one the
    faults recorded (``fault_facts``); the commands an operator would read are recorded."""
    before = [facts["boot_identity"] for facts in fault_facts if "boot_identity" in facts]
    if not before:
        raise HostError(f"no boot identity of {target.name} was recorded before the fault; "
                        f"cannot prove a reboot")
    target.run("uptime; cat /proc/sys/kernel/random/boot_id")
    if boot_identity(target) == before[-1]:
        raise HostError(f"{target.name} did not reboot: boot identity unchanged")
