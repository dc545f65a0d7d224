"""A scale lab of lightweight hosts for benchmarks: one network namespace per host, each with its
own PID namespace and /proc and an sshd, on the bridge ``sdbench0`` (172.31.80.0/22).

Nothing here touches the main lab (bridge sdlab0, 172.31.77.0/24, netns sdlab-*). Host keys, the
client key, known_hosts and an inventory are generated into ``WORK``; ``down`` removes all of it,
ends the sshds it started (every process in an ``sdbench-*`` namespace) and the SSH clients left
holding connections under ``WORK`` (ansible's ControlPersist masters), and returns only when the
kernel no longer lists any of its namespaces, veths or bridge, so that ``up`` can build again at
once. ``up`` builds only on an empty slate and ``down`` checks what it removed; either says what
is left in one line (:class:`LabError`) instead of letting the next build fail on it. ``lab``
pairs them for one size.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stackdrill.core.waiting import WaitTimeout, poll

BRIDGE = "sdbench0"
SUBNET = ipaddress.ip_network("172.31.80.0/22")
GATEWAY = "172.31.80.1/22"
PREFIX = "sdbench-"
WORK = Path("/run/sdbench-lab")
SSHD = "/usr/sbin/sshd"
# The host side of host N's veth pair (its peer is eth0 inside the namespace).
VETH = re.compile(r"sdb[0-9]+")
# How long the kernel may take to stop listing what the teardown deleted, and the lab's
# processes to end.
TEARDOWN_TIMEOUT = 30.0
PROCESS_TIMEOUT = 15.0
# ``ip -batch``'s report of a failed line, after what the command itself printed.
_FAILED_LINE = re.compile(r"Command failed (\S+):(\d+)")

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


@dataclasses.dataclass(frozen=True)
class BenchHost:
    name: str
    address: str

    @property
    def veth(self) -> str:
        """The host side of its veth pair: ``sdbench-7`` has ``sdb7``."""
        return "sdb" + self.name.removeprefix(PREFIX)


@dataclasses.dataclass(frozen=True)
class LabObjects:
    """Objects of the scale lab: network namespaces and veths (host side) by name, whether the
    bridge and the ``WORK`` files are among them."""

    namespaces: tuple[str, ...] = ()
    veths: tuple[str, ...] = ()
    bridge: bool = False
    files: bool = False

    @property
    def network(self) -> bool:
        return bool(self.namespaces or self.veths or self.bridge)

    @property
    def empty(self) -> bool:
        return not self.network and not self.files

    def describe(self) -> str:
        """One line: ``namespaces sdbench-0, sdbench-1, sdbench-2 and 7 more; veth sdb0; the
        bridge sdbench0``, or ``nothing``."""
        parts = [_names("namespace", self.namespaces), _names("veth", self.veths),
                 f"the bridge {BRIDGE}" if self.bridge else "", str(WORK) if self.files else ""]
        return "; ".join(part for part in parts if part) or "nothing"


def _names(kind: str, names: Sequence[str]) -> str:
    if not names:
        return ""
    shown = ", ".join(names[:3])
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return f"{kind}{'s' if len(names) > 1 else ''} {shown}{more}"


def address(index: int) -> str:
    return str(SUBNET.network_address + 10 + index)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def _batch(lines: list[str], netns: str | None = None, *, force: bool = False) -> list[str]:
    """Run ``lines`` through ``ip -batch``. Without ``force`` the first failing line ends it and
    raises :class:`LabError` naming that line and what ip said of it; with ``force`` every line
    runs and the failures are returned, one string each."""
    args = ["ip", *(["-n", netns] if netns else []), *(["-force"] if force else []),
            "-batch", "-"]
    done = subprocess.run(args, input="\n".join(lines) + "\n", capture_output=True, text=True,
                          check=False)
    if done.returncode == 0:
        return []
    errors = batch_errors(lines, done.stderr) or [f"exit status {done.returncode}"]
    if force:
        return errors
    raise LabError(f"ip -batch failed: {'; '.join(errors)}")


def batch_errors(lines: list[str], stderr: str) -> list[str]:
    """Each failed line of an ``ip -batch`` run, from its standard error: ip prints what the
    command said (``RTNETLINK answers: File exists``), then ``Command failed -:5``; this gives
    ``line 5 `link add sdb0 ...`: RTNETLINK answers: File exists``."""
    errors: list[str] = []
    said: list[str] = []
    for text in (line.strip() for line in stderr.splitlines()):
        failed = _FAILED_LINE.fullmatch(text)
        if failed is None:
            said += [text] if text else []
            continue
        number = int(failed.group(2))
        command = lines[number - 1] if 0 < number <= len(lines) else "?"
        errors.append(f"line {number} `{command}`: {'; '.join(said) or 'failed'}")
        said = []
    return errors + said


def _check_free() -> None:
    used = _ip("-br", "-4", "addr").stdout
    for line in used.splitlines():
        for word in line.split()[2:]:
            net = ipaddress.ip_interface(word).network
            if net.overlaps(SUBNET) and not line.startswith(BRIDGE):
                raise LabError(f"{SUBNET} overlaps {word} on {line.split()[0]}; not building")


@contextlib.contextmanager
def lab(count: int) -> Iterator[list[BenchHost]]:
    """One size of a benchmark: build ``count`` hosts on an empty slate, yield them, then tear
    them down and verify it (:func:`down` with the hosts built), whether the body raised or not.
    An error of the build or the body wins; a failed teardown after it is added as a note. A
    slate that is not empty is refused before anything is built or removed."""
    require_empty(f"before building {count} hosts")
    hosts: list[BenchHost] = []
    with neighbour_room(count):
        try:
            hosts = up(count)
            yield hosts
        except BaseException as exc:
            try:
                down(hosts)
            except LabError as teardown:
                exc.add_note(f"then the teardown failed: {teardown}")
            raise
        down(hosts)


NEIGHBOUR = Path("/proc/sys/net/ipv4/neigh/default")
"""The client's ARP table. At the kernel's defaults (``gc_thresh2`` 512, ``gc_thresh3`` 1024)
a client that talks to 1,000 hosts on one segment overflows it ("neighbor table overflow"):
at 1,000 hosts the cold snapshot stalled after 513 connections."""


@contextlib.contextmanager
def neighbour_room(count: int) -> Iterator[None]:
    """Room in this machine's ARP table for ``count`` hosts on the bridge, as an operator gives
    a host that manages a thousand others (``gc_thresh1..3`` at least 2, 4 and 8 per host); the
    values before are put back after."""
    names = ("gc_thresh1", "gc_thresh2", "gc_thresh3")
    before = {name: int((NEIGHBOUR / name).read_text()) for name in names}
    wanted = {name: max(before[name], factor * count)
              for name, factor in zip(names, (2, 4, 8), strict=True)}
    for name in reversed(names):  # the hard limit first: each must stay under the next
        (NEIGHBOUR / name).write_text(str(wanted[name]))
    try:
        yield
    finally:
        for name in names:
            (NEIGHBOUR / name).write_text(str(before[name]))


def up(count: int) -> list[BenchHost]:
    """Build ``count`` hosts and wait for their sshd. The slate must be empty (see
    :func:`require_empty`; :func:`down` empties it)."""
    if count < 1 or count > 1000:
        raise LabError(f"host count must be 1..1000, got {count}")
    require_empty(f"before building {count} hosts")
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
    for host in hosts:
        veth = host.veth
        lines += [f"netns add {host.name}",
                  f"link add {veth} type veth peer name eth0 netns {host.name}",
                  f"link set {veth} master {BRIDGE}", f"link set {veth} up"]
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


def veths(listing: str) -> list[str]:
    """The scale lab's veths (host side) in ``ip -br link`` output (``sdb3@if2 UP ...``)."""
    names = (line.split()[0].split("@")[0] for line in listing.splitlines() if line.split())
    return [name for name in names if VETH.fullmatch(name)]


