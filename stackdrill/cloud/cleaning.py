"""What to clean before an upgrade (the operations guide: "clean the cluster beforehand ...
instances that were not fully removed from the system after their deletion"), found by
comparing views of the cloud that should agree. This module only compares; the views are read
by :mod:`stackdrill.cloud.cleaning_reads`.

A :class:`Finding` is a deviation to fix before upgrading, one line naming the host, the
instance, the service or the database and what to do. A note is information that needs no
fix (a disabled service and its reason, deleted rows not yet archived).

- **Instances and hypervisors.** A live instance (``deleted = 0``) that Nova places on a
  compute, in a state in which libvirt defines its domain (:data:`EXPECTS_DOMAIN`) and with no
  task under way, whose domain that compute's libvirt does not define; and the reverse, a
  domain that Nova does not know, knows as deleted, or places on another host (a stale copy
  after an evacuation). An instance in the middle of a task, or waiting for its resize to be
  confirmed, is a note.
- **Deleted instances not fully removed.** A deleted instance (``deleted != 0``) whose domain
  is still defined on a compute or whose directory (``<uuid>``, ``<uuid>_del``,
  ``<uuid>_resize``) is still in a compute's instances directory; a directory that belongs to
  no instance Nova knows; a Cinder attachment still held by a deleted instance (or by one Nova
  does not know). Deleted rows Nova keeps until ``nova-manage db archive_deleted_rows`` and
  soft-deleted instances (restorable until reclaimed) are notes, as are deleted instances
  whose files Nova has not marked cleaned.
- **Services.** A Nova or Cinder service whose state is down; a disabled one is a note, with
  its reason.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "EXPECTS_DOMAIN",
    "Attachment",
    "CleaningReport",
    "ComputeView",
    "Finding",
    "NovaInstance",
    "ServiceState",
    "attachment_findings",
    "compare_hypervisors",
    "instance_entry",
    "service_findings",
    "uuids_seen",
    "view_problems",
]

INSTANCES = "instances"
DELETED = "deleted instances"
SERVICES = "services"
MIGRATIONS = "online data migrations"
UNCHECKED = "not checked"

EXPECTS_DOMAIN = frozenset({"active", "stopped", "paused", "suspended", "rescued", "resized",
                            "soft-delete", "shelved"})
"""Nova's vm_states in which the instance's libvirt domain is defined on its host (a shelved
instance keeps it until it is offloaded; building, error and shelved_offloaded ones may have
none)."""
_ENTRY = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
                    r"(_del|_resize)?$")


@dataclass(frozen=True)
class Finding:
    """A deviation to fix before upgrading: which check found it, and one line naming what and
    saying what to do."""

    check: str
    line: str

    def __str__(self) -> str:
        return f"{self.check}: {self.line}"


@dataclass(frozen=True)
class NovaInstance:
    """An ``instances`` row of a cell: live, or deleted (``deleted_at`` set)."""

    uuid: str
    name: str
    host: str | None
    vm_state: str | None = None
    task_state: str | None = None
    deleted_at: str | None = None
    cell: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.uuid})" if self.name else self.uuid


@dataclass(frozen=True)
class ComputeView:
    """One compute as it shows itself: the libvirt domains it defines (uuid -> name, None when
    libvirt could not be asked), the entries of its instances directory (None when it could not
    be listed), and what could not be read, one line each. ``nova_host`` is the name Nova knows
    it by (``[DEFAULT] host`` of its nova.conf, else its hostname)."""

    target: str
    nova_host: str
    domains: Mapping[str, str] | None
    entries: tuple[str, ...] | None
    instances_path: str = "/var/lib/nova/instances"
    problems: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.target if self.nova_host == self.target else \
            f"{self.target} (Nova's host {self.nova_host})"


@dataclass(frozen=True)
class ServiceState:
    """A service as the compute or block-storage API lists it."""

    project: str  # nova, cinder
    binary: str
    host: str
    state: str | None
    status: str | None
    disabled_reason: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A Cinder attachment not deleted, of ``volume`` to ``instance``."""

    volume_id: str
    volume_name: str
    instance: str
    host: str | None = None


