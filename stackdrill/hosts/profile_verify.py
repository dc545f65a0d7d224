"""``stackdrill profile verify``: whether each host of an inventory runs the services its roles
need, under the names the inventory's ``services`` and its deployment profile give them.

Which services, and where (:func:`expectations`):

- on every host ``dbus`` and ``ssh``, and ``libvirtd`` on a compute (:data:`BASE_SERVICES`);
- on every host of a role, the services of :data:`ROLE_SERVICES`: when the inventory declares
  ``services`` (as ``stackdrill inventory devstack`` declares what each node's
  ``ENABLED_SERVICES`` run, and ``stackdrill lab up`` what the lab runs), those it declares;
  when it declares none, all but the optional ones (:data:`OPTIONAL_SERVICES`);
- on some host of a role that may or may not run them, the declared services of
  :data:`SHARED_SERVICES` (a ``storage`` host holds block or object storage, or both);
- on some host of the inventory, every other service the inventory declares.

Each host is read whole in one listing (:mod:`stackdrill.hosts.listings`: its units, unit
files, containers and LXC containers), and each service is then, as :class:`Check` says:

- ``ok``: it exists and runs (a unit inactive until its socket starts it counts); a container
  under Kolla's ``kolla-<container>-container.service`` unit says so, with the unit's
  ``Restart`` setting;
- ``missing``, ``not running``: with what the host has instead;
- ``renamed``: the unit is missing, and the host has the unit another deployment or release
  names the service by (DevStack's ``devstack@q-svc`` and ``devstack@neutron-api``, ``mysql``
  and ``mariadb``, ``ssh`` and ``sshd``, ...), with the ``services`` entry that names it;
- ``unwrapped``: a container runs under a wrapping unit the inventory does not name, so a stop
  through the container runtime alone would be undone by systemd;
- ``not checked``: its listing could not be read.

A host that cannot be reached is one line, and a mismatch.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence, Sized
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from stackdrill.hosts.listings import (
    HostListing,
    SystemdListing,
    listing_command,
    lxc_units_command,
    parse_host_listing,
    parse_lxc_units,
    unit_name,
)
from stackdrill.hosts.service_commands import find_lxc_container
from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import Target, Targets
from stackdrill.inventory.model import HostSpec, Inventory
from stackdrill.inventory.profiles import Placement, ProfileError, load_profile

__all__ = [
    "ALIASES",
    "BASE_SERVICES",
    "OPTIONAL_SERVICES",
    "ROLE_SERVICES",
    "SHARED_SERVICES",
    "VERDICTS",
    "Check",
    "Expectation",
    "Verification",
    "expectations",
    "judge",
    "read_host",
    "rename_candidates",
    "verify_profile",
]

SWIFT_SERVERS = ("swift-account-server", "swift-container-server", "swift-object-server")
BASE_SERVICES: Mapping[str, tuple[str, ...]] = {"*": ("dbus", "ssh"), "compute": ("libvirtd",)}
"""Checked on every host (``*``) or every host of the role, declared or not."""
ROLE_SERVICES: Mapping[str, tuple[str, ...]] = {
    "controller": ("mariadb", "rabbitmq", "memcached", "keystone", "placement-api", "glance-api",
                   "nova-api", "nova-conductor", "nova-scheduler", "cinder-api",
                   "cinder-scheduler", "neutron-api"),
    "compute": ("nova-compute",),
    "database": ("mariadb",),
    "messaging": ("rabbitmq",),
    "block-storage": ("cinder-volume",),
    "object-storage": SWIFT_SERVERS,
}
"""Run by every host of the role."""
OPTIONAL_SERVICES = frozenset({"cinder-api", "cinder-scheduler"})
"""Services of :data:`ROLE_SERVICES` checked only where the inventory declares them: Cinder is
not in every deployment (kolla-ansible leaves it off unless ``enable_cinder``)."""
SHARED_SERVICES: Mapping[str, tuple[str, ...]] = {"storage": ("cinder-volume", *SWIFT_SERVERS)}
"""Run by some host of the role, when the inventory declares them."""
ALIASES: tuple[tuple[str, ...], ...] = (
    ("devstack@q-svc", "devstack@neutron-api"),
    ("devstack@q-ovn-metadata-agent", "devstack@q-ovn-agent"),
    ("devstack@n-cond", "devstack@n-super-cond"),
    ("devstack@n-cond", "devstack@n-cond-cell1"),
    ("devstack@n-novnc", "devstack@n-novnc-cell1"),
    ("mysql", "mariadb"),
    ("ssh", "sshd"),
    ("libvirtd", "virtqemud"),
    ("tgt", "tgtd"),
)
"""Units that run the same service under another name, in another release or distribution;
besides these, ``devstack@X`` and ``X`` (DevStack's OVN and Open vSwitch built from source),
and the unit each shipped profile names the service by."""
DEVSTACK = "devstack@"
KOLLA = "kolla"
WORKERS = 16

OK = "ok"
MISSING = "missing"
NOT_RUNNING = "not running"
RENAMED = "renamed"
UNWRAPPED = "unwrapped"
NOT_CHECKED = "not checked"
VERDICTS = (OK, MISSING, NOT_RUNNING, RENAMED, UNWRAPPED, NOT_CHECKED)


@dataclass(frozen=True)
class Expectation:
    """Service ``service`` runs on each of ``hosts`` (``every``), or on one of them at least."""

    service: str
    hosts: tuple[str, ...]
    every: bool = True


@dataclass(frozen=True)
class Check:
    """One service on one host: its placement in words, the verdict (:data:`VERDICTS`), what
    was seen, and what to change in the inventory."""

    host: str
    service: str
    where: str
    verdict: str = OK
    detail: str = ""
    fix: str = ""

    @property
    def matches(self) -> bool:
        return self.verdict == OK

    def line(self) -> str:
        """``host: service (placement): verdict[: detail][; fix: ...]``."""
        text = f"{self.host}: {self.service} ({self.where}): {self.verdict}"
        if self.detail:
            text += f": {self.detail}"
        if self.fix:
            text += f"; fix: {self.fix}"
        return text


@dataclass(frozen=True)
class Verification:
    """Every check, in host order, and the hosts that could not be checked (with why)."""

    hosts: tuple[str, ...]
    checks: tuple[Check, ...]
    unreached: Mapping[str, str]

    @property
    def matches(self) -> bool:
        return not self.unreached and all(check.matches for check in self.checks)

    def lines(self) -> list[str]:
        """One line per checked service per host, one per host not reached, and the summary."""
        lines: list[str] = []
        for host in self.hosts:
            if host in self.unreached:
                lines.append(f"{host}: not checked: {self.unreached[host]}")
            lines += [check.line() for check in self.checks if check.host == host]
        return [*lines, self.summary()]

    def summary(self) -> str:
        counts = Counter(check.verdict for check in self.checks)
        parts = [f"{counts[verdict]} {verdict}" for verdict in VERDICTS if counts[verdict]]
        if self.unreached:
            parts.append(f"{len(self.unreached)} host{_s(self.unreached)} not reached")
        checked = len(self.hosts) - len(self.unreached)
        outcome = "all match" if self.matches else "MISMATCH"
        return (f"profile verify: {len(self.checks)} service{_s(self.checks)} on {checked} "
                f"host{'' if checked == 1 else 's'}: {', '.join(parts) or 'none'}: {outcome}")


def _s(items: Sized) -> str:
    return "" if len(items) == 1 else "s"


# -- which services, where -------------------------------------------------------------------


def _each_host(roles: Iterable[str], declared: frozenset[str]) -> list[str]:
    wanted = list(BASE_SERVICES["*"])
    for role in roles:
        wanted += BASE_SERVICES.get(role, ())
        wanted += [service for service in ROLE_SERVICES.get(role, ())
                   if (service in declared if declared else service not in OPTIONAL_SERVICES)]
    return list(dict.fromkeys(wanted))


def _shared(hosts: Sequence[HostSpec], declared: frozenset[str],
            taken: Iterable[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for role, services in SHARED_SERVICES.items():
        members = [host.name for host in hosts if role in host.roles]
        for service in services:
            if members and service in declared and service not in taken:
                found[service] = list(dict.fromkeys([*found.get(service, []), *members]))
    return found


def expectations(inventory: Inventory) -> list[Expectation]:
    """Every service to check, and where (see the module's docstring)."""
    declared = frozenset(inventory.services)
    hosts = sorted(inventory.hosts.values(), key=lambda spec: spec.name)
    each: dict[str, list[str]] = {}
    for host in hosts:
        for service in _each_host(host.roles, declared):
            each.setdefault(service, []).append(host.name)
    found = [Expectation(service, tuple(names)) for service, names in each.items()]
    shared = _shared(hosts, declared, each)
    found += [Expectation(service, tuple(names), every=False) for service, names in shared.items()]
    everywhere = tuple(host.name for host in hosts)
    found += [Expectation(service, everywhere, every=False)
              for service in sorted(declared - set(each) - set(shared))]
    return found


# -- reading a host --------------------------------------------------------------------------


@functools.cache
def _kolla_wrapper() -> str | None:
    try:
        return load_profile(KOLLA).container_unit
    except ProfileError:
        return None


def _wrapper(placement: Placement) -> str | None:
    """The unit that wraps a container: the profile's, else Kolla's name for it."""
    if placement.wrapper is not None:
        return placement.wrapper
    pattern = _kolla_wrapper()
    return pattern.replace("{container}", str(placement.container)) if pattern else None


def _lxc_names(listing: HostListing, placements: Iterable[Placement]) -> list[str]:
    """The running LXC containers whose units the placements need."""
    names: list[str] = []
    running = {c.name for c in listing.lxc if c.state.upper() == "RUNNING"}
    for placement in placements:
        if placement.kind != "lxc":
            continue
        try:
            name = find_lxc_container(listing.lxc, str(placement.container))
        except HostError:
            continue
        if name in running and name not in names:
            names.append(name)
    return names


def read_host(target: Target, placements: Sequence[Placement]) -> HostListing:
    """The host's listing for ``placements``: one command, and one more for the units inside
    its LXC containers when a placement needs them (neither recorded as evidence)."""
    containers = [p for p in placements if p.kind == "container"]
    runtimes = {str(p.runtime) for p in containers}
    wrappers = sorted({w for w in map(_wrapper, containers) if w is not None})
    lxc = any(p.kind == "lxc" for p in placements)
    result = target.run(listing_command(runtimes, wrappers, lxc), record=False)
    listing = parse_host_listing(result.stdout, runtimes)
    names = _lxc_names(listing, placements)
    if names:
        inside = target.run(lxc_units_command(names), record=False)
        listing = replace(listing, inside=parse_lxc_units(inside.stdout, names))
    return listing


# -- judging one service ---------------------------------------------------------------------


@functools.cache
def _profile_units(service: str) -> tuple[str, ...]:
    """The systemd unit each shipped profile names ``service`` by, but for a unit the profile
    gives services of several projects (``apache2``, ``httpd``), which says nothing of which
    one is missing."""
    units: list[str] = []
    for name in ("devstack", "packages", "openstack-ansible"):
        try:
            profile = load_profile(name)
        except ProfileError:
            continue
        for mapping in [profile.services, *(v.services for v in profile.variants.values())]:
            unit = _systemd_unit(mapping.get(service))
            if unit is None:
                continue
            projects = {other.split("-")[0] for other, entry in mapping.items()
                        if _systemd_unit(entry) == unit}
            if len(projects) == 1:
                units.append(unit)
    return tuple(dict.fromkeys(units))


def _systemd_unit(entry: object) -> str | None:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, Mapping) and "container" not in entry and "lxc" not in entry:
        return str(entry.get("unit")) if entry.get("unit") else None
    return None


def rename_candidates(service: str, unit: str) -> list[str]:
    """The other names ``unit`` of ``service`` may run under, the likeliest first."""
    names = [other for group in ALIASES if unit in group for other in group]
    names.append(unit[len(DEVSTACK):] if unit.startswith(DEVSTACK) else DEVSTACK + unit)
    names += _profile_units(service)
    names.append(service)
    return [name for name in dict.fromkeys(names) if name != unit]


def _fix(inventory: Inventory, placement: Placement, found: str) -> str:
    service = placement.service
    if placement.kind == "lxc":
        return (f"name it in a profile of your own (profile.dirs in {inventory.path}): "
                f"{service}: {{lxc: {placement.container}, unit: {found}}}")
    if service in inventory.services:
        text = f"set services.{service}.unit to {found} in {inventory.path}"
    else:
        text = f"add services: {{{service}: {{unit: {found}}}}} to {inventory.path}"
    if inventory.profile == "devstack":
        text += f" (stackdrill inventory devstack: --unit {service}={found})"
    return text


def _judge_unit(check: Check, placement: Placement, systemd: SystemdListing,
                inventory: Inventory, place: str = "") -> Check:
    """A systemd unit, on the host or (``place``) inside its LXC container."""
    unit = str(placement.unit)
    if systemd.error is not None:
        return replace(check, verdict=NOT_CHECKED, detail=f"units{place} not listed: "
                                                          f"{systemd.error}")
    state = systemd.get(unit)
    if state is None or not state.exists:
        found = next((name for name in rename_candidates(placement.service, unit)
                      if systemd.exists(name)), None)
        if found is None:
            return replace(check, verdict=MISSING, detail=f"no unit {unit_name(unit)}{place}")
        other = systemd.get(found)
        return replace(check, verdict=RENAMED,
                       detail=f"no unit {unit_name(unit)}{place}, but {unit_name(found)} "
                              f"({other.active if other else 'inactive'})",
                       fix=_fix(inventory, placement, found))
    if state.masked:
        return replace(check, verdict=NOT_RUNNING, detail=f"{state.name}{place} is masked")
    if state.active == "active":
        return check
    socket = systemd.get(state.name.removesuffix(".service") + ".socket")
    if socket is not None and socket.active == "active" and socket.name != state.name:
        return replace(check, detail=f"inactive until {socket.name} starts it")
    return replace(check, verdict=NOT_RUNNING,
                   detail=f"{state.name}{place} is {state.active} ({state.sub})")


def _wrapper_note(wrapper: str, listing: HostListing) -> str:
    state = listing.systemd.get(wrapper)
    active = "" if state is None or state.active == "active" else f", {state.active}"
    restart = listing.restart.get(unit_name(wrapper), "")
    return f"under {unit_name(wrapper)} (Restart={restart or '?'}{active})"


def _judge_container(check: Check, placement: Placement, listing: HostListing,
                     inventory: Inventory) -> Check:
    runtime, container = str(placement.runtime), str(placement.container)
    ps = listing.containers.get(runtime)
    if ps is None or ps.error is not None:
        reason = ps.error if ps is not None else "no answer"
        return replace(check, verdict=NOT_CHECKED, detail=f"{runtime} ps: {reason}")
    state = ps.states.get(container)
    wrapper = _wrapper(placement)
    note = _wrapper_note(wrapper, listing) if wrapper and listing.systemd.exists(wrapper) else ""
    if state is None:
        return replace(check, verdict=MISSING, detail=f"no {runtime} container {container}")
    if state != "running":
        return replace(check, verdict=NOT_RUNNING, detail=", ".join(
            filter(None, [f"{container} is {state}", note])))
    if note and placement.wrapper is None:
        return replace(check, verdict=UNWRAPPED,
                       detail=f"{note}, which the inventory does not name: systemd would start "
                              f"again a container stopped through {runtime} alone",
                       fix=f"declare profile: {KOLLA} in {inventory.path} (its container_unit "
                           f"names the unit)")
    return replace(check, detail=(f"{note}: stop, start and restart go through it"
                                  if note else ""))


def _judge_lxc(check: Check, placement: Placement, listing: HostListing,
               inventory: Inventory) -> Check:
    if listing.lxc_error is not None:
        return replace(check, verdict=NOT_CHECKED, detail=f"lxc-ls: {listing.lxc_error}")
    try:
        name = find_lxc_container(listing.lxc, str(placement.container))
    except HostError as exc:
        return replace(check, verdict=MISSING, detail=str(exc))
    state = next(c.state for c in listing.lxc if c.name == name)
    if state.upper() != "RUNNING":
        return replace(check, verdict=NOT_RUNNING, detail=f"LXC container {name} is {state}")
    inside = listing.inside.get(name, SystemdListing(error="no answer"))
    return _judge_unit(check, placement, inside, inventory, f" in LXC container {name}")


def judge(host: str, placement: Placement, listing: HostListing, inventory: Inventory) -> Check:
    """The check of one service placed by ``placement``, against the host's listing."""
    check = Check(host, placement.service, placement.describe())
    if placement.kind == "container":
        return _judge_container(check, placement, listing, inventory)
    if placement.kind == "lxc":
        return _judge_lxc(check, placement, listing, inventory)
    return _judge_unit(check, placement, listing.systemd, inventory)


# -- every host ------------------------------------------------------------------------------


def _check_host(target: Target, services: Sequence[str]) -> list[Check] | str:
    """Each service's check on the host, or why the host could not be checked."""
    try:
        placements = [target.placement(service) for service in services]
        listing = read_host(target, placements)
    except HostError as exc:
        return str(exc).removeprefix(f"{target.name}: ")
    return [judge(target.name, p, listing, target.inventory) for p in placements]


def _chosen(expectation: Expectation, checks: Sequence[Check]) -> list[Check]:
    """The checks to report: all of them for a service every host runs; for a service some
    host runs, those where it runs, else those where something of it was found, else all."""
    if expectation.every:
        return list(checks)
    running = [check for check in checks if check.matches]
    if running:
        return running
    seen = [check for check in checks if check.verdict != MISSING] or list(checks)
    if len(expectation.hosts) < 2:
        return seen
    where = f"expected on one of {', '.join(expectation.hosts)}"
    return [replace(check, detail="; ".join(filter(None, [check.detail, where])))
            for check in seen]


def verify_profile(targets: Targets) -> Verification:
    """Check every host of ``targets``' inventory (see the module's docstring), hosts in
    parallel."""
    inventory = targets.inventory
    wanted = expectations(inventory)
    services: dict[str, list[str]] = {}
    for expectation in wanted:
        for host in expectation.hosts:
            services.setdefault(host, []).append(expectation.service)
    hosts = sorted(inventory.hosts)
    chosen = [targets.get(name) for name in hosts]
    with ThreadPoolExecutor(max_workers=max(1, min(WORKERS, len(chosen)))) as pool:
        results = list(pool.map(lambda t: _check_host(t, services.get(t.name, [])), chosen))
    judged: dict[tuple[str, str], Check] = {}
    unreached: dict[str, str] = {}
    for name, result in zip(hosts, results, strict=True):
        if isinstance(result, str):
            unreached[name] = result
        else:
            judged.update({(name, check.service): check for check in result})
    checks: list[Check] = []
    for expectation in wanted:
        found = [judged[(h, expectation.service)] for h in expectation.hosts
                 if (h, expectation.service) in judged]
        checks += _chosen(expectation, found)
    order = {name: index for index, name in enumerate(hosts)}
    checks.sort(key=lambda check: order[check.host])
    return Verification(tuple(hosts), tuple(checks), unreached)
