"""Bring the lab up, tear it down, and say what is up.

``up`` copes with whatever a killed run left behind (mounts, loop devices, namespaces, processes):
it tears that down first, then builds every host afresh. It builds the lab's topology
(:mod:`stackdrill.lab.topology`, ``single`` unless asked) with the OpenStack release asked
(:mod:`stackdrill.lab.cloud.release`, the current one unless asked) and records both; a lab of
another topology or release must be taken down first. Everything else reads the records back.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stackdrill.core.waiting import poll
from stackdrill.lab import network, rootfs
from stackdrill.lab import status as lab_status
from stackdrill.lab.cloud import clusters, monitoring, swift
from stackdrill.lab.cloud.bootstrap import CloudBootstrap, write_clouds_yaml
from stackdrill.lab.cloud.bootstrap import configure as configure_cloud
from stackdrill.lab.cloud.install import ensure_openstack
from stackdrill.lab.cloud.layout import BLOCK_STORAGE_UNITS, COMPUTE_UNITS, controller_units
from stackdrill.lab.cloud.naming import LabNaming, NamingError, lab_naming
from stackdrill.lab.cloud.release import (
    CURRENT,
    Release,
    built_release,
    describe_series,
    record_release,
    recorded_series,
    refuse_other_release,
    upgrade_inventory,
)
from stackdrill.lab.cloud.secrets import LabSecrets
from stackdrill.lab.power import LabPower
from stackdrill.lab.prerequisites import missing_tools
from stackdrill.lab.supervisor import DEVICES_FILE, write_extra_binds
from stackdrill.lab.system import LabError, sh
from stackdrill.lab.topology import (
    API_ADDRESS,
    LabHost,
    LabPaths,
    Topology,
    built_topology,
    record_topology,
    refuse_other_topology,
)

BOOT_TIMEOUT = 60.0
REQUIRED_TOOLS = ("systemd-nspawn", "mkfs.xfs", "ip", "ssh-keygen", "nsenter", "losetup")

CANARY_DOMAIN = """\
<domain type='{virt_type}'>
  <name>{name}</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='pty'/>
    <console type='pty'/>
  </devices>
