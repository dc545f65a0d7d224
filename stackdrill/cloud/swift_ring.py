"""Swift rings as an operator handles them: ``swift-ring-builder`` commands and their output.

Pure functions: command lines to run on the ring-builder host, and parsers of what
``swift-ring-builder`` and ``swift-get-nodes`` print. Everything that runs them is elsewhere.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from stackdrill.core.errors import ActionFailed

SWIFT_DIR = "/etc/swift"
RINGS = ("account", "container", "object")


@dataclass(frozen=True)
class RingDevice:
    """One device of a ring, with every parameter ``swift-ring-builder add`` takes."""

    region: int
    zone: int
    ip: str
    port: int
    device: str
    weight: float
    replication_ip: str = ""
    replication_port: int = 0
    meta: str = ""

    def add_args(self) -> str:
        args = (f"--region {self.region} --zone {self.zone} --ip {self.ip} --port {self.port} "
                f"--device {self.device} --weight {self.weight:g}")
        if self.replication_ip and (self.replication_ip, self.replication_port) != (self.ip,
                                                                                    self.port):
            args += (f" --replication-ip {self.replication_ip} "
                     f"--replication-port {self.replication_port}")
        if self.meta:
            args += f" --meta {shlex.quote(self.meta)}"
        return args

    @property
    def label(self) -> str:
        return f"{self.ip}:{self.port}/{self.device}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RingDevice:
        return cls(**data)


@dataclass(frozen=True)
class RingInfo:
    replicas: float
    devices: list[RingDevice]
    flagged: list[str]  # devices marked for removal (DEL) and not yet rebalanced away


def builder(ring: str, swift_dir: str = SWIFT_DIR) -> str:
    return f"{swift_dir}/{ring}.builder"


def rebalance_command(ring: str, swift_dir: str = SWIFT_DIR) -> str:
    # swift-ring-builder exits 1 for warnings (nothing to reassign, balance not perfect) and 2
    # for errors.
    return f"swift-ring-builder {builder(ring, swift_dir)} rebalance; test $? -le 1"


def add_commands(devices: dict[str, list[RingDevice]], swift_dir: str = SWIFT_DIR) -> list[str]:
    return [f"swift-ring-builder {builder(ring, swift_dir)} add {device.add_args()}"
            for ring in RINGS for device in devices.get(ring, [])]


def remove_commands(address: str, swift_dir: str = SWIFT_DIR) -> list[str]:
    """Mark every device at ``address`` for removal from the three rings (the guide's
    ``swift-ring-builder <ring>.builder remove``); a rebalance then takes them out."""
    return [f"swift-ring-builder {builder(ring, swift_dir)} remove --ip {address} --yes"
            for ring in RINGS]


def set_replicas_commands(replicas: float, swift_dir: str = SWIFT_DIR) -> list[str]:
    return [f"swift-ring-builder {builder(ring, swift_dir)} set_replicas {replicas:g}"
            for ring in RINGS]


def rebalance_commands(swift_dir: str = SWIFT_DIR) -> list[str]:
    return [rebalance_command(ring, swift_dir) for ring in RINGS]


def parse_ring(text: str) -> RingInfo:
    """What ``swift-ring-builder <builder or ring file>`` prints: the replica count and the
    device table."""
    found = re.search(r"partitions, ([\d.]+) replicas", text)
    if found is None:
        raise ActionFailed("not swift-ring-builder output: no replica count")
    devices = []
    flagged = []
    in_table = False
    for line in text.splitlines():
        if line.strip().startswith("Devices:"):
            in_table = True
            continue
        fields = line.split()
        if not in_table or len(fields) < 9 or not fields[0].isdigit():
            continue
        ip, port = _host_port(fields[3])
        rip, rport = _host_port(fields[4])
        rest = fields[9:]
        if rest and rest[0] == "DEL":
            rest = rest[1:]
            flagged.append(f"{ip}:{port}/{fields[5]}")
        devices.append(RingDevice(int(fields[1]), int(fields[2]), ip, port, fields[5],
                                  float(fields[6]), rip, rport, " ".join(rest)))
    return RingInfo(float(found.group(1)), devices, flagged)


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class NodeLocation:
    """Where ``swift-get-nodes`` says one replica of an account, container or object lives."""

    url: str
    address: str
    port: int
    device: str
    partition: int
    handoff: bool


_CURL = re.compile(r'^curl .*?"(?P<url>https?://[^"]+)"(?P<rest>.*)$')


def parse_get_nodes(text: str) -> list[NodeLocation]:
    """The primary and handoff locations from ``swift-get-nodes`` (its ``curl`` lines)."""
    locations = []
    for line in text.splitlines():
        match = _CURL.match(line.strip())
        if match is None:
            continue
        url = match.group("url")
        parts = urlsplit(url)
        segments = parts.path.lstrip("/").split("/")
        if parts.hostname is None or parts.port is None or len(segments) < 3:
            continue
        locations.append(NodeLocation(url, parts.hostname, parts.port, segments[0],
                                      int(segments[1]), "[Handoff]" in match.group("rest")))
    return locations


@dataclass(frozen=True)
class HeadResult:
    status: int | None  # None: no HTTP answer (connection refused, timeout)
    etag: str | None


def head_command(urls: list[str], timeout: float = 5.0) -> str:
    """One shell command HEADing every URL on a storage server, each answer after a marker."""
    return "; ".join(
        f"echo '== {url}'; curl -g -sS -I -XHEAD --max-time {timeout:g} "
        f"{shlex.quote(url)} --path-as-is 2>&1" for url in urls) + "; true"


def parse_heads(text: str) -> dict[str, HeadResult]:
    """The status and ETag of each answer printed by :func:`head_command`."""
    results: dict[str, HeadResult] = {}
    url: str | None = None
    status: int | None = None
    etag: str | None = None
    for line in [*text.splitlines(), "== "]:
        if line.startswith("== "):
            if url is not None:
                results[url] = HeadResult(status, etag)
            url, status, etag = line[3:].strip() or None, None, None
            continue
        found = re.match(r"HTTP/[\d.]+ (\d{3})", line)
        if found:
            status = int(found.group(1))
        elif line.lower().startswith("etag:"):
            etag = line.split(":", 1)[1].strip().strip('"')
    return results
