"""Users' and groups' numeric IDs on a host: read with ``getent``, changed in /etc/passwd and
/etc/group as the admin guide's "Recover from a UID/GID mismatch" does, and the files that still
carry an old ID handed to the right owner with ``find``.

Changing an ID here touches no file: that is how a mismatch arises (a host reinstalled, its
packages picking other IDs, its data or a shared file system keeping the old ones), and it works
while processes of the user still run, where ``usermod`` refuses.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from stackdrill.core.errors import InvalidValue
from stackdrill.core.params import word_list
from stackdrill.hosts.ssh import CommandResult, HostError
from stackdrill.hosts.target import Target

__all__ = ["Ids", "WalkFailed", "account_name", "account_names", "chown_command", "ids_in_use",
           "lookup_command", "owned_command", "parse_lookup", "read_ids", "run_walk",
           "set_ids_command", "unowned_command", "walk_failure"]

# Where find does not go: kernel and runtime file systems, whose entries are not files to own.
PRUNED = ("/proc", "/sys", "/dev", "/run")
# Nor into file systems that are not the host's own: network shares belong to their server
# (align the IDs there), pseudo file systems to the kernel.
FOREIGN_FSTYPES = ("nfs", "nfs4", "cifs", "smb3", "ceph", "glusterfs", "fuse.sshfs", "9p",
                   "proc", "sysfs", "cgroup", "cgroup2", "devtmpfs", "devpts", "mqueue",
                   "debugfs", "tracefs", "securityfs", "pstore", "bpf", "autofs", "configfs")
# What find and chown say of a file that vanished between the directory read and its use:
# a live host creates and deletes files all the time, and that is no failure of the walk.
VANISHED = re.compile(r"^(?:find|chown|chgrp): .*: No such file or directory$")


def account_name(text: str) -> str:
    """A user or group name as useradd accepts it (a parameter parser)."""
    name = text.strip()
    if not name or not all(ch.isalnum() or ch in "._-" for ch in name) or name[0] == "-":
        raise InvalidValue(f"{text!r} is not a user or group name")
    return name


def account_names(text: str) -> list[str]:
    """Comma-separated user or group names (a parameter parser)."""
    return [account_name(name) for name in word_list(text)]


@dataclass(frozen=True)
class Ids:
    """The numeric IDs of the named users and groups that exist on a host."""

    users: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)


def read_ids(target: Target, users: Iterable[str], groups: Iterable[str]) -> Ids:
    result = target.run(lookup_command(users, groups), record=False, check=True)
    return parse_lookup(result.stdout)


def ids_in_use(target: Target, uids: Iterable[int], gids: Iterable[int]) -> list[str]:
    """The users and groups that already hold any of ``uids`` and ``gids`` on the host (the
    guide: "Choose UIDs or GIDs that are not in use for other users or groups")."""
    taken = read_ids(target, [str(uid) for uid in uids], [str(gid) for gid in gids])
    return sorted({*taken.users, *taken.groups})


def lookup_command(users: Iterable[str], groups: Iterable[str]) -> str:
    """getent for each name; missing names print nothing. Lines: ``u name:x:uid:...``."""
    parts = [f"getent passwd {shlex.quote(name)} | sed 's/^/u /'" for name in users]
    parts += [f"getent group {shlex.quote(name)} | sed 's/^/g /'" for name in groups]
    return "; ".join([*parts, "true"])


def parse_lookup(text: str) -> Ids:
    ids = Ids()
    for line in text.splitlines():
        kind, _, entry = line.partition(" ")
        fields = entry.split(":")
        if len(fields) < 3 or not fields[2].isdigit():
            continue
        if kind == "u":
            ids.users[fields[0]] = int(fields[2])
        elif kind == "g":
            ids.groups[fields[0]] = int(fields[2])
    return ids


def _rewrite(path: str, program: str) -> str:
    # cat > keeps the file's inode, owner and mode
    tmp = shlex.quote(f"{path}.stackdrill")
    return (f"awk -F: -v OFS=: {shlex.quote(program)} {path} > {tmp} && cat {tmp} > {path} "
            f"&& rm -f {tmp}")


def set_ids_command(users: Mapping[str, int | str],
                    groups: Mapping[str, tuple[int | str, int | str]]) -> str:
    """Set each user's UID, and each group's GID (``{name: (old, new)}``): /etc/group, and the
    primary group of the users in /etc/passwd that had the old GID. (Strings are placeholders,
    for a plan.)"""
    passwd = [f'$1=="{name}"{{$3={uid}}}' for name, uid in users.items()]
    passwd += [f'$4=="{old}"{{$4={new}}}' for old, new in groups.values() if old != new]
    group = [f'$1=="{name}"{{$3={new}}}' for name, (_, new) in groups.items()]
    commands = []
    if passwd:
        commands.append(_rewrite("/etc/passwd", " ".join([*passwd, "{print}"])))
    if group:
        commands.append(_rewrite("/etc/group", " ".join([*group, "{print}"])))
    return " && ".join(commands) or "true"


def _find(tests: str, action: str = "-print") -> str:
    pruned = " -o ".join([*(f"-path {path}" for path in PRUNED),
                          *(f"-fstype {fstype}" for fstype in FOREIGN_FSTYPES)])
    return f"find / \\( {pruned} \\) -prune -o {tests} {action}"


def walk_failure(result: CommandResult) -> str | None:
    """Why a ``find /`` walk failed, or None if it ran through: exit 1 with nothing but files
    that vanished during the walk is a walk that ran through."""
    if result.ok:
        return None
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    real = [line for line in errors if not VANISHED.match(line)]
    if result.exit_status == 1 and errors and not real:
        return None
    return real[0] if real else f"exited {result.exit_status}"


def run_walk(target: Target, command: str, timeout: float) -> CommandResult:
    """Run a ``find /`` command on ``target``; raise :class:`WalkFailed` on a real error."""
    result = target.run(command, timeout=timeout)
    failure = walk_failure(result)
    if failure is not None:
        raise WalkFailed(f"{target.name}: {command.split(' -prune', 1)[0]} ...: {failure}")
    return result


class WalkFailed(HostError):
    """A ``find /`` walk failed for another reason than files vanishing under it."""


def chown_command(kind: str, old: int, owner: str | int) -> str:
    """The guide's ``find / -uid 108 -exec chown nova {} \\;`` (``kind`` uid) or ``find / -gid
    120 -exec chgrp nova {} \\;`` (gid), leaving /proc, /sys, /dev and /run alone."""
    tool = {"uid": "chown", "gid": "chgrp"}[kind]
    return _find(f"-{kind} {int(old)}", f"-exec {tool} -h {shlex.quote(str(owner))} {{}} +")


def owned_command(kind: str, number: int) -> str:
    """List the files still owned by the ``uid`` or ``gid`` ``number`` (the guide's check)."""
    if kind not in ("uid", "gid"):
        raise InvalidValue(f"kind {kind!r}: expected uid or gid")
    return _find(f"-{kind} {int(number)}")


def unowned_command(paths: Iterable[str]) -> str:
    """Count the files under ``paths`` whose owner or group no longer exists, walking only the
    roots that exist. Each absent root is printed first as ``absent <root>``; the count is the
    last line; before it, each walk error is printed as ``error: <message>``, so a failed walk
    never reads as a count. A file that vanished below a root during the walk is no error; a
    root that vanished is one."""
    roots = list(paths)
    quoted = " ".join(shlex.quote(path) for path in roots)
    walk = (f"set --; for r in {quoted}; do if [ -e \"$r\" ]; then set -- \"$@\" \"$r\"; "
            f"else echo \"absent $r\"; fi; done; "
            f"if [ $# -gt 0 ]; then find \"$@\" \\( -nouser -o -nogroup \\) "
            f"-printf 'x\\n' 2>&1; fi")
    return f"{{ {walk}; }} | awk {shlex.quote(_unowned_filter(roots))}"


def _unowned_filter(roots: list[str]) -> str:
    """The awk program that counts ``x`` lines, passes ``absent`` lines on, drops ENOENT below a
    root, and turns every other line into ``error: ...``."""
    vanished_root = " || ".join(f"$0 == \"find: '{root}': No such file or directory\""
                                for root in roots) or "0"
    return ('$0 == "x" {n++; next} /^absent / {print; next} '
            f"/: No such file or directory$/ && !({vanished_root}) {{next}} "
            '{print "error: " $0} END {print n + 0}')
