"""A scale lab of lightweight hosts for benchmarks: one network namespace per host, each with its
own PID namespace and /proc and an sshd, on the bridge ``sdbench0`` (172.31.80.0/22).

Nothing here touches the main lab (bridge sdlab0, 172.31.77.0/24, netns sdlab-*). Host keys, the
client key, known_hosts and an inventory are generated into ``WORK``; ``down`` removes all of it
and ends the sshds it started (every process in an ``sdbench-*`` namespace).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stackdrill.waiting import WaitTimeout, poll

BRIDGE = "sdbench0"
SUBNET = ipaddress.ip_network("172.31.80.0/22")
GATEWAY = "172.31.80.1/22"
PREFIX = "sdbench-"
WORK = Path("/run/sdbench-lab")
SSHD = "/usr/sbin/sshd"

SSHD_CONFIG = """\
Port 22
AuthorizedKeysFile {work}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
MaxSessions 100
MaxStartups 500:30:1000
LogLevel ERROR
Subsystem sftp internal-sftp
"""


class LabError(Exception):
    """The scale lab cannot be built here; one line."""


@dataclass(frozen=True)
class BenchHost:
    name: str
    address: str


def address(index: int) -> str:
    return str(SUBNET.network_address + 10 + index)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def _batch(lines: list[str], netns: str | None = None) -> None:
    args = ["ip", *(["-n", netns] if netns else []), "-batch", "-"]
    done = subprocess.run(args, input="\n".join(lines) + "\n", capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise LabError(f"ip -batch failed: {done.stderr.strip().splitlines()[-1:]}")


def _check_free() -> None:
    used = _ip("-br", "-4", "addr").stdout
    for line in used.splitlines():
        for word in line.split()[2:]:
            net = ipaddress.ip_interface(word).network
            if net.overlaps(SUBNET) and not line.startswith(BRIDGE):
                raise LabError(f"{SUBNET} overlaps {word} on {line.split()[0]}; not building")


def up(count: int) -> list[BenchHost]:
    """Build ``count`` hosts (after removing any earlier scale lab) and wait for their sshd."""
    if count < 1 or count > 1000:
        raise LabError(f"host count must be 1..1000, got {count}")
    down()
    _check_free()
    WORK.mkdir(parents=True)
    WORK.chmod(0o700)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    _keygen(WORK / "id_ed25519")
    shutil.copy(WORK / "id_ed25519.pub", WORK / "authorized_keys")
    (WORK / "empty").write_text("", encoding="utf-8")
    (WORK / "sshd_config").write_text(SSHD_CONFIG.format(work=WORK), encoding="utf-8")
    hosts = [BenchHost(f"{PREFIX}{i}", address(i)) for i in range(count)]
    _network(hosts)
    known = [_start_sshd(host) for host in hosts]
    (WORK / "known_hosts").write_text("".join(known), encoding="utf-8")
    _write_inventory(hosts)
    for host in hosts:
        _wait_listening(host)
    return hosts


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True, capture_output=True)


def _network(hosts: list[BenchHost]) -> None:
    lines = [f"link add {BRIDGE} type bridge", f"addr add {GATEWAY} dev {BRIDGE}",
             f"link set {BRIDGE} up"]
    for index, host in enumerate(hosts):
        lines += [f"netns add {host.name}",
                  f"link add sdb{index} type veth peer name eth0 netns {host.name}",
                  f"link set sdb{index} master {BRIDGE}", f"link set sdb{index} up"]
    _batch(lines)
    for host in hosts:
        _batch(["link set lo up", f"addr add {host.address}/22 dev eth0", "link set eth0 up"],
               netns=host.name)


def _start_sshd(host: BenchHost) -> str:
    key = WORK / f"host_{host.name}"
    _keygen(key)
    log = (WORK / f"sshd_{host.name}.log").open("w")
    # Inside the host's own mount namespace, root's shell start-up files are empty, as on a
    # server: this machine's (a Python toolchain's init) would dominate every session's cost.
    sshd = (f"for f in /root/.bashrc /root/.profile; do [ -e $f ] && mount --bind "
            f"{WORK}/empty $f; done; exec {SSHD} -D -e -f {WORK}/sshd_config -h {key} "
            f"-o ListenAddress={host.address}")
    subprocess.Popen(
        ["ip", "netns", "exec", host.name, "unshare", "--pid", "--fork", "--kill-child",
         "--mount", "--propagation", "private", "--mount-proc", "sh", "-c", sshd],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    public = (WORK / f"host_{host.name}.pub").read_text(encoding="utf-8").split()
    return f"{host.address} {public[0]} {public[1]}\n"


def _write_inventory(hosts: list[BenchHost]) -> None:
    lines = ["cloud: sdbench", "defaults:", "  ssh:", "    user: root",
             f"    key: {WORK}/id_ed25519", f"    known_hosts: {WORK}/known_hosts",
             "    connect_timeout: 10", "    command_timeout: 30", "hosts:"]
    lines += [f"  {h.name}: {{address: {h.address}, roles: [compute]}}" for h in hosts]
    (WORK / "inventory.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ini = ["[bench]"] + [f"{h.name} ansible_host={h.address}" for h in hosts]
    (WORK / "hosts.ini").write_text("\n".join(ini) + "\n", encoding="utf-8")


def _wait_listening(host: BenchHost) -> None:
    def listening() -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex((host.address, 22)) == 0

    try:
        poll(listening, timeout=30, interval=0.05, max_interval=0.5,
             description=f"sshd of {host.name} listening")
    except WaitTimeout as exc:
        raise LabError(str(exc)) from None


def _namespaces() -> list[str]:
    listing = _ip("netns", "list", check=False).stdout.split("\n")
    return [line.split()[0] for line in listing if line.startswith(PREFIX)]


def down() -> None:
    """End every process in an sdbench-* namespace, delete the namespaces, the bridge and WORK."""
    for netns in _namespaces():
        pids = _ip("netns", "pids", netns, check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                continue
    namespaces = _namespaces()
    if namespaces:
        _batch([f"netns delete {netns}" for netns in namespaces])
    if _ip("link", "show", BRIDGE, check=False).returncode == 0:
        _ip("link", "delete", BRIDGE)
    if WORK.exists():
        shutil.rmtree(WORK)
