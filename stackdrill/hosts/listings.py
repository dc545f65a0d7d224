"""What a host runs, read whole in one command: its systemd units (``systemctl list-units --all``
and ``list-unit-files``), its containers (``docker ps -a`` or ``podman ps -a``), the ``Restart``
setting of the units that may wrap them (Kolla-Ansible's ``kolla-<container>-container.service``)
and its LXC containers (``lxc-ls --fancy``); then, in a second command, the units inside each
running LXC container a service needs. Checking many services costs two commands per host at
most, not one per service.

Pure text: :func:`listing_command` and :func:`lxc_units_command` build the scripts, whose
sections are each framed by a ``@@listing NAME`` line and a ``@@end STATUS`` line;
:func:`parse_sections` and the ``parse_*`` readers take their answers apart.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from stackdrill.hosts.service_commands import LxcContainer, lxc_list_command, parse_lxc_ls
from stackdrill.hosts.ssh import HostError

__all__ = [
    "ContainerListing",
    "HostListing",
    "Section",
    "SystemdListing",
    "UnitState",
    "listing_command",
    "lxc_units_command",
    "parse_container_ps",
    "parse_host_listing",
    "parse_lxc_units",
    "parse_restart",
    "parse_sections",
    "parse_unit_files",
    "parse_units",
    "unit_name",
]

BEGIN = "@@listing"
END = "@@end"
UNITS = ["systemctl", "list-units", "--all", "--type=service,socket", "--no-legend", "--plain",
         "--no-pager"]
UNIT_FILES = ["systemctl", "list-unit-files", "--type=service,socket", "--no-legend",
              "--no-pager"]
PS_FORMAT = "{{.Names}} {{.State}}"
SUFFIXES = (".service", ".socket")


def unit_name(unit: str) -> str:
    """``unit`` with its type suffix: a name without one is a service."""
    return unit if unit.endswith(SUFFIXES) else f"{unit}.service"


@dataclass(frozen=True)
class UnitState:
    """One unit as the listings show it. ``load`` is systemd's LOAD column (``loaded``,
    ``not-found``, ``masked``, ...; empty when only its unit file is listed), ``active`` and
    ``sub`` its ACTIVE and SUB columns (``inactive``/``dead`` for a unit systemd has not
    loaded), ``file_state`` the unit file's state (``enabled``, ``disabled``, ``static``, ...;
    empty when no file is listed)."""

    name: str
    load: str = ""
    active: str = "inactive"
    sub: str = "dead"
    file_state: str = ""

    @property
    def exists(self) -> bool:
        """Whether the host has the unit: loaded, or its file installed (masked counts: the
        unit is there, kept from running)."""
        if self.load:
            return self.load != "not-found"
        return bool(self.file_state) and self.file_state != "not-found"

    @property
    def masked(self) -> bool:
        return "masked" in (self.load, self.file_state)


@dataclass(frozen=True)
class SystemdListing:
    """One systemd's units (the host's, or an LXC container's); ``error`` when they could not
    be listed."""

    units: Mapping[str, UnitState] = field(default_factory=dict)
    error: str | None = None

    def get(self, unit: str) -> UnitState | None:
        """The unit, if the listings name it; an instance of a template (``getty@tty1``) whose
        template file is installed exists, inactive, even when systemd has not loaded it."""
        name = unit_name(unit)
        found = self.units.get(name)
        if found is not None or "@" not in name:
            return found
        prefix, _, rest = name.partition("@")
        template = self.units.get(f"{prefix}@{rest[rest.rindex('.'):]}")
        if template is not None and template.file_state:
            return UnitState(name, file_state=template.file_state)
        return None

    def exists(self, unit: str) -> bool:
        state = self.get(unit)
        return state is not None and state.exists


@dataclass(frozen=True)
class ContainerListing:
    """One container runtime's containers, each with its state (``running``, ``exited``,
    ``restarting``, ...); ``error`` when they could not be listed."""

    runtime: str
    states: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class HostListing:
    """Everything one host's listing command answered."""

    systemd: SystemdListing
    containers: Mapping[str, ContainerListing] = field(default_factory=dict)
    restart: Mapping[str, str] = field(default_factory=dict)  # wrapping unit -> its Restart
    lxc: tuple[LxcContainer, ...] = ()
    lxc_error: str | None = None
    inside: Mapping[str, SystemdListing] = field(default_factory=dict)  # LXC name -> its units


@dataclass(frozen=True)
class Section:
    """One section of a listing's answer: its text (stdout and stderr) and exit status."""

    text: str
    status: int

    @property
    def error(self) -> str | None:
        """None when the command succeeded, else its exit status and last line of output."""
        if self.status == 0:
            return None
        lines = [line.strip() for line in self.text.splitlines() if line.strip()]
        return f"exited {self.status}: {lines[-1] if lines else 'no output'}"


def _section(name: str, command: str) -> str:
    return f"echo {shlex.quote(f'{BEGIN} {name}')}\n{command} 2>&1\necho \"{END} $?\""


