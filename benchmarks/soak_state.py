"""What a drill can leave behind on the lab, read before the soak's first pass (the baseline) and
after every drill, and the leaks: every difference between the two.

Read on each host in one command (:func:`host_command`): its iptables rules (every table), its
mounts (``/proc/mounts``), its systemd services and sockets (state and unit-file state), the
runtime drop-ins stackdrill writes (``/run/systemd/system/*.d/stackdrill-*``), the processes
faults start (those whose environment carries stackdrill's fault tag, ``STACKDRILL_FAULT``, as
``cpu_pressure`` and ``memory_pressure`` start stress-ng; any stress-ng; any process stopped
with SIGSTOP) and the files faults name in their journal entries (``disk_fill``'s tagged file).
On the drill host itself, the iptables rules that concern the lab (its bridge, its subnet, or a
stackdrill tag); and the journal entries left pending, in the run's journal and in its mirror
on the first controller.

Everything here but :func:`read_state` and its readers is pure: parsing and comparing text.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
import subprocess
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackdrill.core.errors import StackdrillError
from stackdrill.hostkit.stress import TAG_VARIABLE

if TYPE_CHECKING:
    from stackdrill.engine.journal import Journal
    from stackdrill.hosts.target import Target, Targets

DRILL_HOST = "drill host"
"""The host name a leak on the machine that runs the drills is filed under."""

ENVIRONMENT = {"baseline": "STACKDRILL_SOAK_BASELINE", "leaks": "STACKDRILL_SOAK_LEAKS",
               "inventory": "STACKDRILL_SOAK_INVENTORY", "journal": "STACKDRILL_SOAK_JOURNAL"}
"""The variables that hand the soak's plugin its inputs (``soak_plugin``)."""

MARK = "### soak:"
SECTIONS = ("iptables", "mounts", "units", "unit-files", "drop-ins", "tagged", "ps", "files")
TABLES = ("filter", "nat", "mangle", "raw")
KINDS = ("iptables", "mount", "unit", "drop-in", "process", "file", "journal")

IGNORED_MOUNTS = ("/run/user/", "/run/credentials/", "/proc/sys/fs/binfmt_misc")
"""Mounts that come and go with logins and services by themselves, under these paths."""

IGNORED_UNITS = re.compile(
    r"^(user@|user-runtime-dir@|systemd-(hostnamed|timedated|localed)\.service$"
    r"|packagekit\.service$)|@\d+-")
"""Units that stop by themselves: a login's user manager, the bus-activated daemons that exit
when idle, and the per-connection instances of a socket (``ssh@3-<local>-<peer>.service``)."""

_TAGGED = (f"for e in $(grep -lsaz '^{TAG_VARIABLE}=' /proc/[0-9]*/environ); do "
           "p=${e#/proc/}; p=${p%/environ}; "
           f"t=$(tr '\\0' '\\n' < $e 2>/dev/null | sed -n 's/^{TAG_VARIABLE}=//p' | head -n 1); "
           'echo "$p $(cat /proc/$p/comm 2>/dev/null) $t"; done')
_PS = "ps -e -o pid=,stat=,comm= | awk '$2 ~ /^T/ || $3 ~ /^stress-ng/'"


class SoakError(StackdrillError):
    """The soak cannot start or go on; one line."""


@dataclass(frozen=True, order=True)
class Leak:
    """One thing a drill left behind: on which host, of which kind, and what it is."""

    host: str
    kind: str
    what: str

    def as_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Leak:
        return cls(str(data["host"]), str(data["kind"]), str(data["what"]))