@dataclass
class CleaningReport:
    """Everything the check found, what is only information, and what it read."""

    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    read: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, findings: Iterable[Finding], notes: Iterable[str] = ()) -> None:
        self.findings.extend(findings)
        self.notes.extend(notes)

    def deviations(self) -> list[str]:
        return [str(finding) for finding in self.findings]

    def render(self) -> str:
        lines = [f"to clean before the upgrade ({len(self.findings)}):"]
        lines += [f"  {line}" for line in self.deviations()] or ["  nothing"]
        lines.append(f"information ({len(self.notes)}):")
        lines += [f"  {line}" for line in self.notes] or ["  none"]
        lines.append("read:")
        lines += [f"  {line}" for line in self.read]
        return "\n".join(lines)


def instance_entry(name: str) -> str | None:
    """The instance uuid an instances-directory entry is named after (``<uuid>``,
    ``<uuid>_del`` while Nova deletes it, ``<uuid>_resize`` during a resize); None for
    anything else (``_base``, ``locks``, ``compute_nodes``)."""
    found = _ENTRY.match(name)
    return found.group(1) if found else None


def uuids_seen(views: Iterable[ComputeView]) -> set[str]:
    """Every instance uuid the computes show, as a domain or as a directory."""
    seen: set[str] = set()
    for view in views:
        seen.update(view.domains or {})
        seen.update(u for e in view.entries or () if (u := instance_entry(e)) is not None)
    return seen


def view_problems(views: Iterable[ComputeView]) -> list[Finding]:
    """What could not be read on each compute: the comparison there is incomplete."""
    return [Finding(UNCHECKED, f"{view.label}: {problem}")
            for view in views for problem in view.problems]


def compare_hypervisors(live: Mapping[str, NovaInstance], deleted: Mapping[str, NovaInstance],
                        views: Sequence[ComputeView]) -> tuple[list[Finding], list[str]]:
    """Nova's instances (``live`` and ``deleted``, by uuid) against what each compute shows."""
    findings: list[Finding] = []
    notes: list[str] = []
    for view in views:
        if view.domains is not None:
            findings += _domain_findings(view, view.domains, live, deleted)
            findings += _missing_domains(view, view.domains, live)
    findings += _directory_findings(views, live, deleted)
    notes += _instance_notes(live, views)
    return findings, notes


def _domain_findings(view: ComputeView, domains: Mapping[str, str],
                     live: Mapping[str, NovaInstance],
                     deleted: Mapping[str, NovaInstance]) -> list[Finding]:
    found = []
    for uuid, name in sorted(domains.items()):
        domain = f"libvirt domain {name} ({uuid})" if name else f"libvirt domain {uuid}"
        instance = live.get(uuid)
        if instance is not None:
            if instance.host != view.nova_host and not _moving(instance):
                found.append(Finding(INSTANCES, (
                    f"{view.label} defines {domain} of instance {instance.label}, which Nova "
                    f"places on {instance.host or 'no host'}: once that host runs it, undefine "
                    f"this stale copy on {view.target} (virsh undefine {uuid})")))
        elif uuid in deleted:
            gone = deleted[uuid]
            found.append(Finding(DELETED, (
                f"instance {gone.label} was deleted{_at(gone)}, but {view.label} still defines "
                f"its {domain}: virsh destroy and virsh undefine it there")))
        else:
            found.append(Finding(INSTANCES, (
                f"{view.label} defines {domain}, which is no instance Nova knows: undefine it "
                f"(virsh undefine {uuid}) once nothing needs it")))
    return found


def _missing_domains(view: ComputeView, domains: Mapping[str, str],
                     live: Mapping[str, NovaInstance]) -> list[Finding]:
    return [Finding(INSTANCES, (
        f"instance {i.label} is {i.vm_state} on {view.label} in Nova ({i.cell or 'its cell'}), "
        f"but no libvirt domain there has its uuid: hard-reboot it (openstack server reboot "
        f"--hard) or correct its state and host"))
        for uuid, i in sorted(live.items())
        if i.host == view.nova_host and i.vm_state in EXPECTS_DOMAIN and not i.task_state
        and uuid not in domains]


