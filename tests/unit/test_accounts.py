"""The UID/GID commands: the awk edits of /etc/passwd and /etc/group run for real on copies,
getent output parsed, and the account probe's section read."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from probes.account_ids import AccountIds
from stackdrill.accounts import (
    account_name,
    chown_command,
    owned_command,
    parse_lookup,
    set_ids_command,
)
from stackdrill.probe import ProbeFailed, ProbeOutput

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
    assert chown_command("uid", 108, "nova") == (
        r"find / \( -path /proc -o -path /sys -o -path /dev -o -path /run \) -prune -o "
        r"-uid 108 -exec chown -h nova {} +")
    assert chown_command("gid", 120, "nova").endswith("-gid 120 -exec chgrp -h nova {} +")
    assert owned_command("uid", 108).endswith("-uid 108 -print")
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
    assert values == {"user:libvirt-qemu/uid": 64055, "group:kvm/gid": 110, "files/unowned": 3}
    assert probe.problems(values) == [
        "3 files under /var/lib/nova, /var/lib/libvirt, /etc/nova, /etc/libvirt, "
        "/var/log/nova, /var/log/libvirt belong to no user or group"]
    assert probe.problems({**values, "files/unowned": 0}) == []
    with pytest.raises(ProbeFailed):
        probe.parse(None, ProbeOutput("compute1", "g kvm:x:110:\n", "", 0))  # type: ignore[arg-type]
