"""OpenStack Swift in the lab: its disks, configuration files, rings and bootstrap.

The proxy runs on every controller (behind HAProxy on the HA topology's VIP), behind Keystone;
account, container and object servers, their replicators, auditors and updaters, and rsync run
on every storage host. Each storage host has
two disks, each an XFS filesystem on a loop device over an image file under the lab directory,
mounted at ``/srv/node/<disk>`` from the host's ``/etc/fstab``. One disk's image sits on a small
FUSE filesystem (:mod:`stackdrill.lab.cloud.swift_eiofs`) whose files can be switched to fail
every I/O with EIO, through a control file the storage host sees at ``DISK_CONTROL_DIR/<disk>``.

The rendering functions are pure (nodes and secrets in, ``{path: text}`` out) so they can be
tested and reused outside the lab; the functions that create disks need root and run commands
only when called.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackdrill.cloud.swift_ring import (
    RINGS,
    SWIFT_DIR,
    RingDevice,
    add_commands,
    builder,
    rebalance_command,
)
from stackdrill.core.waiting import poll
from stackdrill.lab.cloud.configs import _unit
from stackdrill.lab.cloud.layout import (
    KEYSTONE_URL,
    REGION,
    VENV,
    bind_address,
    memcached_servers,
)
from stackdrill.lab.cloud.naming import PACKAGES, LabNaming
from stackdrill.lab.cloud.secrets import LabSecrets
from stackdrill.lab.system import LabError, in_host_output, mounted, sh, unmount_under
from stackdrill.lab.topology import API_ADDRESS, SINGLE, LabHost, LabPaths, Topology

DEVICES = "/srv/node"
DISKS = ("d1", "d2")
DISK_SIZE = "1G"  # sparse; XFS needs at least 300 MiB
# The disks whose images sit on the FUSE filesystem that can be switched to EIO: one on each
# storage host, so the I/O-error drill runs on whichever storage host a feature picks.
EIO_DISKS = (("storage1", "d2"), ("storage2", "d2"))
# Where a storage host sees the EIO switch of each of its FUSE-backed disks (a bind mount of
# the FUSE filesystem's control directory for that host): write ``eio`` or ``ok`` to <disk>.
DISK_CONTROL_DIR = "/var/lib/stackdrill/disk-faults"

PROXY_PORT = 8080
PORTS = {"object": 6200, "container": 6201, "account": 6202}
PART_POWER = 8
REPLICAS = 3
MIN_PART_HOURS = 0
REPLICATION_INTERVAL = 15
MEMCACHE = f"{API_ADDRESS}:11211"
PROXY_URL = f"http://{API_ADDRESS}:{PROXY_PORT}"
CATALOG_ENTRY = ("swift", "object-store", f"{PROXY_URL}/v1/AUTH_%(project_id)s")
SERVICE_USER = "swift"
OPERATOR_ROLES = ("admin", "member")

# Daemons of each kind of host, as systemd units named swift-<daemon>.
STORAGE_DAEMONS = tuple(
    f"{kind}-{role}" for kind in RINGS
    for role in ("server", "replicator", "auditor",
                 *(("updater",) if kind != "account" else ("reaper",))))
STORAGE_UNITS = (*(f"swift-{d}" for d in STORAGE_DAEMONS), "swift-rsyncd")
MOUNT_UNIT = "stackdrill-swift-disks"
PROXY_UNITS = ("swift-proxy-server",)

EIOFS_MOUNT = "eiofs"


@dataclass(frozen=True)
class StorageNode:
    """A storage host as the rings see it: its address and failure domain."""

    name: str
    address: str
    zone: int
    region: int = 1
    disks: tuple[str, ...] = DISKS


def lab_storage_nodes(topology: Topology = SINGLE) -> list[StorageNode]:
    """The lab's storage hosts, each its own zone."""
    storage = topology.with_role("storage")
    return [StorageNode(h.name, h.address, zone) for zone, h in enumerate(storage, 1)]


# -- configuration files ---------------------------------------------------------------------
def swift_conf(secrets: LabSecrets) -> str:
    return f"""[swift-hash]
swift_hash_path_prefix = {secrets['swift_hash_prefix']}
swift_hash_path_suffix = {secrets['swift_hash_suffix']}

[storage-policy:0]
name = Policy-0
default = yes
"""


