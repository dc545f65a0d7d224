"""The UID/GID commands: the awk edits of /etc/passwd and /etc/group run for real on copies,
getent output parsed, and the account probe's section read."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from stackdrill.builtin.probes.account_ids import AccountIds
from stackdrill.builtin.recovery.align_ids import AlignIds

from stackdrill.api._probe import ProbeFailed, ProbeOutput
from stackdrill.api._runbook import RecoveryFailed
from stackdrill.hostkit.accounts import (
    Ids,
    account_name,
    chown_command,
    owned_command,
    parse_lookup,
    set_ids_command,
    unowned_command,
    walk_failure,
)
from stackdrill.hosts.ssh import CommandResult
from stackdrill.hosts.target import CommandFailed

PASSWD = """\
root:x:0:0:root:/root:/bin/bash
libvirt-qemu:x:64055:110:Libvirt Qemu,,,:/var/lib/libvirt:/usr/sbin/nologin
nova:x:108:120::/var/lib/nova:/bin/sh
someone:x:1000:1000::/home/someone:/bin/bash
"""
GROUP = """\
root:x:0:
kvm:x:110:
nova:x:120:
libvirt:x:109:nova
"""


def edit(tmp_path: Path, command: str) -> tuple[str, str]:
    """Run a command written for /etc on copies of passwd and group under tmp_path."""
    (tmp_path / "passwd").write_text(PASSWD)
    (tmp_path / "group").write_text(GROUP)
    subprocess.run(["sh", "-c", command.replace("/etc/", f"{tmp_path}/")], check=True)
    return (tmp_path / "passwd").read_text(), (tmp_path / "group").read_text()


def test_set_ids_changes_only_the_named_ids_and_the_primary_groups(tmp_path: Path) -> None:
    passwd, group = edit(tmp_path, set_ids_command({"libvirt-qemu": 65055},
                                                   {"kvm": (110, 1110)}))
    assert passwd.splitlines() == [
        "root:x:0:0:root:/root:/bin/bash",
        "libvirt-qemu:x:65055:1110:Libvirt Qemu,,,:/var/lib/libvirt:/usr/sbin/nologin",
        "nova:x:108:120::/var/lib/nova:/bin/sh",
        "someone:x:1000:1000::/home/someone:/bin/bash",
    ]
    assert group.splitlines() == ["root:x:0:", "kvm:x:1110:", "nova:x:120:", "libvirt:x:109:nova"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["group", "passwd"]


def test_set_ids_back_is_the_original(tmp_path: Path) -> None:
    edit(tmp_path, set_ids_command({"nova": 112}, {"nova": (120, 1120)}))
    subprocess.run(["sh", "-c", set_ids_command({"nova": 108}, {"nova": (1120, 120)})
                    .replace("/etc/", f"{tmp_path}/")], check=True)
    assert (tmp_path / "passwd").read_text() == PASSWD
    assert (tmp_path / "group").read_text() == GROUP


def test_getent_output_is_parsed_and_missing_names_are_absent() -> None:
    ids = parse_lookup("u libvirt-qemu:x:64055:110:Libvirt Qemu,,,:/var/lib/libvirt:/x\n"
                       "g kvm:x:110:\ng libvirt:x:109:nova,someone\n")
    assert ids.users == {"libvirt-qemu": 64055}
    assert ids.groups == {"kvm": 110, "libvirt": 109}


def test_find_commands_follow_the_guide_and_skip_kernel_file_systems() -> None:
    chown = chown_command("uid", 108, "nova")
    assert chown.startswith(r"find / \( -path /proc -o -path /sys -o -path /dev -o -path /run ")
    assert chown.endswith(r"\) -prune -o -uid 108 -exec chown -h nova {} +")
    assert owned_command("gid", 120).endswith(r"\) -prune -o -gid 120 -print")
    with pytest.raises(ValueError):
        owned_command("name", 1)


@pytest.mark.parametrize("bad", ["", "a b", "x;rm", "-u", "nova'"])
def test_account_names_are_checked(bad: str) -> None:
    with pytest.raises(ValueError):
        account_name(bad)


def test_the_probe_reads_ids_and_unowned_files() -> None:
    probe = AccountIds()
    output = ProbeOutput("compute1", "u libvirt-qemu:x:64055:110::/var/lib/libvirt:/x\n"
                         "g kvm:x:110:\nunowned 3\n", "", 0)
    values = probe.parse(None, output)  # type: ignore[arg-type]
    assert values == {"user:libvirt-qemu/uid": 64055, "group:kvm/gid": 110, "files/unowned": 3,
                      "files/roots_absent": []}
    assert probe.problems(values) == [
        "3 files under /var/lib/nova, /var/lib/libvirt, /etc/nova, /etc/libvirt, "
        "/var/log/nova, /var/log/libvirt belong to no user or group"]
    assert probe.problems({**values, "files/unowned": 0}) == []
    with pytest.raises(ProbeFailed):
        probe.parse(None, ProbeOutput("compute1", "g kvm:x:110:\n", "", 0))  # type: ignore[arg-type]


# -- find / on a live host ------------------------------------------------------------------

VANISHED_STDERR = "find: '/root/.local': No such file or directory\n"


class WalkTarget:
    """A host whose ``find /`` walks end as recorded: ``(exit status, stdout, stderr)`` in turn,
    with Target.run's ``check`` semantics."""

    name = "compute1"

    def __init__(self, *results: tuple[int, str, str]) -> None:
        self.results = list(results)
        self.commands: list[str] = []

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True) -> CommandResult:
        self.commands.append(command)
        status, out, err = self.results.pop(0)
        result = CommandResult("compute1", command, status, out, err, 0.0, 0.1)
        if check and not result.ok:
            raise CommandFailed(result)
        return result