# -- reading one host -------------------------------------------------------------------------
def host_command(files: Sequence[str] = ()) -> str:
    """The one command that prints every section of a host's state, each after its mark."""
    checks = " ".join(shlex.quote(path) for path in files)
    body = {
        "iptables": f"for t in {' '.join(TABLES)}; do iptables -t $t -S 2>/dev/null "
                    "| sed \"s/^/$t /\"; done",
        "mounts": "cat /proc/mounts",
        "units": "systemctl list-units --all --type=service,socket --no-legend --plain "
                 "--no-pager 2>/dev/null",
        "unit-files": "systemctl list-unit-files --type=service,socket --no-legend "
                      "--no-pager 2>/dev/null",
        "drop-ins": "ls -1d /run/systemd/system/*.d/stackdrill-* 2>/dev/null",
        "tagged": _TAGGED,
        "ps": _PS,
        "files": f"for f in {checks}; do [ -e \"$f\" ] && echo \"$f\"; done" if files else "",
    }
    # each mark on a line of its own, even after output without a last newline
    return "; ".join(f"printf '\\n{MARK}{name}\\n'" + (f"; {body[name]}" if body[name] else "")
                     for name in SECTIONS) + "; true"


def split_sections(text: str) -> dict[str, list[str]]:
    """The output of :func:`host_command`, as the non-empty lines of each section."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith(MARK):
            current = sections.setdefault(line[len(MARK):].strip(), [])
        elif current is not None and line.strip():
            current.append(line.rstrip())
    return sections


def _mounts(lines: Iterable[str]) -> list[str]:
    """``source target fstype options`` of each mount, less those that come and go by
    themselves."""
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 4 and not fields[1].startswith(IGNORED_MOUNTS):
            found.append(" ".join(fields[:4]))
    return found


def _units(units: Iterable[str], files: Iterable[str]) -> dict[str, dict[str, str]]:
    """Each service and socket: load state, active state, sub-state and unit-file state (a
    unit only in the unit files is not loaded, inactive)."""
    found: dict[str, dict[str, str]] = {}
    for line in units:
        fields = line.lstrip("●* ").split()
        if len(fields) >= 4:
            found[fields[0]] = {"load": fields[1], "active": fields[2], "sub": fields[3],
                                "file": ""}
    for line in files:
        fields = line.split()
        if len(fields) >= 2:
            unit = found.setdefault(fields[0], {"load": "not-loaded", "active": "inactive",
                                                "sub": "dead", "file": ""})
            unit["file"] = fields[1]
    return found


def _processes(tagged: Iterable[str], listed: Iterable[str]) -> dict[str, str]:
    """The processes faults start, by PID: tagged ones (``pid comm tag``), and from ``ps``
    (``pid stat comm``) the stopped ones and any stress-ng."""
    found: dict[str, str] = {}
    for line in listed:
        fields = line.split(None, 2)
        if len(fields) == 3:
            pid, stat, comm = fields
            state = f"stopped ({stat})" if stat.startswith("T") else f"running ({stat})"
            found[pid] = f"{comm} (pid {pid}) {state}"
    for line in tagged:
        fields = line.split()
        if len(fields) >= 2:
            pid, comm, tag = fields[0], fields[1], " ".join(fields[2:]) or "?"
            found[pid] = f"{found.get(pid, f'{comm} (pid {pid})')} tagged {tag}"
    return found


def host_state(text: str) -> dict[str, Any]:
    """A host's state from the output of :func:`host_command`."""
    sections = split_sections(text)
    missing = [name for name in SECTIONS if name not in sections]
    if missing:
        raise SoakError(f"the output has no section {', '.join(missing)}")
    return {"iptables": sections["iptables"], "mounts": _mounts(sections["mounts"]),
            "units": _units(sections["units"], sections["unit-files"]),
            "drop-ins": sections["drop-ins"],
            "processes": _processes(sections["tagged"], sections["ps"]),
            "files": sections["files"]}


def local_rules(listings: Mapping[str, str], bridge: str, subnet: str) -> list[str]:
    """The drill host's own rules (``iptables -t <table> -S`` of each table) that concern the
    lab: its bridge, its subnet (``172.31.77.``) or a stackdrill tag."""
    return [f"{table} {line.rstrip()}" for table, text in listings.items()
            for line in text.splitlines()
            if bridge in line or subnet in line or "stackdrill" in line]