def _keystone_filters(secrets: LabSecrets) -> str:
    return f"""[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
www_authenticate_uri = {KEYSTONE_URL}
auth_url = {KEYSTONE_URL}
memcached_servers = {MEMCACHE}
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = {SERVICE_USER}
password = {secrets[SERVICE_USER]}
region_name = {REGION}
delay_auth_decision = True
service_token_roles_required = True

[filter:keystoneauth]
use = egg:swift#keystoneauth
operator_roles = {','.join(OPERATOR_ROLES)}
reseller_admin_role = ResellerAdmin
"""


def _tempauth_filter(users: dict[str, str]) -> str:
    lines = [f"user_{account}_{user} = {password} .admin"
             for (account, user), password in
             ((tuple(k.split(":", 1)), v) for k, v in users.items())]
    return "[filter:tempauth]\nuse = egg:swift#tempauth\n" + "\n".join(lines) + "\n"


def proxy_server_conf(secrets: LabSecrets | None = None, *, bind_ip: str = "0.0.0.0",  # noqa: S104
                      memcache: str = MEMCACHE,
                      tempauth_users: dict[str, str] | None = None) -> str:
    """The proxy's configuration: Keystone auth (``secrets``), or tempauth with
    ``{"account:user": password}`` for a throw-away cloud without Keystone."""
    if tempauth_users is not None:
        auth_filters, auth = _tempauth_filter(tempauth_users), "tempauth"
    elif secrets is not None:
        auth_filters, auth = _keystone_filters(secrets), "authtoken keystoneauth"
    else:
        raise LabError("proxy_server_conf needs Keystone secrets or tempauth users")
    pipeline = (f"catch_errors gatekeeper healthcheck proxy-logging cache listing_formats "
                f"{auth} copy proxy-logging proxy-server")
    return f"""[DEFAULT]
bind_ip = {bind_ip}
bind_port = {PROXY_PORT}
workers = 1
user = root
swift_dir = {SWIFT_DIR}

[pipeline:main]
pipeline = {pipeline}

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = True
node_timeout = 3
conn_timeout = 0.5
recheck_account_existence = 5
recheck_container_existence = 5

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:cache]
use = egg:swift#memcache
memcache_servers = {memcache}

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:copy]
use = egg:swift#copy

{auth_filters}"""


def _server_conf(kind: str, node: StorageNode, extra: str) -> str:
    return f"""[DEFAULT]
bind_ip = {node.address}
bind_port = {PORTS[kind]}
workers = 1
user = root
swift_dir = {SWIFT_DIR}
devices = {DEVICES}
mount_check = true
recon_cache_path = /var/cache/swift

[pipeline:main]
pipeline = healthcheck recon {kind}-server

[app:{kind}-server]
use = egg:swift#{kind}

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:recon]
use = egg:swift#recon

[{kind}-replicator]
interval = {REPLICATION_INTERVAL}

[{kind}-auditor]
interval = 30
{extra}"""


def storage_server_confs(node: StorageNode) -> dict[str, str]:
    return {
        f"{SWIFT_DIR}/account-server.conf": _server_conf(
            "account", node, "\n[account-reaper]\ninterval = 60\n"),
        f"{SWIFT_DIR}/container-server.conf": _server_conf(
            "container", node, "\n[container-updater]\ninterval = 30\n"),
        f"{SWIFT_DIR}/object-server.conf": _server_conf(
            "object", node, "\n[object-updater]\ninterval = 30\n"),
    }


def rsyncd_conf(node: StorageNode) -> str:
    modules = "".join(f"""
[{kind}]
max connections = 4
path = {DEVICES}/
read only = false
lock file = /var/lock/{kind}.lock
""" for kind in RINGS)
    return f"""uid = root
gid = root
log file = /var/log/rsyncd.log
pid file = /run/rsyncd.pid
address = {node.address}
{modules}"""


def fstab(disks: Sequence[tuple[str, str]]) -> str:
    """fstab lines mounting each (disk, block device) at /srv/node/<disk>, as the guide's
    ``mount -a`` expects; ``nofail`` lets a host boot with a dead disk, as Swift intends."""
    return "".join(f"{device} {DEVICES}/{disk} xfs noatime,nofail 0 0\n"
                   for disk, device in disks)


