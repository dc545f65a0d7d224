"""Data on the canary volumes: written on the storage side, read back through the guest's disk.

The canary guest writes only its heartbeat ring log (the volume's first 16 MiB,
:mod:`stackdrill.cloud.heartbeat`). Beyond it, at :data:`OFFSET`, a known pattern is written
into the volume's backing store on the iSCSI target host (the file or logical volume tgtd
exports), and read back later by qemu itself through the guest's own block device:
``qemu-io`` on the disk's block node, over the guest's iSCSI session. A read that returns the
pattern proves the whole data path (target, network, initiator, the guest's disk) and that the
data survived whatever happened in between.
"""

from __future__ import annotations

import secrets
import shlex
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from stackdrill.cloud.access import CloudAccess, CloudError
from stackdrill.hostkit.iscsi import TGT_SHOW, parse_tgt_targets
from stackdrill.hosts.target import Target, Targets

OFFSET = 64 << 20
"""Past the canary guest's ring log, which takes the volume's first 16 MiB and 4 KiB."""
LENGTH = 1 << 20


@dataclass(frozen=True)
class VolumePath:
    """Where one attached volume lives, on both sides of its iSCSI session."""

    volume_id: str
    server: str
    compute_host: str
    domain: str
    device: str  # the guest's disk, e.g. vdb
    node: str  # qemu's block node for it
    iqn: str
    target_host: str
    backing: str


@dataclass(frozen=True)
class Readback:
    path: VolumePath
    pattern: int
    ok: bool
    detail: str

    def render(self) -> str:
        state = "reads back" if self.ok else "FAILS"
        return (f"volume {self.path.volume_id} ({self.path.device} of {self.path.server} on "
                f"{self.path.compute_host}) {state} pattern 0x{self.pattern:02x}: {self.detail}")


def guest_disk(domain_xml: str, volume_id: str) -> tuple[str, str, str, str]:
    """(device, block node, IQN, portal address) of the volume's disk in a libvirt domain."""
    root = ET.fromstring(domain_xml)  # noqa: S314 (libvirt's own output on a host we drill)
    for disk in root.iter("disk"):
        if (disk.findtext("serial") or "") != volume_id:
            continue
        source = disk.find("source")
        target = disk.find("target")
        if source is None or target is None:
            break
        index = source.get("index")
        name = source.get("name", "")
        host = source.find("host")
        if index is None or source.get("protocol") != "iscsi" or host is None:
            raise CloudError(f"{volume_id}: the guest's disk is not an iSCSI network disk")
        return (target.get("dev", "?"), f"libvirt-{index}-format", name.rsplit("/", 1)[0],
                host.get("name", ""))
    raise CloudError(f"{volume_id}: no disk with this serial in the domain")


def _by_address(targets: Targets, address: str) -> Target:
    for target in targets:
        if target.spec.address == address:
            return target
    raise CloudError(f"no host in the inventory has the iSCSI portal address {address}")


def locate(access: CloudAccess, targets: Targets, volume_ids: list[str]) -> list[VolumePath]:
    conn = access.connection()
    paths = []
    for volume_id in volume_ids:
        volume = conn.block_storage.get_volume(volume_id)
        servers = [a.get("server_id") for a in volume.attachments or []]
        if len(servers) != 1:
            raise CloudError(f"volume {volume_id} is attached to {len(servers)} servers, not 1")
        server = conn.compute.get_server(servers[0])
        compute = targets.get(server.compute_host)
        domain_xml = compute.run(f"virsh dumpxml {shlex.quote(server.instance_name)}",
                                 check=True, record=False).stdout
        device, node, iqn, address = guest_disk(domain_xml, volume_id)
        storage = _by_address(targets, address)
        shown = parse_tgt_targets(storage.run(TGT_SHOW, check=True, record=False).stdout)
        if iqn not in shown or not shown[iqn].backing:
            raise CloudError(f"{storage.name}: tgtd exports no backing store for {iqn}")
        paths.append(VolumePath(volume_id, server.name, compute.name, server.instance_name,
                                device, node, iqn, storage.name, shown[iqn].backing[0]))
    return paths


def new_pattern() -> int:
    return secrets.randbelow(254) + 1  # never 0: a fresh volume reads as zeros


def write_pattern(targets: Targets, path: VolumePath, pattern: int) -> None:
    """Fill the volume's test window with ``pattern`` in the target's backing store."""
    targets.get(path.target_host).run(
        f"head -c {LENGTH} /dev/zero | tr '\\000' '\\{pattern:03o}' | dd "
        f"of={shlex.quote(path.backing)} bs={LENGTH} seek={OFFSET // LENGTH} "
        f"conv=notrunc,fsync status=none", check=True)


def read_back(targets: Targets, path: VolumePath, pattern: int,
              timeout: float = 60.0) -> Readback:
    """Read the test window through the guest's disk; qemu checks every byte."""
    log = shlex.quote(f"/var/log/libvirt/qemu/{path.domain}.log")
    read = f'qemu-io {path.node} "read -P {pattern} {OFFSET} {LENGTH}"'
    result = targets.get(path.compute_host).run(
        f"s=$(stat -c %s {log}) && timeout {int(timeout)} virsh qemu-monitor-command "
        f"{shlex.quote(path.domain)} --hmp {shlex.quote(read)} && tail -c +$((s+1)) {log}",
        timeout=timeout + 10)
    out = result.stdout
    if "Pattern verification failed" in out:
        return Readback(path, pattern, False, "different data: "
                        + out.split("Pattern verification failed", 1)[1].splitlines()[0].strip())
    if result.ok and f"read {LENGTH}/{LENGTH} bytes" in out:
        return Readback(path, pattern, True, f"{LENGTH} bytes at offset {OFFSET} verified")
    lines = (result.stderr or out).strip().splitlines()
    return Readback(path, pattern, False,
                    f"not read (exit {result.exit_status}): {lines[-1] if lines else 'no output'}")


@dataclass(frozen=True)
class WrittenData:
    """The patterns written to volumes, to read back later (the paths may have moved)."""

    patterns: dict[str, int]  # volume id -> pattern
    paths: tuple[VolumePath, ...]

    def render(self) -> str:
        return "\n".join(f"volume {p.volume_id} on {p.target_host}:{p.backing} ({p.iqn}), "
                         f"pattern 0x{self.patterns[p.volume_id]:02x} at offset {OFFSET}, "
                         f"{LENGTH} bytes; guest disk {p.device} of {p.server} on "
                         f"{p.compute_host}" for p in self.paths)


def write_patterns(access: CloudAccess, targets: Targets, volume_ids: list[str]) -> WrittenData:
    """Write a fresh pattern to each volume, and prove the guest reads it before going on."""
    paths = locate(access, targets, volume_ids)
    patterns = {path.volume_id: new_pattern() for path in paths}
    for path in paths:
        write_pattern(targets, path, patterns[path.volume_id])
    failed = [r.render() for r in (read_back(targets, p, patterns[p.volume_id]) for p in paths)
              if not r.ok]
    if failed:
        raise CloudError("before the fault: " + "; ".join(failed))
    return WrittenData(patterns, tuple(paths))


def verify_patterns(access: CloudAccess, targets: Targets, written: WrittenData
                    ) -> list[Readback]:
    """Read each volume's pattern back through the guest disk it is attached to now."""
    paths = locate(access, targets, list(written.patterns))
    return [read_back(targets, path, written.patterns[path.volume_id]) for path in paths]