# -- comparing --------------------------------------------------------------------------------
def _added_removed(before: Iterable[str], after: Iterable[str]) -> tuple[list[str], list[str]]:
    was, now = Counter(before), Counter(after)
    return sorted((now - was).elements()), sorted((was - now).elements())


def _rule_leaks(host: str, before: Iterable[str], after: Iterable[str]) -> list[Leak]:
    added, removed = _added_removed(before, after)
    tagged = " (stackdrill's tag)"
    return ([Leak(host, "iptables", f"added: {rule}{tagged if 'stackdrill' in rule else ''}")
             for rule in added] +
            [Leak(host, "iptables", f"removed: {rule}") for rule in removed])


def _mount_leaks(host: str, before: Iterable[str], after: Iterable[str]) -> list[Leak]:
    added, removed = _added_removed(before, after)
    return ([Leak(host, "mount", f"mounted: {line}") for line in added] +
            [Leak(host, "mount", f"unmounted: {line}") for line in removed])


def _waits_on_socket(unit: str, after: Mapping[str, Mapping[str, str]]) -> bool:
    """A socket-activated service that stopped while its socket listens is ready, not down."""
    socket = after.get(unit.removesuffix(".service") + ".socket")
    return unit.endswith(".service") and socket is not None and socket["active"] == "active"


