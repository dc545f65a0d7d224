"""A probe's value means what its path says, and nothing more: a fact is printed only once the
command that establishes it has succeeded, and a command that fails is an error, not an empty
observation. Each probe's fragment runs here as the snapshot runs it (inside the host's batched
script, or alone for the cloud probe's per-host command), in a local ``sh`` whose ``PATH``
holds fake ``systemctl``, ``virsh``, ``ss`` and ``iscsiadm``."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any, cast

import pytest
from stackdrill.builtin.probes.iscsi_paths import IscsiPaths
from stackdrill.builtin.probes.libvirt_domains import LibvirtDomains
from stackdrill.builtin.probes.nova_db import NovaDatabase

from stackdrill.api._probe import Probe, ProbeFailed, ProbeOutput, batch_script, split_batch
from stackdrill.hosts.service import Service
from stackdrill.hosts.ssh import CommandResult
from stackdrill.hosts.target import Target

MARKER = "@@unit-batch"
VIRSH_LIST = """\
 Id   Name                State
-------------------------------------------
 1    instance-00000001   running
"""


class Host:
    """What the probes ask of a target: its name and its services, systemd units of their own
    names."""

    name = "compute1"

    def service(self, name: str) -> Service:
        return Service.for_unit(cast(Target, self), name)


def fake_commands(directory: Path, **scripts: str) -> dict[str, str]:
    """An environment whose PATH finds each given command first, as a small sh script."""
    directory.mkdir(exist_ok=True)
    for name, body in scripts.items():
        path = directory / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    return {**os.environ, "PATH": f"{directory}:{os.environ['PATH']}"}


def observe(probe: Probe, env: dict[str, str]) -> dict[str, Any]:
    """The probe's values from one batched run of its fragment."""
    target = cast(Target, Host())
    fragment = probe.command(target)
    assert fragment is not None
    ran = subprocess.run(["sh", "-c", batch_script([fragment], MARKER)], env=env,
                         capture_output=True, text=True, timeout=30, check=False)
    [section] = split_batch(ran.stdout, ran.stderr, 1, MARKER)
    assert section is not None, ran
    return probe.parse(target, ProbeOutput("compute1", section.stdout, section.stderr,
                                           section.exit_status))


def test_libvirt_answers_when_virsh_lists_its_domains(tmp_path: Path) -> None:
    env = fake_commands(tmp_path, systemctl="exit 0", virsh=f"cat <<'EOF'\n{VIRSH_LIST}EOF")
    values = observe(LibvirtDomains(), env)
    assert values["libvirt/answering"] is True
    assert values["domain:instance-00000001/state"] == "running"


def test_libvirt_is_not_answering_when_virsh_fails(tmp_path: Path) -> None:
    """libvirtd's unit is active but virsh gets no answer: nothing says it answered."""
    env = fake_commands(tmp_path, systemctl="exit 0",
                        virsh="echo 'error: failed to connect to the hypervisor' >&2; exit 1")
    values = observe(LibvirtDomains(), env)
    assert values["libvirt/answering"] is False
    assert LibvirtDomains().problems(values) == ["libvirtd is not answering"]


def test_virsh_is_not_asked_while_libvirtd_is_inactive(tmp_path: Path) -> None:
    asked = tmp_path / "asked"
    env = fake_commands(tmp_path / "bin", systemctl="exit 3", virsh=f"touch {asked}")
    assert observe(LibvirtDomains(), env)["libvirt/answering"] is False
    assert not asked.exists()


def test_iscsi_paths_are_an_error_when_ss_fails(tmp_path: Path) -> None:
    """No connection listed because ``ss`` failed is not "no connection"."""
    env = fake_commands(tmp_path, ss="echo 'ss: cannot open netlink socket' >&2; exit 1",
                        iscsiadm="exit 21")
    with pytest.raises(ProbeFailed, match="cannot open netlink socket"):
        observe(IscsiPaths(), env)


def test_iscsi_paths_count_the_connections_per_portal(tmp_path: Path) -> None:
    rows = ("0 0 192.0.2.11:51000 192.0.2.20:3260\\n"
            "0 0 192.0.2.11:51001 192.0.2.20:3260\\n")
    env = fake_commands(tmp_path, ss=f"printf '{rows}'", iscsiadm="exit 21")
    assert observe(IscsiPaths(), env) == {"iscsi_portal:192.0.2.20:3260/connections": 2}


class LocalHost:
    """A target whose commands run in a local ``sh`` with the given environment."""

    name = "compute1"

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def service(self, name: str) -> Service:
        return Service.for_unit(cast(Target, self), name)

    def run(self, command: str, *, record: bool = True,
            timeout: float | None = None) -> CommandResult:
        done = subprocess.run(["sh", "-c", command], env=self.env, capture_output=True,
                              text=True, timeout=30, check=False)
        return CommandResult(self.name, command, done.returncode, done.stdout, done.stderr,
                             time.time(), 0.0)


UUID = "51aa7634-1a4f-4d6e-9389-850f8ef20a48"
ACTIVE = [{"uuid": UUID, "host": "compute1", "vm_state": "active"}]


@pytest.mark.parametrize(("systemctl", "virsh", "seen"), [
    ("exit 0", f"echo {UUID}", {"nova_only": [], "virsh_only": []}),
    ("exit 3", "exit 0", {"nova_only": "libvirtd down", "virsh_only": "libvirtd down"}),
    ("exit 0", "echo 'error: failed to connect to the hypervisor' >&2; exit 1",
     {"nova_only": "virsh not answering", "virsh_only": "virsh not answering"}),
    ("exit 0", f"echo {UUID}; echo 'error: list cut short' >&2; exit 1",
     {"nova_only": "virsh not answering", "virsh_only": "virsh not answering"}),
], ids=["agrees", "libvirtd down", "virsh fails", "virsh fails half way"])
def test_nova_agreement_says_libvirtd_down_only_when_it_is(
        tmp_path: Path, systemctl: str, virsh: str, seen: dict[str, Any]) -> None:
    """A virsh that fails while libvirtd's unit is active is not "libvirtd down", and what it
    printed before failing is not a list of domains."""
    host = LocalHost(fake_commands(tmp_path, systemctl=systemctl, virsh=virsh))
    values = NovaDatabase()._agreement(cast(Target, host), ACTIVE)
    assert values == {f"agreement:compute1/{key}": value for key, value in seen.items()}