def aligner(target: WalkTarget) -> AlignIds:
    recovery = AlignIds(target, {})  # type: ignore[arg-type]
    recovery.found = Ids(users={"libvirt-qemu": 65055}, groups={"kvm": 1110})
    recovery.wanted = Ids(users={"libvirt-qemu": 64055}, groups={"kvm": 110})
    return recovery


def test_a_file_vanishing_during_the_walk_is_no_failure() -> None:
    target = WalkTarget((1, "", VANISHED_STDERR), (0, "", ""))
    aligner(target).chown()
    assert len(target.commands) == 2  # the gid pass ran too


def test_a_real_error_during_the_walk_fails_the_step() -> None:
    target = WalkTarget((1, "", VANISHED_STDERR + "chown: changing ownership of '/x': "
                                "Read-only file system\n"))
    with pytest.raises(RecoveryFailed, match="Read-only file system"):
        aligner(target).chown()


def test_a_walk_killed_by_a_signal_fails_even_without_a_message() -> None:
    result = CommandResult("h", "find /", 137, "", "", 0.0, 0.1)
    assert walk_failure(result) == "exited 137"


def test_verify_lists_what_still_carries_an_old_id_despite_vanished_files() -> None:
    target = WalkTarget((1, "/var/lib/nova/instances/disk\n", VANISHED_STDERR), (0, "", ""))
    with pytest.raises(RecoveryFailed, match="1 files still use an old ID"):
        aligner(target).verify()


def test_verify_fails_when_the_walk_itself_fails() -> None:
    """An empty listing from a walk that failed proves nothing."""
    target = WalkTarget((2, "", "find: invalid expression\n"))
    with pytest.raises(RecoveryFailed, match="invalid expression"):
        aligner(target).verify()


def test_find_stays_on_the_hosts_own_file_systems() -> None:
    command = owned_command("uid", 65055)
    assert "-fstype nfs -o" in command and "-path /proc" in command
    assert command.index("-prune") < command.index("-uid 65055")


def run_unowned(tmp_path: Path, paths: list[str], find_stub: str | None = None) -> str:
    env = None
    if find_stub is not None:
        stub = tmp_path / "bin/find"
        stub.parent.mkdir()
        stub.write_text(f"#!/bin/sh\n{find_stub}\n")
        stub.chmod(0o755)
        env = {"PATH": f"{stub.parent}:/usr/bin:/bin"}
    done = subprocess.run(["sh", "-c", unowned_command(paths)], capture_output=True, text=True,
                          env=env, check=True)
    return done.stdout


def test_unowned_files_are_counted_by_the_real_find(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / name).write_text("")
    if os.geteuid() == 0:
        os.chown(tmp_path / "a", 64999, 0)  # no user has that UID
        expected = "1"
    else:
        expected = "0"
    assert run_unowned(tmp_path, [str(tmp_path), "/no/such/dir"]).splitlines() == [
        "absent /no/such/dir", expected]


def test_a_failed_walk_is_never_read_as_a_count(tmp_path: Path) -> None:
    out = run_unowned(tmp_path, [str(tmp_path)], find_stub=(
        f"echo x; echo \"find: '{tmp_path}/x': Permission denied\" >&2; exit 1"))
    probe = AccountIds()
    with pytest.raises(ProbeFailed, match="Permission denied"):
        probe.parse(None, ProbeOutput("compute1", "".join(  # type: ignore[arg-type]
            f"unowned {line}\n" for line in out.splitlines()), "", 0))


def test_a_root_that_is_gone_is_recorded_never_read_as_no_unowned_files(tmp_path: Path) -> None:
    """A deleted /var/lib/nova must not read as a healthy 0: the probe names the absent roots,
    so a root that disappears deviates from the verified state."""
    (tmp_path / "here").mkdir()
    gone = str(tmp_path / "gone")
    out = run_unowned(tmp_path, [str(tmp_path / "here"), gone])
    assert out.splitlines() == [f"absent {gone}", "0"]
    values = AccountIds().parse(None, ProbeOutput(  # type: ignore[arg-type]
        "compute1", "".join(f"unowned {line}\n" for line in out.splitlines()), "", 0))
    assert values == {"files/unowned": 0, "files/roots_absent": [gone]}


def test_every_root_present_reads_as_none_absent(tmp_path: Path) -> None:
    out = run_unowned(tmp_path, [str(tmp_path)])
    values = AccountIds().parse(None, ProbeOutput(  # type: ignore[arg-type]
        "compute1", "".join(f"unowned {line}\n" for line in out.splitlines()), "", 0))
    assert values == {"files/unowned": 0, "files/roots_absent": []}


def test_a_file_vanishing_below_a_root_is_tolerated_but_a_root_vanishing_is_not(
        tmp_path: Path) -> None:
    root = tmp_path / "nova"
    root.mkdir()
    (tmp_path / "1").mkdir()
    (tmp_path / "2").mkdir()
    below = run_unowned(tmp_path / "1", [str(root)], find_stub=(
        f"echo x; echo \"find: '{root}/instances/x': No such file or directory\" >&2; exit 1"))
    assert below.splitlines() == ["1"]
    itself = run_unowned(tmp_path / "2", [str(root)], find_stub=(
        f"echo \"find: '{root}': No such file or directory\" >&2; exit 1"))
    assert itself.splitlines() == [f"error: find: '{root}': No such file or directory", "0"]