def storage_units(naming: LabNaming = PACKAGES, venv: Path = VENV) -> dict[str, str]:
    units = {
        naming.service_file(f"swift-{daemon}"): _unit(
            f"OpenStack Swift {daemon}",
            f"{venv}/bin/swift-{daemon} {SWIFT_DIR}/{daemon.split('-')[0]}-server.conf",
            after="network-online.target local-fs.target swift-rsyncd.service")
        for daemon in STORAGE_DAEMONS
    }
    units["/etc/systemd/system/swift-rsyncd.service"] = _unit(
        "rsync daemon for Swift replication", "/usr/bin/rsync --daemon --no-detach "
        "--config=/etc/rsyncd.conf")
    # systemd's fstab generator does not mount block devices inside a container, so a lab
    # storage host mounts its disks at boot as the guide does by hand: mount -a.
    units[f"/etc/systemd/system/{MOUNT_UNIT}.service"] = """[Unit]
Description=Mount the Swift disks listed in /etc/fstab
DefaultDependencies=no
After=local-fs-pre.target
Before=local-fs.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/mount -a -t xfs

[Install]
WantedBy=local-fs.target
"""
    return units


def proxy_files(secrets: LabSecrets, naming: LabNaming = PACKAGES, topology: Topology = SINGLE,
                host: LabHost | None = None, venv: Path = VENV) -> dict[str, str]:
    """A controller's proxy, run from ``venv``: on HA's, bound to ``host``'s own address
    (HAProxy holds the VIP's port) and caching in every controller's memcached."""
    conf = (proxy_server_conf(secrets) if host is None or not topology.clustered else
            proxy_server_conf(secrets, bind_ip=bind_address(topology, host),
                              memcache=memcached_servers(topology)))
    return {
        f"{SWIFT_DIR}/swift.conf": swift_conf(secrets),
        f"{SWIFT_DIR}/proxy-server.conf": conf,
        naming.service_file("swift-proxy-server"): _unit(
            "OpenStack Swift proxy-server",
            f"{venv}/bin/swift-proxy-server {SWIFT_DIR}/proxy-server.conf",
            after="network-online.target memcached.service"),
    }


def storage_files(node: StorageNode, secrets: LabSecrets,
                  disks: Sequence[tuple[str, str]],
                  naming: LabNaming = PACKAGES, venv: Path = VENV) -> dict[str, str]:
    """Everything a storage host needs but its rings; ``disks`` is [(disk, /dev/loopN)]."""
    files = {
        f"{SWIFT_DIR}/swift.conf": swift_conf(secrets),
        **storage_server_confs(node),
        "/etc/rsyncd.conf": rsyncd_conf(node),
        **storage_units(naming, venv),
    }
    if disks:
        files["/etc/fstab"] = fstab(disks)
    return files


# -- rings ---------------------------------------------------------------------------------
def node_devices(node: StorageNode, weight: float = 100.0) -> dict[str, list[RingDevice]]:
    """The devices a storage node contributes to each ring, as they are first added."""
    return {ring: [RingDevice(node.region, node.zone, node.address, PORTS[ring], disk, weight)
                   for disk in node.disks] for ring in RINGS}


def ring_build_commands(nodes: Iterable[StorageNode]) -> list[str]:
    """Create the three rings (3 replicas, min_part_hours 0), add every node's disks,
    rebalance: what the installation guide runs on the controller."""
    nodes = list(nodes)
    commands = [f"swift-ring-builder {builder(ring)} create {PART_POWER} {REPLICAS} "
                f"{MIN_PART_HOURS}" for ring in RINGS]
    for node in nodes:
        commands += add_commands(node_devices(node))
    commands += [rebalance_command(ring) for ring in RINGS]
    return commands


# -- bootstrap -------------------------------------------------------------------------------
InHost = Callable[..., "subprocess.CompletedProcess[str]"]
Log = Callable[[str], None]


