"""Each host's root filesystem: an overlay of the machine's own root, on a loop-mounted disk.

overlayfs refuses an upper directory inside ``lowerdir=/``, so every host's writable layer lives
on one XFS filesystem in a loop-mounted image under the lab directory.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from stackdrill.lab.system import LabError, mounted, sh, unmount_under
from stackdrill.lab.topology import SINGLE, LabHost, LabPaths, Topology

IMAGE_SIZE = "8G"
INSTANCES_SIZE = "4G"
"""The instances file system: Nova reports it as each compute's DISK_GB (4 GB), room for the
canaries and the servers evacuated onto one compute, with a flavor disk of 1 GB each."""

# Units a lab host keeps from the machine's enabled set; every other enabled unit is masked so a
# host boots only what its role needs.
KEEP_UNITS = {"ssh.service", "ssh.socket"}
ROLE_UNITS = {
    "controller": {
        "mariadb.service", "rabbitmq-server.service", "memcached.service", "epmd.service",
        "epmd.socket",
    },
    "storage": {"tgt.service"},
    "compute": {
        "libvirtd.service", "libvirtd.socket", "libvirtd-ro.socket", "libvirtd-admin.socket",
        "virtlogd.socket", "virtlogd-admin.socket", "virtlockd.socket", "virtlockd-admin.socket",
    },
}
ALWAYS_MASK = ("console-getty.service", "getty@.service", "systemd-timesyncd.service")
# The HA topology's controllers keep the front end too (masked everywhere else), and start
# MariaDB only once the lab has bootstrapped its Galera cluster (then it starts at each boot).
HA_CONTROLLER_UNITS = {"haproxy.service", "keepalived.service"}
HA_HELD_AT_FIRST_BOOT = ("mariadb.service",)

QEMU_CONF = """\
# A lab compute host is a container: qemu may not create cgroups here. qemu runs as
# libvirt-qemu:kvm, as on a packaged compute node; libvirt hands each disk to that user.
cgroup_controllers = [ ]
user = "libvirt-qemu"
group = "kvm"
dynamic_ownership = 1
remember_owner = 0
security_driver = "none"
"""

# The lab's key is authorized outside root's home (a tmpfs on every lab host); keys added to
# ~/.ssh/authorized_keys are honoured too, as on any node (the DevStack job authorizes its own).
SSHD_CONF = """\
HostKey /etc/ssh/stackdrill_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
AuthorizedKeysFile /etc/ssh/stackdrill_authorized_keys .ssh/authorized_keys
"""


def mount_state(paths: LabPaths) -> None:
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.mountpoint.mkdir(exist_ok=True)
    if mounted(paths.mountpoint):
        return
    if not paths.image.exists():
        sh(["truncate", "-s", IMAGE_SIZE, str(paths.image)])
        sh(["mkfs.xfs", "-q", "-f", str(paths.image)])
    sh(["mount", "-o", "loop", str(paths.image), str(paths.mountpoint)])


def mount_instances(paths: LabPaths) -> Path:
    """A new, empty instances file system of its own, mounted at the computes' shared
    instances path."""
    shared = paths.nova_instances
    unmount_under(shared)
    _detach(paths.instances_image)
    if shared.exists():
        sh(["rm", "-rf", "--one-file-system", str(shared)])
    shared.mkdir(parents=True)
    paths.instances_image.unlink(missing_ok=True)
    sh(["truncate", "-s", INSTANCES_SIZE, str(paths.instances_image)])
    # without reflink, as on ext4: a boot copies the guest's kernel and ramdisk into the
    # instance's directory, and a full file system fails it
    sh(["mkfs.xfs", "-q", "-f", "-m", "reflink=0", str(paths.instances_image)])
    sh(["mount", "-o", "loop", str(paths.instances_image), str(shared)])
    return shared


GLANCE_DIRS = ("images", "staging", "tasks")


def shared_glance(paths: LabPaths) -> Path:
    """A new, empty Glance file store every HA controller binds at ``/var/lib/glance`` (one
    store behind three Glance APIs, as an NFS export would be)."""
    shared = paths.glance_store
    if shared.exists():
        sh(["rm", "-rf", "--one-file-system", str(shared)])
    for sub in GLANCE_DIRS:
        (shared / sub).mkdir(parents=True)
    return shared


def _detach(image: Path) -> None:
    """Detach every loop device backed by ``image``."""
    if image.exists():
        for line in sh(["losetup", "-j", str(image)], check=False).stdout.splitlines():
            sh(["losetup", "-d", line.split(":", 1)[0]], check=False)


def unmount_state(paths: LabPaths) -> None:
    unmount_under(paths.mountpoint)
    _detach(paths.instances_image)
    _detach(paths.image)


def create_overlay(paths: LabPaths, host: LabHost) -> Path:
    base = paths.host_dir(host.name)
    merged = paths.merged(host.name)
    unmount_under(merged)
    if base.exists():
        sh(["rm", "-rf", "--one-file-system", str(base)])
    for sub in ("upper", "work", "merged"):
        (base / sub).mkdir(parents=True)
    sh(["mount", "-t", "overlay", "overlay", "-o",
        f"lowerdir=/,upperdir={base / 'upper'},workdir={base / 'work'}", str(merged)])
    return merged


def _write(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    target = root / rel.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        target.unlink()
    target.write_text(text)
    target.chmod(mode)


def _mask(root: Path, unit: str) -> None:
    link = root / "etc/systemd/system" / unit
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to("/dev/null")


def _disable(root: Path, unit: str) -> None:
    """Not started at boot (``systemctl disable`` in the host's writable layer), still
    startable."""
    for link in (root / "etc/systemd/system").glob(f"*.wants/{unit}"):
        link.unlink()


def _enable(root: Path, unit: str, wanted_by: str) -> None:
    link = root / "etc/systemd/system" / f"{wanted_by}.wants" / unit
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(f"/lib/systemd/system/{unit}")


# Live migration between the computes: libvirtd answers on TCP without authentication, which
# only the lab's private bridge can reach.
LIBVIRTD_CONF = """\
auth_tcp = "none"
"""


def configure_host(paths: LabPaths, host: LabHost, authorized_key: str,
                   topology: Topology = SINGLE) -> str:
    """Write the host's identity and services into its writable layer; return its host key line."""
    root = paths.merged(host.name)
    _write(root, "/etc/hostname", f"{host.name}\n")
    hosts = "127.0.0.1 localhost\n" + "".join(f"{h.address} {h.name}\n"
                                                for h in topology.hosts)
    _write(root, "/etc/hosts", hosts)
    _write(root, "/etc/machine-id", secrets.token_hex(16) + "\n", 0o444)
    # /root is hidden from the host (stackdrill.lab.hidden): the harness's key lives in /etc
    _write(root, "/etc/ssh/stackdrill_authorized_keys", authorized_key, 0o600)
    _write(root, "/etc/ssh/sshd_config.d/stackdrill-lab.conf", SSHD_CONF)
    # Keep root's user manager running between logins, so each SSH login does not wait for
    # user@0.service to start and stop again.
    _write(root, "/var/lib/systemd/linger/root", "")
    key = root / "etc/ssh/stackdrill_host_ed25519_key"
    for stale in (key, key.with_suffix(".pub")):
        if stale.exists():
            stale.unlink()
    sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{host.name}",
        "-f", str(key)])
    _mask_unneeded(root, _kept_units(host, topology))
    if topology.is_clustered_controller(host):
        for unit in sorted(HA_CONTROLLER_UNITS):
            _enable(root, unit, "multi-user.target")
        for unit in HA_HELD_AT_FIRST_BOOT:
            _disable(root, unit)
    if "compute" in host.roles:
        _write(root, "/etc/libvirt/qemu.conf", QEMU_CONF, 0o600)
        # Debian starts libvirtd with --timeout 120; in the lab it exited under nova-compute.
        _write(root, "/etc/default/libvirtd", 'LIBVIRTD_ARGS=""\n')
        _write(root, "/etc/libvirt/libvirtd.conf", LIBVIRTD_CONF, 0o600)
        _enable(root, "libvirtd-tcp.socket", "sockets.target")
    else:
        for unit in sorted(ROLE_UNITS["compute"]):
            _mask(root, unit)
    return _host_key_line(host, key)


def _kept_units(host: LabHost, topology: Topology) -> set[str]:
    keep = set(KEEP_UNITS)
    for role in host.roles:
        keep |= ROLE_UNITS.get(role, set())
    if topology.is_clustered_controller(host):
        keep |= HA_CONTROLLER_UNITS
    return keep


def _mask_unneeded(root: Path, keep: set[str]) -> None:
    """Mask every unit the machine enables that the host does not keep."""
    enabled = sh(["systemctl", f"--root={root}", "list-unit-files", "--state=enabled",
                  "--no-legend"]).stdout
    for line in enabled.splitlines():
        unit = line.split()[0]
        if unit not in keep and not unit.endswith(".target"):
            _mask(root, unit)
    for unit in ALWAYS_MASK:
        _mask(root, unit)


def _host_key_line(host: LabHost, key: Path) -> str:
    pub = key.with_suffix(".pub").read_text().split()
    if len(pub) < 2:
        raise LabError(f"{key}.pub: not an SSH public key")
    return f"{host.address} {pub[0]} {pub[1]}\n"
