"""Whether the lab is fully up, as ``stackdrill lab status`` says it: every host on with sshd
answering, and for a lab built with its cloud, the units each host runs active, clouds.yaml
written, Keystone issuing a token, the Nova, Cinder, Glance and Swift endpoints answering, and
every canary server ACTIVE; on the HA topology, its clusters whole (every Galera node Synced in
one Primary component of all, every RabbitMQ node running) and the VIP on exactly one
controller. Each problem is one line.

The checks only read: ``systemctl is-active`` inside each host, a token and one short listing
per API. Gathering them is :class:`stackdrill.lab.lab.Lab`'s; judging them is here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from stackdrill.lab.cloud import swift
from stackdrill.lab.cloud.layout import (
    BLOCK_STORAGE_HOST,
    BLOCK_STORAGE_UNITS,
    CLOUD_NAME,
    COMPUTE_UNITS,
    controller_units,
)
from stackdrill.lab.cloud.naming import LabNaming
from stackdrill.lab.topology import SINGLE, LabHost, Topology

# the APIs checked with the token: label, openstacksdk proxy, a one-item listing
ENDPOINTS: tuple[tuple[str, str, str], ...] = (
    ("nova", "compute", "/servers?limit=1"),
    ("cinder", "block_storage", "/volumes?limit=1"),
    ("glance", "image", "/images?limit=1"),
    ("swift", "object_store", "/?format=json&limit=1"),
)
API_TIMEOUT = 10.0


class HostLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def powered(self) -> bool: ...
    @property
    def ssh(self) -> bool: ...


@dataclass(frozen=True)
class ClusterState:
    """What the HA controllers answered. ``galera``: host -> its ``wsrep_cluster_size``,
    ``wsrep_cluster_status`` and ``wsrep_local_state_comment`` (empty when it did not answer);
    ``rabbitmq``: host -> the running nodes it sees; ``vip_holders``: the controllers holding
    the VIP."""

    galera: Mapping[str, Mapping[str, str]]
    rabbitmq: Mapping[str, Sequence[str]]
    vip_holders: Sequence[str]


@dataclass(frozen=True)
class CloudState:
    """What the lab's cloud answered. ``units``: host -> unit -> ``systemctl is-active``;
    ``apis``: API -> None when it answered, else why not; ``canaries``: server -> status;
    ``clusters``: the HA topology's (None on the single one); ``release``: the OpenStack
    release ``lab up`` recorded, as the operator reads it."""

    clouds_yaml: bool
    units: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    apis: Mapping[str, str | None] = field(default_factory=dict)
    canaries: Mapping[str, str] = field(default_factory=dict)
    clusters: ClusterState | None = None
    release: str | None = None


def expected_units(host: LabHost, naming: LabNaming, *, cloud: bool,
                   topology: Topology = SINGLE) -> tuple[str, ...]:
    """The units ``lab up`` leaves active on ``host`` of ``topology``, named as the lab's
    naming names them."""
    units: list[str] = ["dbus"]
    if "compute" in host.roles:
        units += ["libvirtd", *(COMPUTE_UNITS if cloud else ())]
    if not cloud:
        return tuple(units)
    if "controller" in host.roles:
        units += [*controller_units(topology), *swift.PROXY_UNITS]
    if "storage" in host.roles:
        units += [swift.MOUNT_UNIT, *swift.STORAGE_UNITS]
    if host.name == BLOCK_STORAGE_HOST:
        units += BLOCK_STORAGE_UNITS
    return tuple(dict.fromkeys(naming.unit(unit) for unit in units))


def host_problems(hosts: Sequence[HostLike]) -> list[str]:
    problems = []
    for host in hosts:
        if not host.powered:
            problems.append(f"{host.name}: powered off")
        elif not host.ssh:
            problems.append(f"{host.name}: sshd not answering")
    return problems


def cloud_problems(state: CloudState, clouds_yaml: Path) -> list[str]:
    problems = [] if state.clouds_yaml else [
        f"{clouds_yaml}: missing (lab up did not finish bootstrapping the cloud)"]
    for host, units in state.units.items():
        problems += [f"{host}: unit {unit} is {answer}" for unit, answer in units.items()
                     if answer != "active"]
    problems += [f"API {api}: {why}" for api, why in state.apis.items() if why is not None]
    problems += [f"canary {name}: {status}, not ACTIVE"
                 for name, status in sorted(state.canaries.items()) if status != "ACTIVE"]
    if state.clusters is not None:
        problems += cluster_problems(state.clusters)
    return problems


def cluster_problems(state: ClusterState) -> list[str]:
    size = str(len(state.galera))
    problems = []
    for host, wsrep in state.galera.items():
        seen = (wsrep.get("wsrep_cluster_size"), wsrep.get("wsrep_cluster_status"),
                wsrep.get("wsrep_local_state_comment"))
        if seen != (size, "Primary", "Synced"):
            problems.append(f"{host}: Galera " + (
                "not answering" if not wsrep else
                f"{seen[2]} in a {seen[1]} component of {seen[0]}, not Synced in one of {size}"))
    members = sorted(f"rabbit@{host}" for host in state.rabbitmq)
    problems += [f"{host}: RabbitMQ sees {', '.join(nodes)} running, not {', '.join(members)}"
                 if nodes else f"{host}: RabbitMQ not answering (rabbitmqctl cluster_status)"
                 for host, nodes in state.rabbitmq.items() if sorted(nodes) != members]
    if len(state.vip_holders) != 1:
        problems.append(f"VIP held by {', '.join(state.vip_holders) or 'no controller'}, "
                        f"not exactly one")
    return problems


def cloud_summary(state: CloudState) -> list[str]:
    """What answered, one line each, for the operator to see what was checked."""
    units = [answer for host in state.units.values() for answer in host.values()]
    active = sum(answer == "active" for answer in units)
    lines = [f"release: {state.release}"] if state.release else []
    lines.append(f"units: {active} of {len(units)} active")
    if state.apis:
        answering = [api for api, why in state.apis.items() if why is None]
        lines.append(f"APIs answering: {', '.join(answering) or 'none'} "
                     f"(of {', '.join(state.apis)})")
    if state.canaries:
        lines.append("canaries: " + ", ".join(f"{name} {status}" for name, status
                                             in sorted(state.canaries.items())))
    elif state.apis.get("nova", "") is None:
        lines.append("canaries: none yet (the first drill creates them)")
    if state.clusters is not None:
        lines.append(cluster_summary(state.clusters))
    return lines


def cluster_summary(state: ClusterState) -> str:
    synced = sum(w.get("wsrep_local_state_comment") == "Synced" for w in state.galera.values())
    running = max((len(nodes) for nodes in state.rabbitmq.values()), default=0)
    return (f"clusters: Galera {synced} of {len(state.galera)} Synced, RabbitMQ {running} "
            f"nodes running, VIP on {', '.join(state.vip_holders) or 'none'}")


def parse_is_active(units: Sequence[str], output: str) -> dict[str, str]:
    """``systemctl is-active A B ...`` prints one answer per unit, in order."""
    answers = output.split()
    return {unit: answers[index] if index < len(answers) else "unknown"
            for index, unit in enumerate(units)}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _listing(conn: Any, proxy: str, path: str) -> str | None:
    try:
        response = getattr(conn, proxy).get(path, raise_exc=False)
    except Exception as exc:
        return _one_line(exc)
    return None if response.status_code < 400 else f"HTTP {response.status_code} on {path}"


def api_states(conn: Any) -> tuple[dict[str, str | None], dict[str, str]]:
    """A token from Keystone, then one listing per endpoint and the canary servers."""
    from stackdrill.cloud.canary import PREFIX

    try:
        conn.authorize()
    except Exception as exc:
        return {"keystone": f"no token: {_one_line(exc)}"}, {}
    apis: dict[str, str | None] = {"keystone": None}
    for label, proxy, path in ENDPOINTS:
        apis[label] = _listing(conn, proxy, path)
    canaries: dict[str, str] = {}
    if apis["nova"] is None:
        try:
            canaries = {server.name: str(server.status) for server
                        in conn.compute.servers(all_projects=True)
                        if str(server.name).startswith(PREFIX)}
        except Exception as exc:
            apis["nova"] = f"listing the canary servers: {_one_line(exc)}"
    return apis, canaries


def connect(clouds_yaml: Path) -> Any:
    """An openstacksdk connection to the lab's cloud from its own clouds.yaml."""
    import openstack.config
    import openstack.connection

    region = openstack.config.OpenStackConfig(config_files=[str(clouds_yaml)]).get_one(
        cloud=CLOUD_NAME, api_timeout=API_TIMEOUT)
    return openstack.connection.Connection(config=region)


Connector = Callable[[Path], Any]


@dataclass(frozen=True)
class LabReport:
    summary: list[str]
    problems: list[str]


def lab_report(hosts: Sequence[HostLike], inventory: Path, clouds_yaml: Path,
               cloud: CloudState | None) -> LabReport:
    """``cloud`` is None for a lab built without its cloud (``lab up --hosts-only``)."""
    problems = host_problems(hosts)
    if not inventory.exists():
        problems.append(f"{inventory}: missing (lab up did not finish)")
    if cloud is None:
        return LabReport(["cloud: none (hosts only)"], problems)
    return LabReport(cloud_summary(cloud), problems + cloud_problems(cloud, clouds_yaml))