class SwiftBootstrap:
    """One more stage of the lab cloud's bootstrap, after Keystone and the catalog: write the
    configuration, build the rings on the controller, copy them to every storage host, start
    the daemons and wait for the proxy to answer."""

    def __init__(self, in_host: InHost, paths: LabPaths, secrets: LabSecrets,
                 disks: dict[str, list[tuple[str, str]]], log: Log = print,
                 naming: LabNaming = PACKAGES, topology: Topology = SINGLE,
                 venv: Path = VENV) -> None:
        self.in_host = in_host
        self.venv = venv
        self.naming = naming
        self.paths = paths
        self.secrets = secrets
        self.disks = disks
        self.log = log
        self.topology = topology
        self.nodes = lab_storage_nodes(topology)
        self.ring_host = topology.first_controller.name
        self.proxies = [host.name for host in topology.controllers]

    def sh(self, host: str, command: str, timeout: float = 120.0) -> str:
        return in_host_output(self.in_host, host, command, timeout)

    def configure(self) -> None:
        """Write every host's Swift files into its writable layer (before or after boot)."""
        from stackdrill.lab.cloud.bootstrap import write_files

        for host in self.topology.controllers:
            write_files(self.paths.merged(host.name),
                        proxy_files(self.secrets, self.naming, self.topology, host, self.venv))
        for name in (*self.proxies, *(node.name for node in self.nodes)):
            link_tools(self.paths.merged(name), self.venv)
        for node in self.nodes:
            root = self.paths.merged(node.name)
            write_files(root, storage_files(node, self.secrets, self.disks.get(node.name, []),
                                            self.naming, self.venv))
            for sub in (*(f"{DEVICES}/{d}" for d in node.disks), "/var/cache/swift"):
                (root / sub.lstrip("/")).mkdir(parents=True, exist_ok=True)

    def run(self) -> None:
        for stage in (self.configure, self.mount_disks, self.rings, self.services,
                      self.identity, self.wait_proxy):
            clock = time.monotonic()
            stage()
            self.log(f"lab swift: {stage.__name__} done in {time.monotonic() - clock:.1f}s")

    def mount_disks(self) -> None:
        for node in self.nodes:
            self.sh(node.name, "mount -a -t xfs && " + " && ".join(
                f"mountpoint -q {DEVICES}/{disk}" for disk in node.disks))

    def rings(self) -> None:
        """Built on the first controller, copied to every storage host and other proxy."""
        self.sh(self.ring_host, f"export PATH={self.venv}/bin:$PATH && mkdir -p {SWIFT_DIR} && "
                                f"cd {SWIFT_DIR} && rm -f *.builder *.ring.gz && "
                                + " && ".join(_grouped(ring_build_commands(self.nodes))))
        source = self.paths.merged(self.ring_host) / SWIFT_DIR.lstrip("/")
        others = [name for name in self.proxies if name != self.ring_host]
        for name in (*(node.name for node in self.nodes), *others):
            copy_ring_files(source, self.paths.merged(name) / SWIFT_DIR.lstrip("/"))

    def services(self) -> None:
        for node in self.nodes:
            self.sh(node.name, "systemctl daemon-reload && systemctl enable --now "
                    + " ".join((MOUNT_UNIT, *map(self.naming.unit, STORAGE_UNITS))))
        for name in self.proxies:
            self.sh(name, "systemctl daemon-reload && systemctl enable --now "
                    + " ".join(map(self.naming.unit, PROXY_UNITS)))

    def identity(self) -> None:
        from stackdrill.lab.cloud.bootstrap import CloudBootstrap

        conn = CloudBootstrap(self.in_host, self.paths, self.secrets, self.log).admin_connection()
        try:
            register_identity(conn, self.secrets)
        finally:
            conn.close()

    def wait_proxy(self, timeout: float = 60.0) -> None:
        def answering() -> bool:
            out = self.in_host(self.ring_host, f"curl -fsS {PROXY_URL}/healthcheck",
                               check=False)
            return out.returncode == 0 and out.stdout.strip() == "OK"

        poll(answering, timeout=timeout, description="swift proxy answering /healthcheck",
             ignore=(LabError,))


# Swift's command-line tools, on every Swift host's PATH as a distribution's packages put them.
TOOLS = ("swift", "swift-ring-builder", "swift-get-nodes", "swift-recon", "swift-init",
         "swift-object-info", "swift-account-info", "swift-container-info")


def link_tools(root: Path, venv: Path = VENV) -> None:
    bindir = root / "usr/local/bin"
    bindir.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        link = bindir / tool
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(venv / "bin" / tool)



def _grouped(commands: list[str]) -> list[str]:
    # A rebalance's "; test $? -le 1" must stay with its own command inside the && chain.
    return [f"( {cmd} )" if ";" in cmd else cmd for cmd in commands]


def copy_ring_files(source: Path, target: Path) -> list[str]:
    """Copy the ring files from one host's /etc/swift to another's (both seen from the
    machine, in the hosts' writable layers), as the guide's ``scp *.ring.gz`` does; return the
    names copied. The builders stay on the ring-builder host: a stale copy elsewhere would make
    ``swift-ring-builder object.ring.gz`` there show the builder instead of the ring in use."""
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for path in sorted(source.glob("*.ring.gz")):
        (target / path.name).write_bytes(path.read_bytes())
        copied.append(path.name)
    if len(copied) != len(RINGS):
        raise LabError(f"{source}: expected {len(RINGS)} ring files, found {copied}")
    return copied