def listing_command(runtimes: Iterable[str] = (), wrappers: Sequence[str] = (),
                    lxc: bool = False) -> str:
    """The script listing a host's units and unit files, each runtime's containers (``docker``,
    ``podman``), the ``Restart`` setting of ``wrappers`` and, with ``lxc``, its LXC
    containers."""
    parts = [_section("units", shlex.join(UNITS)), _section("unit-files", shlex.join(UNIT_FILES))]
    for runtime in sorted(set(runtimes)):
        parts.append(_section(f"ps {runtime}",
                              shlex.join([runtime, "ps", "-a", "--format", PS_FORMAT])))
    if wrappers:
        parts.append(_section("restart", shlex.join(["systemctl", "show", "-p", "Id", "-p",
                                                     "Restart", "--", *wrappers])))
    if lxc:
        parts.append(_section("lxc", lxc_list_command()))
    return "\n".join(parts)


def lxc_units_command(names: Sequence[str]) -> str:
    """The script listing the units and unit files inside each LXC container of ``names``."""
    parts = []
    for name in names:
        attach = ["lxc-attach", "-n", name, "--"]
        parts.append(_section(f"units {name}", shlex.join([*attach, *UNITS])))
        parts.append(_section(f"unit-files {name}", shlex.join([*attach, *UNIT_FILES])))
    return "\n".join(parts)


def parse_sections(output: str) -> dict[str, Section]:
    """Each section of a listing's answer by name; a section cut short (the connection
    dropped) is left out."""
    sections: dict[str, Section] = {}
    name: str | None = None
    lines: list[str] = []
    for line in output.splitlines():
        if line.startswith(f"{BEGIN} "):
            name, lines = line[len(BEGIN) + 1:].strip(), []
        elif line.startswith(f"{END} ") and name is not None:
            status = line.split()[-1]
            sections[name] = Section("\n".join(lines), int(status) if status.isdigit() else 255)
            name = None
        elif name is not None:
            lines.append(line)
    return sections


def parse_units(text: str) -> dict[str, UnitState]:
    """``systemctl list-units --no-legend`` (with ``--plain`` or without: a failed unit's
    leading bullet is dropped): UNIT LOAD ACTIVE SUB DESCRIPTION. Lines of other types (a
    slice) and lines that are not units (a warning) are skipped."""
    units: dict[str, UnitState] = {}
    for line in text.splitlines():
        fields = line.strip().lstrip("●*").split(None, 4)
        if len(fields) >= 4 and fields[0].endswith(SUFFIXES):
            name, load, active, sub = fields[:4]
            units[name] = UnitState(name, load=load, active=active, sub=sub)
    return units


def parse_unit_files(text: str, units: Mapping[str, UnitState] | None = None
                     ) -> dict[str, UnitState]:
    """``systemctl list-unit-files --no-legend``: UNIT-FILE STATE [PRESET], merged into
    ``units`` (the ``list-units`` answer)."""
    merged = dict(units or {})
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].endswith(SUFFIXES):
            name, state = fields[:2]
            known = merged.get(name)
            merged[name] = (replace(known, file_state=state) if known is not None
                            else UnitState(name, file_state=state))
    return merged


def parse_container_ps(runtime: str, section: Section | None) -> ContainerListing:
    """``docker ps -a --format '{{.Names}} {{.State}}'`` (or podman's): one container a line.
    Podman before 4 says ``Up ...`` where Docker says ``running``."""
    if section is None:
        return ContainerListing(runtime, error="no answer")
    if section.error is not None:
        return ContainerListing(runtime, error=section.error)
    states: dict[str, str] = {}
    for line in section.text.splitlines():
        fields = line.split()
        if len(fields) != 2:
            continue
        name, state = fields[0].split(",")[0].lstrip("/"), fields[1].lower()
        states[name] = "running" if state == "up" else state
    return ContainerListing(runtime, states)


def parse_restart(text: str) -> dict[str, str]:
    """``systemctl show -p Id -p Restart -- UNIT...``: each unit's ``Restart`` setting."""
    found: dict[str, str] = {}
    for block in text.split("\n\n"):
        fields = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if "Id" in fields:
            found[fields["Id"]] = fields.get("Restart", "")
    return found


def _systemd(sections: Mapping[str, Section], suffix: str = "") -> SystemdListing:
    units, files = sections.get(f"units{suffix}"), sections.get(f"unit-files{suffix}")
    if units is None or files is None:
        return SystemdListing(error="no answer")
    error = units.error or files.error
    if error is not None:
        return SystemdListing(error=error)
    return SystemdListing(parse_unit_files(files.text, parse_units(units.text)))


def _lxc(section: Section | None) -> tuple[tuple[LxcContainer, ...], str | None]:
    if section is None:
        return (), None
    if section.error is not None:
        return (), section.error
    try:
        return tuple(parse_lxc_ls(section.text)), None
    except HostError as exc:
        return (), str(exc)


def parse_host_listing(output: str, runtimes: Iterable[str] = ()) -> HostListing:
    """The answer of :func:`listing_command` (with the same ``runtimes``)."""
    sections = parse_sections(output)
    containers = {runtime: parse_container_ps(runtime, sections.get(f"ps {runtime}"))
                  for runtime in sorted(set(runtimes))}
    restart = sections.get("restart")
    lxc, lxc_error = _lxc(sections.get("lxc"))
    return HostListing(_systemd(sections), containers,
                       parse_restart(restart.text) if restart is not None else {},
                       lxc, lxc_error)


def parse_lxc_units(output: str, names: Sequence[str]) -> dict[str, SystemdListing]:
    """The answer of :func:`lxc_units_command`: each container's units."""
    sections = parse_sections(output)
    return {name: _systemd(sections, f" {name}") for name in names}
