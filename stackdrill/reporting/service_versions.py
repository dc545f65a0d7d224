"""The release of each OpenStack service installed on the cloud's hosts, read as an operator
would: the package's version as the Python of the service's own command sees it (``pip show
nova`` in that environment, ``34.0.0``), and where that cannot be read (a command that is no
Python script), the command's ``--version`` (oslo.config prints the same package version, but
imports the whole service to do it: three seconds a command on the lab, against a tenth).

One command per host (the fragments of :func:`stackdrill.api._probe.batch_script`), hosts in
parallel, once per session. A service whose command is not on the host is left out for that
host; a version that cannot be read is ``"unknown"``; nothing here raises.
"""

from __future__ import annotations

import re
import secrets
import shlex
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from stackdrill.api._probe import batch_script, split_batch
from stackdrill.core.errors import InvalidValue
from stackdrill.hosts.ssh import CommandResult

__all__ = [
    "DEFAULT_DIRECTORIES",
    "DEFAULT_SOURCES",
    "ROLES",
    "UNKNOWN",
    "ServiceVersions",
    "VersionSettings",
    "VersionSource",
    "host_script",
    "merge",
    "parse_version",
    "service_versions",
]

UNKNOWN = "unknown"
NOT_INSTALLED = 127  # the fragment's exit status when none of the service's commands is there
# the roles whose hosts run OpenStack services
ROLES = ("controller", "compute", "storage", "network", "block-storage", "object-storage")
# DevStack's global virtualenv; a deployment's own directories are added by the settings
DEFAULT_DIRECTORIES: tuple[str, ...] = ("/opt/stack/data/venv/bin",)
_VERSION_LINE = re.compile(r"^(?:\S+\s+)?v?(\d+(?:\.\d+)+(?:[.+~-][0-9A-Za-z.+~-]*)?)$")
_DISTRIBUTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

ServiceVersions = dict[str, str | dict[str, str]]


def _find(names: Sequence[str], variable: str) -> str:
    quoted = " ".join(shlex.quote(name) for name in names)
    return (f"{variable}=; for n in {quoted}; do {variable}=$(command -v \"$n\") && break; "
            f"{variable}=; done\n")


@dataclass(frozen=True)
class VersionSource:
    """How one service's version is read: the first of ``scripts`` found on the host, whose
    ``#!`` Python is asked for the version of the package ``distribution``
    (``importlib.metadata``, what ``pip show`` in that environment prints); failing that, the
    first of ``commands`` found, run with ``--version``; read only on hosts of ``roles``."""

    service: str
    commands: tuple[str, ...]
    distribution: str | None = None
    scripts: tuple[str, ...] = ()
    # the roles of the hosts that run it (none: every host of ROLES); a shared virtualenv puts
    # every service's commands on every host, Swift's on a compute too
    roles: tuple[str, ...] = ()

    def runs_on(self, roles: Sequence[str]) -> bool:
        return not self.roles or any(role in self.roles for role in roles)

    def __post_init__(self) -> None:
        if not self.commands and not self.scripts:
            raise InvalidValue(f"version of {self.service}: no command to look for")
        if self.scripts and (self.distribution is None
                             or not _DISTRIBUTION.match(self.distribution)):
            raise InvalidValue(f"version of {self.service}: scripts need a distribution "
                               f"name, got {self.distribution!r}")

    def fragment(self, timeout: float) -> str:
        """The ``sh`` fragment printing the version; exit 127 when nothing is installed. The
        package's metadata as the script's Python sees it comes first (a tenth of a second);
        a command's ``--version`` imports the whole service (three seconds each on the lab)."""
        limit = f"timeout {timeout:g}"
        text = "found=\n"
        if self.scripts:
            code = shlex.quote("import importlib.metadata as m; "
                               f"print(m.version({self.distribution!r}))")
            text += (f"{_find(self.scripts, 's')}"
                     f"if [ -n \"$s\" ]; then found=1; py=$(sed -n '1s/^#! *//p' \"$s\")\n"
                     f"case \"$py\" in *python*) {limit} $py -c {code} 2>&1 && exit 0;; esac\n"
                     f"fi\n")
        if self.commands:
            text += (f"{_find(self.commands, 'b')}"
                     f"if [ -n \"$b\" ]; then {limit} \"$b\" --version 2>&1 && exit 0; "
                     f"exit 1; fi\n")
        return text + f"[ -n \"$found\" ] && exit 1; exit {NOT_INSTALLED}"


DEFAULT_SOURCES: tuple[VersionSource, ...] = (
    VersionSource("keystone", ("keystone-manage",), "keystone", ("keystone-manage",),
                  roles=("controller",)),
    VersionSource("nova", ("nova-manage",), "nova", ("nova-manage",),
                  roles=("controller", "compute")),
    VersionSource("placement", ("placement-manage",), "openstack-placement",
                  ("placement-manage",), roles=("controller",)),
    VersionSource("glance", ("glance-manage",), "glance", ("glance-manage",),
                  roles=("controller",)),
    VersionSource("cinder", ("cinder-manage",), "cinder", ("cinder-manage",),
                  roles=("controller", "storage", "block-storage")),
    VersionSource("neutron", ("neutron-server",), "neutron",
                  ("neutron-server", "neutron-db-manage"),
                  roles=("controller", "network", "compute")),
    VersionSource("swift", (), "swift", ("swift-ring-builder", "swift-init"),
                  roles=("controller", "storage", "object-storage")),
)