</domain>
"""


@dataclass(frozen=True)
class HostStatus:
    name: str
    address: str
    roles: tuple[str, ...]
    powered: bool
    init_pid: int | None
    ssh: bool

    def line(self) -> str:
        power = f"on (init pid {self.init_pid})" if self.powered else "off"
        ssh = "ssh up" if self.ssh else "ssh down"
        return f"{self.name:<11} {self.address:<14} {','.join(self.roles):<11} {power:<22} {ssh}"


def _tcp_open(address: str, port: int = 22, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            return conn.recv(4).startswith(b"SSH-")
    except OSError:
        return False


class Lab:
    """``topology``: what ``up`` builds; by default the topology of the lab built under
    ``paths`` (``single`` when none is). ``release``: the OpenStack ``up`` installs; by default
    the release of the lab built under ``paths`` (the current one when none is)."""

    def __init__(self, paths: LabPaths | None = None, naming: LabNaming | None = None,
                 topology: Topology | None = None, release: Release | None = None) -> None:
        self.paths = paths or LabPaths.default()
        self.naming = naming or lab_naming()
        self.topology = topology or built_topology(self.paths)
        self.power = LabPower(self.paths, self.topology)
        self._release = release

    @property
    def release(self) -> Release:
        """Read back only when needed: ``down`` and ``status`` do without it."""
        return self._release or built_release(self.paths)

    def in_host(self, name: str, command: str, *, check: bool = True,
                timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run a shell command inside a lab host, without going through SSH."""
        pid = self.power.init_pid(name)
        if pid is None:
            raise LabError(f"lab host {name}: powered off")
        return sh(["nsenter", "-t", str(pid), "-a", "/bin/sh", "-c", command],
                  check=check, timeout=timeout)

    def _preflight(self) -> None:
        if os.geteuid() != 0:
            raise LabError("the lab needs root (it creates namespaces, mounts and containers)")
        missing = [tool for tool in REQUIRED_TOOLS
                   if sh(["sh", "-c", f"command -v {tool}"], check=False).returncode != 0]
        if missing:
            raise LabError(f"missing tools: {missing_tools(missing)}")

    def down(self) -> None:
        self.power.kill_all()
        swift.remove_disks(self.paths)
        rootfs.unmount_state(self.paths)
        network.remove_all()
        runs = sorted(self.paths.run.iterdir()) if self.paths.run.is_dir() else []
        for run in runs:
            for name in ("supervisor.pid", "nspawn.pid", DEVICES_FILE):
                (run / name).unlink(missing_ok=True)
        self.paths.inventory.unlink(missing_ok=True)
        (self.paths.root / "clouds.yaml").unlink(missing_ok=True)
        self.paths.topology.unlink(missing_ok=True)
        self.paths.release.unlink(missing_ok=True)

    def up(self, *, cloud: bool = True, log: Callable[[str], None] = print,
           journal: Path | None = None) -> Path:
        """Build every host afresh; with ``cloud``, install and bootstrap OpenStack on them.
        With ``journal``, what dead runs left pending there on the old lab is closed: it went
        with the old lab. A lab of another topology or release is refused, untouched."""
        release = self._release = self.release
        refuse_other_topology(self.paths, self.topology)
        refuse_other_release(self.paths, release)
        self._preflight()
        started = time.monotonic()
        self.down()
        record_topology(self.paths, self.topology)
        record_release(self.paths, release)
        self._build_hosts()
        secrets = None
        disks: dict[str, list[tuple[str, str]]] = {}
        if cloud:
            secrets, disks = self._install_cloud(log)
        self._boot_hosts(log)
        if secrets is None:
            # Without Nova, each compute gets a bare qemu domain; with Nova, the harness
            # creates canary servers (a domain Nova does not know would stop nova-compute).
            for host in self.topology.with_role("compute"):
                self.start_canary_domain(host)
        else:
            self._bootstrap_cloud(secrets, disks, log)
        self.write_inventory(cloud=secrets is not None)
        log(f"lab: up in {time.monotonic() - started:.0f}s")
        if journal is not None:
            self._close_replaced_lab(journal, log)
        return self.paths.inventory

    def _build_hosts(self) -> None:
        """Every host's root, network and SSH keys, made afresh; the hosts stay off."""
        self.paths.root.mkdir(parents=True, exist_ok=True)
        self.paths.root.chmod(0o700)
        if not self.paths.ssh_key.exists():
            sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "stackdrill-lab",
                "-f", str(self.paths.ssh_key)])
        authorized = self.paths.ssh_key.with_suffix(".pub").read_text()
        rootfs.mount_state(self.paths)
        network.ensure_bridge()
        known_hosts = []
        for host in self.topology.hosts:
            run = self.paths.host_run(host.name)
            run.mkdir(parents=True, exist_ok=True)
            (run / "console.log").write_text("")
            network.create_host_network(
                host, nonlocal_bind=self.topology.is_clustered_controller(host))
            rootfs.create_overlay(self.paths, host)
            known_hosts.append(rootfs.configure_host(self.paths, host, authorized,
                                                     self.topology))
        self.paths.known_hosts.write_text("".join(known_hosts))

    def _install_cloud(self, log: Callable[[str], None]
                       ) -> tuple[LabSecrets, dict[str, list[tuple[str, str]]]]:
        """OpenStack installed and configured in the hosts' roots, the storage disks created
        and bound into their hosts with the shared instances path; the cloud's secrets and
        each host's disks."""
        release = self.release
        ensure_openstack(log, release)
        secrets = LabSecrets.load_or_create(self.paths.root / "secrets.json")
        configure_cloud(self.paths, secrets, self.naming, self.topology, release.venv)
        disks = swift.create_disks(self.paths)
        shared = {"/var/lib/nova/instances": self._shared_instances()}
        if self.topology.clustered:
            shared["/var/lib/glance"] = rootfs.shared_glance(self.paths)
        for host in self.topology.hosts:
            write_extra_binds(self.paths, host.name,
                              [dev for _, dev in disks.get(host.name, [])],
                              self._binds(host, shared))
        return secrets, disks

    def _binds(self, host: LabHost, shared: dict[str, Path]) -> list[tuple[str, str]]:
        """What the machine binds into ``host``: its disks' fault switches, the computes'
        instances path, the HA controllers' Glance store."""
        binds = [(str(swift.control_dir(self.paths, host.name)), swift.DISK_CONTROL_DIR)
                 for name, _ in swift.EIO_DISKS if name == host.name]
        if "compute" in host.roles:
            binds.append((str(shared["/var/lib/nova/instances"]), "/var/lib/nova/instances"))
        if self.topology.is_clustered_controller(host):
            binds.append((str(shared["/var/lib/glance"]), "/var/lib/glance"))
        return sorted(set(binds))

    def _boot_hosts(self, log: Callable[[str], None]) -> None:
        """Every host powered on, then waited for until it boots."""
        booting = time.monotonic()
        for host in self.topology.hosts:
            self.power.power_on(host.name)
        for host in self.topology.hosts:
            self.wait_booted(host)
        log(f"lab hosts: booted in {time.monotonic() - booting:.0f}s")

    def _bootstrap_cloud(self, secrets: LabSecrets, disks: dict[str, list[tuple[str, str]]],
                         log: Callable[[str], None]) -> None:
        """The booted cloud's services, accounts and object rings, and its clouds.yaml."""
        venv = self.release.venv
        CloudBootstrap(self.in_host, self.paths, secrets, log, self.naming, self.topology,
                       venv).run()
        swift.SwiftBootstrap(self.in_host, self.paths, secrets, disks, log,
                             self.naming, self.topology, venv).run()
        monitoring.MonitoringBootstrap(self.in_host, self.paths, secrets, log,
                                       self.topology).run()
        write_clouds_yaml(self.paths, secrets)

    def _close_replaced_lab(self, journal: Path, log: Callable[[str], None]) -> None:
        """What dead runs left pending on the old lab went with it: closed in ``journal``."""
        from stackdrill.engine.recover import close_replaced_lab

        closed = close_replaced_lab(self.paths.inventory, journal)
        if closed:
            log(f"journal: {closed} entries a dead run left on the old lab closed")

    def _shared_instances(self) -> Path:
        """An empty file system every compute mounts as its instances path."""
        return rootfs.mount_instances(self.paths)

    def is_up(self, *, cloud: bool = True) -> bool:
        if cloud and not (self.paths.root / "clouds.yaml").exists():
            return False
        return self.paths.inventory.exists() and all(h.powered and h.ssh for h in self.status())

    def ensure_up(self, journal: Path | None = None) -> Path:
        """The lab cloud's inventory, bringing the lab up first unless every host answers and
        the cloud was bootstrapped."""
        return self.paths.inventory if self.is_up() else self.up(journal=journal)

    def wait_booted(self, host: LabHost, timeout: float = BOOT_TIMEOUT) -> None:
        def booted() -> bool:
            state = self.in_host(host.name, "systemctl is-system-running", check=False)
            return state.stdout.strip() in ("running", "degraded") and _tcp_open(host.address)

        poll(booted, timeout=timeout, description=f"lab host {host.name}: booted with sshd",
             ignore=(LabError,))

    def start_canary_domain(self, host: LabHost) -> None:
        kvm = self.in_host(host.name, "test -w /dev/kvm && echo yes", check=False)
        virt_type = "kvm" if kvm.stdout.strip() == "yes" else "qemu"
        name = f"canary-{host.name}"
        xml = CANARY_DOMAIN.format(virt_type=virt_type, name=name)
        (self.paths.merged(host.name) / "etc/stackdrill-canary.xml").write_text(xml)
        self.in_host(host.name, f"virsh define /etc/stackdrill-canary.xml >/dev/null && "
                                f"virsh start {name} >/dev/null")

    def write_inventory(self, *, cloud: bool) -> None:
        services: dict[str, dict[str, str]] = {
            "libvirtd": {"unit": "libvirtd"}, "dbus": {"unit": "dbus"}}
        if cloud:
            services.update({name: {"unit": self.naming.unit(name)} for name in (
                *controller_units(self.topology), *COMPUTE_UNITS, *BLOCK_STORAGE_UNITS,
                *swift.STORAGE_UNITS, *swift.PROXY_UNITS)})
            services["rabbitmq"] = {"unit": "rabbitmq-server"}
            services["tgtd"] = {"unit": "tgt"}
        inventory: dict[str, object] = {
            "cloud": "stackdrill-lab",
            "production": False,
            "deployment": self.naming.name,
            "defaults": {
                "ssh": {
                    "user": "root",
                    "key": str(self.paths.ssh_key),
                    "known_hosts": str(self.paths.known_hosts),
                    "connect_timeout": 5,
                    "command_timeout": 60,
                },
                "power": {"driver": "lab", "lab_dir": str(self.paths.root)},
            },
            "hosts": {
                host.name: {"address": host.address, "roles": list(host.roles)}
                for host in self.topology.hosts
            },
            "services": services,
        }
        if cloud and self.topology.clustered:
            inventory.update(self._clustered_inventory())
        if cloud:
            # the cloud's passwords, for the redactor: the engine reads the file, not the lab
            inventory["secrets_files"] = [str(self.paths.root / "secrets.json")]
            # the drill lock in the cloud's MariaDB (GET_LOCK, with the credentials of Nova's
            # [database] connection on the controller), the journal mirrored on the controller
            inventory["coordination"] = {"lock": "mysql", "journal": "ssh"}
            # what Tempest cannot ask Cinder: the lab's volume driver makes snapshots and
            # clones (copies of the volume's file)
            inventory["tempest"] = {"volume": {"snapshots": True, "clones": True}}
            # the first controller's Alertmanager and Prometheus, and the rules they load
            inventory["alerts"] = monitoring.alerts_key(self.topology, self.paths.alert_rules)
            self.paths.alert_rules.write_text(monitoring.rules_yaml())
            if self.release != CURRENT:
                # the upgrade procedures' commands: the current release installed over it
                inventory["upgrade"] = upgrade_inventory(self.release)
        if self.naming.profile:
            # services the map does not list (a feature's own) are named by the profile too
            inventory["profile"] = self.naming.profile
        self.paths.inventory.write_text(
            "# Generated by `stackdrill lab up`.\n" + yaml.safe_dump(inventory, sort_keys=False)
        )

    def _clustered_inventory(self) -> dict[str, object]:
        """The HA topology's clusters (the quorum guard's: ``@allow_down_galera_2`` lets a
        drill break one) and the VIP every controller may hold."""
        members = [host.name for host in self.topology.controllers]
        return {"clusters": {"galera": members, "rabbitmq": list(members)},
                "vips": {"api": {"address": API_ADDRESS, "hosts": list(members)}}}

    def report(self, hosts: list[HostStatus],
               connect: lab_status.Connector | None = None) -> lab_status.LabReport:
        """Whether the lab is fully up: its hosts, and its cloud when it was built with one
        (its APIs reached through ``connect``, openstacksdk from the lab's clouds.yaml)."""
        clouds_yaml = self.paths.root / "clouds.yaml"
        naming = self._built_naming()
        cloud = None
        if naming is not None:
            series = recorded_series(self.paths)
            cloud = lab_status.CloudState(
                clouds_yaml=clouds_yaml.exists(), units=self._unit_states(hosts, naming),
                clusters=self._cluster_state(hosts) if self.topology.clustered else None,
                release=describe_series(series) if series else None,
                **self._api_states(clouds_yaml, connect or lab_status.connect))
        return lab_status.lab_report(hosts, self.paths.inventory, clouds_yaml, cloud)

    def _built_naming(self) -> LabNaming | None:
        """The unit naming of the cloud ``lab up`` built, from the inventory it wrote; when it
        did not get that far, from the controller's unit files, written before the hosts boot.
        None for a lab of hosts only."""
        try:
            data = yaml.safe_load(self.paths.inventory.read_text())
        except (OSError, yaml.YAMLError):
            data = None
        if isinstance(data, dict):
            if "nova-compute" not in (data.get("services") or {}):
                return None
            try:
                return lab_naming(str(data.get("deployment") or "packages"))
            except NamingError:
                return self.naming
        keystone = self.naming.service_file("keystone").lstrip("/")
        first = self.paths.merged(self.topology.first_controller.name)
        return self.naming if (first / keystone).exists() else None

    def _unit_states(self, hosts: list[HostStatus], naming: LabNaming
                     ) -> dict[str, dict[str, str]]:
        states = {}
        for host in self.topology.hosts:
            if not any(h.name == host.name and h.powered for h in hosts):
                continue
            units = lab_status.expected_units(host, naming, cloud=True, topology=self.topology)
            try:
                found = self.in_host(host.name, "systemctl is-active " + " ".join(units),
                                     check=False, timeout=15).stdout
            except (LabError, subprocess.SubprocessError):
                found = ""
            states[host.name] = lab_status.parse_is_active(units, found)
        return states

    def _answer(self, host: str, command: str, timeout: float = 20) -> str:
        """A command's output in ``host``; LabError when it fails (the clusters' readers
        take that for no answer)."""
        try:
            result = self.in_host(host, command, check=False, timeout=timeout)
        except subprocess.SubprocessError as exc:
            raise LabError(f"{host}: {exc}") from exc
        if result.returncode != 0:
            raise LabError(f"{host}: {command[:40]!r} exited {result.returncode}")
        return str(result.stdout)

    def _cluster_state(self, hosts: list[HostStatus]) -> lab_status.ClusterState:
        """Each powered controller's Galera and RabbitMQ state, and who holds the VIP."""
        names = [h.name for h in hosts if h.powered and h.name in
                 {c.name for c in self.topology.controllers}]
        holders = []
        for name in names:
            try:
                if f" {API_ADDRESS}/" in self._answer(name, "ip -4 -o addr show"):
                    holders.append(name)
            except LabError:
                continue
        return lab_status.ClusterState(
            galera={name: clusters.wsrep_status(self._answer, name) for name in names},
            rabbitmq={name: clusters.running_nodes(self._answer, name) for name in names},
            vip_holders=holders)

    @staticmethod
    def _api_states(clouds_yaml: Path, connect: lab_status.Connector) -> dict[str, Any]:
        if not clouds_yaml.exists():
            return {}
        try:
            conn = connect(clouds_yaml)
        except Exception as exc:
            return {"apis": {"keystone": f"{clouds_yaml}: {' '.join(str(exc).split())}"}}
        try:
            apis, canaries = lab_status.api_states(conn)
        finally:
            conn.close()
        return {"apis": apis, "canaries": canaries}

    def status(self) -> list[HostStatus]:
        result = []
        for host in self.topology.hosts:
            powered = self.power.is_on(host.name)
            result.append(HostStatus(
                name=host.name, address=host.address, roles=host.roles, powered=powered,
                init_pid=self.power.init_pid(host.name) if powered else None,
                ssh=powered and _tcp_open(host.address, timeout=0.5),
            ))
        return result