def _directory_findings(views: Sequence[ComputeView], live: Mapping[str, NovaInstance],
                        deleted: Mapping[str, NovaInstance]) -> list[Finding]:
    """One finding per leftover directory, naming every compute that shows it (the instances
    directory may be shared between computes)."""
    where: dict[tuple[str, str], list[str]] = defaultdict(list)
    for view in views:
        for entry in view.entries or ():
            uuid = instance_entry(entry)
            if uuid is not None and uuid not in live:
                where[(view.instances_path, entry)].append(view.target)
    found = []
    for (path, entry), hosts in sorted(where.items()):
        uuid = instance_entry(entry)
        assert uuid is not None
        place = f"{path}/{entry} on {', '.join(hosts)}"
        if uuid in deleted:
            gone = deleted[uuid]
            found.append(Finding(DELETED, (
                f"instance {gone.label} was deleted{_at(gone)}, but its directory {place} is "
                f"still there: remove it")))
        else:
            found.append(Finding(DELETED, (
                f"directory {place} belongs to no instance Nova knows: remove it once nothing "
                f"needs its disks")))
    return found


def _instance_notes(live: Mapping[str, NovaInstance],
                    views: Sequence[ComputeView]) -> list[str]:
    compared = {view.nova_host for view in views if view.domains is not None}
    notes = []
    elsewhere: dict[str, int] = defaultdict(int)
    for instance in sorted(live.values(), key=lambda i: i.uuid):
        if instance.task_state:
            notes.append(f"instance {instance.label} on {instance.host or 'no host'} is in the "
                         f"middle of {instance.task_state}: let it end before the upgrade")
        elif instance.vm_state == "resized":
            notes.append(f"instance {instance.label} on {instance.host} waits for its resize "
                         f"to be confirmed or reverted")
        if instance.host and instance.host not in compared:
            elsewhere[instance.host] += 1
    notes += [f"{count} instance(s) on {host}, which is not a compute of the inventory (or "
              f"whose libvirt could not be asked): not compared with a hypervisor"
              for host, count in sorted(elsewhere.items())]
    return notes


def _moving(instance: NovaInstance) -> bool:
    """A migration or resize under way, or one waiting to be confirmed, leaves a domain on the
    other host for a while."""
    return bool(instance.task_state) or instance.vm_state == "resized"


def _at(instance: NovaInstance) -> str:
    return f" at {instance.deleted_at}" if instance.deleted_at else ""


def service_findings(services: Iterable[ServiceState]) -> tuple[list[Finding], list[str]]:
    """A service down is a finding; a disabled one a note, with its reason."""
    findings: list[Finding] = []
    notes: list[str] = []
    for s in sorted(services, key=lambda s: (s.project, s.binary, s.host)):
        if s.state != "up":
            findings.append(Finding(SERVICES, (
                f"{s.binary} on {s.host} is {s.state or 'in no known state'}: start it, or, if "
                f"{s.host} is gone for good, delete its {s.project} service record")))
        if s.status == "disabled":
            reason = s.disabled_reason or "no reason given"
            notes.append(f"{s.binary} on {s.host} is disabled ({reason})")
    return findings, notes


def attachment_findings(attachments: Iterable[Attachment], live: Mapping[str, NovaInstance],
                        deleted: Mapping[str, NovaInstance]) -> list[Finding]:
    """Cinder attachments held by an instance Nova deleted or does not know."""
    found = []
    for a in sorted(attachments, key=lambda a: (a.volume_id, a.instance)):
        if a.instance in live:
            continue
        volume = f"{a.volume_name} ({a.volume_id})" if a.volume_name else a.volume_id
        owner = (f"deleted instance {deleted[a.instance].label}" if a.instance in deleted
                 else f"instance {a.instance}, which Nova does not know")
        found.append(Finding(DELETED, (
            f"volume {volume} is still attached to {owner}: delete the attachment (openstack "
            f"volume attachment delete, or cinder-manage for a stuck one) so the volume is "
            f"available again")))
    return found