@dataclass(frozen=True)
class VersionSettings:
    """Which services, where their commands are looked for besides ``PATH``, and how long each
    command and each host may take."""

    sources: tuple[VersionSource, ...] = DEFAULT_SOURCES
    directories: tuple[str, ...] = DEFAULT_DIRECTORIES
    command_timeout: float = 30.0
    host_timeout: float = 120.0

    def sources_for(self, roles: Sequence[str]) -> list[VersionSource]:
        """The services a host of ``roles`` runs."""
        return [source for source in self.sources if source.runs_on(roles)]


class _Spec(Protocol):
    @property
    def roles(self) -> Sequence[str]: ...


class VersionHost(Protocol):
    """What is needed of a host (a :class:`~stackdrill.hosts.target.Target`): its name, its
    inventory entry's roles, and one command run on it."""

    @property
    def name(self) -> str: ...

    @property
    def spec(self) -> _Spec: ...

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True) -> CommandResult: ...


def host_script(settings: VersionSettings, marker: str,
                sources: Sequence[VersionSource] | None = None) -> str:
    """The one command that reads the version of each of ``sources`` (default: every
    service's) on a host."""
    path = ":".join(["$PATH", *(shlex.quote(d) for d in settings.directories)])
    chosen = settings.sources if sources is None else sources
    fragments = [source.fragment(settings.command_timeout) for source in chosen]
    script = f"PATH={path}; export PATH\n{batch_script(fragments, marker)}"
    return f"sh -c {shlex.quote(script)}"


def parse_version(output: str) -> str:
    """The version a ``--version`` printed (``30.0.0``, ``neutron-server 29.0.0``): its last
    line, warnings printed before it ignored; ``"unknown"`` when that line is no version."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    found = _VERSION_LINE.match(lines[-1]) if lines else None
    return found.group(1) if found else UNKNOWN


def _read_host(host: VersionHost, settings: VersionSettings) -> dict[str, str] | None:
    """The version of each service installed on one host and run by its roles; None when the
    host did not answer."""
    marker = f"@@stackdrill-versions-{secrets.token_hex(8)}"
    sources = settings.sources_for(host.spec.roles)
    if not sources:
        return {}
    try:
        ran = host.run(host_script(settings, marker, sources), timeout=settings.host_timeout,
                       record=False)
    except Exception:  # an unreachable host: unknown
        return None
    found: dict[str, str] = {}
    outputs = split_batch(ran.stdout, ran.stderr, len(sources), marker)
    for source, output in zip(sources, outputs, strict=True):
        if output is not None and output.exit_status == NOT_INSTALLED:
            continue
        ok = output is not None and output.exit_status == 0
        found[source.service] = parse_version(output.stdout) if ok and output else UNKNOWN
    return found


def merge(by_host: Mapping[str, Mapping[str, str] | None],
          services: Iterable[str]) -> ServiceVersions:
    """One value per service when every host that has it agrees, else its value on each host.

    A host that did not answer counts as ``"unknown"`` for every service found elsewhere (for
    every service when no host answered)."""
    order = list(services)
    answered = [found for found in by_host.values() if found is not None]
    seen = {service for found in answered for service in found} if answered else set(order)
    merged: ServiceVersions = {}
    for service in order:
        if service not in seen:
            continue
        values = {host: (found.get(service) if found is not None else UNKNOWN)
                  for host, found in sorted(by_host.items())}
        present = {host: value for host, value in values.items() if value is not None}
        distinct = set(present.values())
        merged[service] = distinct.pop() if len(distinct) == 1 else present
    return merged


def service_versions(hosts: Iterable[VersionHost],
                     settings: VersionSettings | None = None) -> ServiceVersions:
    """Every OpenStack service's version on the hosts of :data:`ROLES`: one command per host,
    hosts in parallel."""
    settings = settings or VersionSettings()
    chosen = [host for host in hosts if any(role in ROLES for role in host.spec.roles)]
    if not chosen:
        return {}
    with ThreadPoolExecutor(min(16, len(chosen)), thread_name_prefix="versions") as pool:
        jobs = {host: pool.submit(_read_host, host, settings) for host in chosen}
        by_host = {host.name: _or_unknown(job.result(), host, settings)
                   for host, job in jobs.items()}
    return merge(by_host, [source.service for source in settings.sources])


def _or_unknown(found: dict[str, str] | None, host: VersionHost,
                settings: VersionSettings) -> dict[str, str]:
    """What a host found, or, when it did not answer, ``unknown`` for the services its roles
    run (not for every service: a compute is no unknown Keystone)."""
    if found is not None:
        return found
    return {source.service: UNKNOWN for source in settings.sources_for(host.spec.roles)}