def unit_changes(before: Mapping[str, Mapping[str, str]],
                 after: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Units held (their unit-file state changed: ``enabled -> disabled``), masked, or stopped
    (active before, not now), less the units that stop by themselves."""
    gone = {"load": "not-loaded", "active": "inactive", "sub": "dead", "file": ""}
    changes = []
    for unit in sorted(set(before) | set(after)):
        was, now = before.get(unit), after.get(unit, gone)
        if was is None:
            if "masked" in (now["load"], now["file"]):
                changes.append(f"{unit}: masked")
            continue
        if was["file"] and now["file"] != was["file"]:
            held = " (held)" if now["file"] == "disabled" else ""
            changes.append(f"{unit}: unit file {was['file']} -> {now['file'] or 'gone'}{held}")
        elif now["load"] == "masked" and was["load"] != "masked":
            changes.append(f"{unit}: masked")
        if (was["active"] == "active" and now["active"] != "active"
                and not IGNORED_UNITS.search(unit) and not _waits_on_socket(unit, after)):
            changes.append(f"{unit}: stopped: active ({was['sub']}) -> {now['active']} "
                           f"({now['sub']})")
    return changes


def host_leaks(host: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Leak]:
    """Every difference between a host's baseline and its state now."""
    leaks = _rule_leaks(host, before["iptables"], after["iptables"])
    leaks += _mount_leaks(host, before["mounts"], after["mounts"])
    leaks += [Leak(host, "unit", change)
              for change in unit_changes(before["units"], after["units"])]
    leaks += [Leak(host, "drop-in", path) for path in _added_removed(
        before["drop-ins"], after["drop-ins"])[0]]
    was: Mapping[str, str] = before["processes"]
    leaks += [Leak(host, "process", what) for pid, what in sorted(after["processes"].items())
              if was.get(pid) != what]
    leaks += [Leak(host, "file", f"still there: {path}")
              for path in _added_removed(before["files"], after["files"])[0]]
    return leaks


def leaks(baseline: Mapping[str, Any], now: Mapping[str, Any]) -> list[Leak]:
    """Every difference between the baseline and the state now, on every host the baseline
    read (a host unread now is an error of ``now``, not a leak), on the drill host's own
    rules, and in the journal (entries pending now and not then)."""
    found: list[Leak] = []
    for host, after in now["hosts"].items():
        before = baseline["hosts"].get(host)
        if before is not None:
            found += host_leaks(host, before, after)
    if baseline.get("local") is not None and now.get("local") is not None:
        found += _rule_leaks(DRILL_HOST, baseline["local"], now["local"])
    pending: Mapping[str, Mapping[str, str]] = now.get("journal") or {}
    found += [Leak(entry["host"], "journal", entry["what"])
              for entry_id, entry in sorted(pending.items(), key=lambda item: item[1]["what"])
              if entry_id not in (baseline.get("journal") or {})]
    return found


def baseline_leftovers(baseline: Mapping[str, Any]) -> list[Leak]:
    """What the baseline already holds of stackdrill's own marks (tagged rules, drop-ins,
    stopped, tagged or stress-ng processes, pending journal entries): a soak cannot see these
    come back."""
    empty: dict[str, Any] = {"iptables": [], "mounts": [], "units": {}, "drop-ins": [],
                             "processes": {}, "files": []}
    clean: dict[str, Any] = {"hosts": {host: empty for host in baseline["hosts"]},
                             "local": [] if baseline.get("local") is not None else None,
                             "journal": {}}
    return [leak for leak in leaks(clean, baseline)
            if leak.kind in ("drop-in", "process", "file", "journal")
            or "stackdrill" in leak.what]


# -- reading the lab --------------------------------------------------------------------------
def fault_files(journal: Path) -> dict[str, list[str]]:
    """The files the run's faults named in their journal entries (``undo.file``, as
    ``disk_fill``'s tagged file), by host."""
    found: dict[str, list[str]] = {}
    try:
        lines = journal.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return found
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a torn last line
        undo = record.get("undo") if isinstance(record, dict) else None
        path = undo.get("file") if isinstance(undo, dict) else None
        if record.get("event") == "armed" and isinstance(path, str) and path.startswith("/"):
            found.setdefault(str(record.get("target")), []).append(path)
    return found


def pending_entries(journal: Journal) -> dict[str, dict[str, str]]:
    """The journal's pending entries (its file and its mirror together), by id: the host each
    targets and what it is."""
    local = {entry.id for entry in journal.pending(local_only=True)}
    where = journal.mirror.where if journal.mirror is not None else ""
    return {entry.id: {"host": entry.target,
                       "what": f"{entry.kind} {entry.fault} pending since "
                               f"{since(entry.armed_at)} (run {entry.run[:8]}, "
                               f"{'the run journal' if entry.id in local else where})"}
            for entry in journal.pending()}


def _read_host(target: Target, files: Sequence[str]) -> dict[str, Any]:
    result = target.run(host_command(files), timeout=120, record=False, retry_on_disconnect=True)
    return host_state(result.stdout)


def read_local(bridge: str, subnet: str,
               run: Callable[[list[str]], str] | None = None) -> list[str]:
    """The drill host's own iptables rules that concern the lab."""
    def iptables(argv: list[str]) -> str:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    read = run or iptables
    return local_rules({table: read(["iptables", "-t", table, "-S"]) for table in TABLES},
                       bridge, subnet)


def read_state(targets: Targets, journal: Journal | None, *, files: Mapping[str, list[str]],
               local: Callable[[], list[str]] | None) -> dict[str, Any]:
    """The state of every host (read in parallel), of the drill host's rules and of the
    journal; what could not be read is a one-line error in ``errors``."""
    hosts = list(targets)
    errors: list[str] = []
    state: dict[str, Any] = {"hosts": {}, "local": None, "journal": None, "errors": errors}
    with ThreadPoolExecutor(max_workers=max(len(hosts), 1)) as pool:
        futures = {t.name: pool.submit(_read_host, t, files.get(t.name, [])) for t in hosts}
    for name, future in futures.items():
        try:
            state["hosts"][name] = future.result()
        except (StackdrillError, OSError) as exc:
            errors.append(f"{name}: {one_line(exc)}")
    if local is not None:
        try:
            state["local"] = local()
        except (OSError, subprocess.CalledProcessError) as exc:
            errors.append(f"{DRILL_HOST}: iptables: {one_line(exc)}")
    if journal is not None:
        try:
            state["journal"] = pending_entries(journal)
        except StackdrillError as exc:
            errors.append(f"journal: {one_line(exc)}")
    return state


def since(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