def register_identity(conn: Any, secrets: LabSecrets) -> None:
    """The ``swift`` service user (admin in the service project) and the object-store
    endpoints; idempotent."""
    identity = conn.identity
    project = identity.find_project("service")
    user = identity.find_user(SERVICE_USER, domain_id="default") or identity.create_user(
        name=SERVICE_USER, domain_id="default", password=secrets[SERVICE_USER])
    identity.assign_project_role_to_user(project, user, identity.find_role("admin"))
    name, kind, url = CATALOG_ENTRY
    service = identity.find_service(name) or identity.create_service(name=name, type=kind)
    existing = {e.interface for e in identity.endpoints(service_id=service.id)}
    for interface in ("public", "internal", "admin"):
        if interface not in existing:
            identity.create_endpoint(service_id=service.id, interface=interface, url=url,
                                     region_id=REGION)


# -- disks on the machine (root) -------------------------------------------------------------
def disk_dir(paths: LabPaths) -> Path:
    return paths.root / "swift-disks"


def eiofs_mountpoint(paths: LabPaths) -> Path:
    return disk_dir(paths) / EIOFS_MOUNT


def control_dir(paths: LabPaths, host: str) -> Path:
    """The directory to bind into ``host`` at DISK_CONTROL_DIR (only hosts with EIO disks)."""
    return eiofs_mountpoint(paths) / "control" / host


def image_path(paths: LabPaths, host: str, disk: str) -> Path:
    if (host, disk) in EIO_DISKS:
        return eiofs_mountpoint(paths) / "images" / f"{host}-{disk}.img"
    return disk_dir(paths) / f"{host}-{disk}.img"


def start_eiofs(paths: LabPaths, timeout: float = 20.0) -> None:
    """Start the FUSE filesystem that holds the EIO-capable images (a daemon on the machine)."""
    mnt = eiofs_mountpoint(paths)
    backing = disk_dir(paths) / "eiofs-backing"
    backing.mkdir(parents=True, exist_ok=True)
    if mounted(mnt):
        if _answers(mnt):
            return
        unmount_under(mnt)  # its daemon died: the mount only answers ENOTCONN
    mnt.mkdir(parents=True, exist_ok=True)
    for host, disk in EIO_DISKS:
        image = backing / f"{host}-{disk}.img"
        if not image.exists():
            sh(["truncate", "-s", DISK_SIZE, str(image)])
    log = (disk_dir(paths) / "eiofs.log").open("ab")
    subprocess.Popen(  # a daemon that outlives this process; lab down stops it
        [sys.executable, "-m", "stackdrill.lab.cloud.swift_eiofs", str(backing), str(mnt),
         *(f"{host}/{disk}" for host, disk in EIO_DISKS)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    poll(lambda: mounted(mnt) and _answers(mnt), timeout=timeout,
         description=f"FUSE filesystem mounted at {mnt}")


def _answers(mnt: Path) -> bool:
    try:
        os.stat(mnt)
    except OSError:
        return False
    return True


def create_disks(paths: LabPaths) -> dict[str, list[tuple[str, str]]]:
    """Image files, loop devices and XFS filesystems for every storage host's disks; returns
    host -> [(disk, /dev/loopN)]. Every loop device must be passed into its host."""
    disk_dir(paths).mkdir(parents=True, exist_ok=True)
    if EIO_DISKS:
        start_eiofs(paths)
    mapping: dict[str, list[tuple[str, str]]] = {}
    for node in lab_storage_nodes():
        for disk in node.disks:
            image = image_path(paths, node.name, disk)
            if not image.exists():
                sh(["truncate", "-s", DISK_SIZE, str(image)])
            device = sh(["losetup", "-f", "--show", str(image)]).stdout.strip()
            sh(["mkfs.xfs", "-q", "-f", "-L", f"{node.name[-8:]}-{disk}"[:12], device])
            mapping.setdefault(node.name, []).append((disk, device))
    return mapping


def remove_disks(paths: LabPaths) -> None:
    """Detach every loop device over a Swift image, stop the FUSE filesystem, delete the
    images (each ``lab up`` formats fresh disks)."""
    root = disk_dir(paths)
    if not root.exists():
        return
    listing = sh(["losetup", "-l", "-n", "-O", "NAME,BACK-FILE"], check=False).stdout
    for line in listing.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[1].strip().startswith(str(root)):
            sh(["losetup", "-d", parts[0]], check=False)
    unmount_under(root)
    sh(["rm", "-rf", "--one-file-system", str(root)], check=False)