def _veths() -> list[str]:
    return sorted(veths(_ip("-br", "link", check=False).stdout), key=lambda n: (len(n), n))


def _bridge_listed() -> bool:
    return _ip("link", "show", BRIDGE, check=False).returncode == 0


def present() -> LabObjects:
    """What of the scale lab exists now, as the kernel lists it, and whether ``WORK`` does."""
    return LabObjects(namespaces=tuple(_namespaces()), veths=tuple(_veths()),
                      bridge=_bridge_listed(), files=WORK.exists())


def require_empty(when: str) -> None:
    """Raise :class:`LabError` (one line) if anything of the scale lab exists: a build on it
    would fail on a name already taken (``ip -batch`` line 5, ``link add sdb0``)."""
    left = present()
    if not left.empty:
        raise LabError(f"the scale lab is not empty {when}: {left.describe()}; "
                       "`benchmarks/run --down` removes it")


def unfound(found: LabObjects, built: Sequence[BenchHost]) -> LabObjects:
    """What of the hosts ``built`` (and their bridge) a teardown did not find to remove."""
    return LabObjects(namespaces=tuple(h.name for h in built if h.name not in found.namespaces),
                      veths=tuple(h.veth for h in built if h.veth not in found.veths),
                      bridge=bool(built) and not found.bridge)


def teardown_commands(namespaces: list[str], links: list[str], bridge: bool) -> list[str]:
    """``ip -batch`` lines removing the scale lab's network: each veth by its host side (the
    kernel deletes a namespace's devices only once the namespace is freed, after ``netns
    delete`` returns, so a veth left to it may still exist when the next ``up`` adds it), then
    the namespaces and the bridge."""
    lines = [f"link delete {link}" for link in links if VETH.fullmatch(link)]
    lines += [f"netns delete {netns}" for netns in namespaces if netns.startswith(PREFIX)]
    if bridge:
        lines.append(f"link delete {BRIDGE}")
    return lines


def _pids(namespaces: list[str]) -> list[int]:
    pids = []
    for netns in namespaces:
        listed = _ip("netns", "pids", netns, check=False).stdout.split()
        pids += [int(pid) for pid in listed if pid.isdigit()]
    return pids


def end_clients(under: Path) -> None:
    """End the SSH clients whose command line names ``under`` (ansible's control masters)."""
    _kill(_clients(under))


def _clients(under: Path | None = None) -> list[int]:
    """SSH clients whose command line names ``under`` (default ``WORK``: ansible's
    ControlPersist masters)."""
    needle = str(under or WORK).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        # A ControlPersist master renames itself "ssh: <control path> [mux]".
        first = argv[0].decode(errors="replace")
        if (Path(first).name == "ssh" or first.startswith("ssh: ")) and any(
                needle in arg for arg in argv):
            found.append(int(entry.name))
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


def down(built: Sequence[BenchHost] = ()) -> LabObjects:
    """Remove the scale lab and verify it: end every process in an sdbench-* namespace and the
    SSH clients of ``WORK``; delete the veths, namespaces and bridge the kernel lists (every
    line is tried: one the kernel's own clean-up got to first fails harmlessly); wait until it
    lists none of them; remove ``WORK``. Returns what it found and removed.

    Raises :class:`LabError`, one line, when any of them is still listed at the deadline, or
    when ``built`` (the hosts of the size being torn down) names a namespace or veth that it
    did not find to remove: its listing and the build disagree."""
    _end_processes()
    found = present()
    errors: list[str] = []
    if found.network:
        errors = _batch(teardown_commands(list(found.namespaces), list(found.veths),
                                          found.bridge), force=True)
    _wait_removed(errors)
    if WORK.exists():
        shutil.rmtree(WORK)
    missing = unfound(found, built)
    if missing.network:
        raise LabError(f"the teardown of {len(built)} hosts found no {missing.describe()} to "
                       "remove, though it built them")
    return found


def _end_processes() -> None:
    _kill(_clients())
    namespaces = _namespaces()
    _kill(_pids(namespaces))
    try:
        poll(lambda: not _pids(namespaces), timeout=PROCESS_TIMEOUT, interval=0.05,
             max_interval=0.5, description="the scale lab's processes ended")
    except WaitTimeout as exc:
        raise LabError(str(exc)) from None


def _wait_removed(errors: list[str]) -> None:
    try:
        poll(lambda: not present().network, timeout=TEARDOWN_TIMEOUT, interval=0.05,
             max_interval=0.5, description="the scale lab's namespaces and links removed")
    except WaitTimeout:
        said = f"; ip said: {'; '.join(errors)}" if errors else ""
        left = dataclasses.replace(present(), files=False)
        raise LabError(f"the scale lab is not torn down: {left.describe()} still listed "
                       f"{TEARDOWN_TIMEOUT:g} s after deleting it{said}") from None
