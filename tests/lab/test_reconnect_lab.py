"""The harness's own SSH connection lost in the middle of a drill, on the lab: an undo whose
host's sshd is killed under it, and a recovery whose host the harness cannot reach for 20 s,
both finish on a fresh connection, and the evidence says how many attempts that took.

The sshd kill goes through ``nsenter`` (:meth:`~stackdrill.lab.lab.Lab.in_host`), not SSH: it
kills the ``ssh`` unit's processes and every sshd process holding an established connection on
port 22 (the per-connection processes live in the login sessions' scopes), and systemd starts
sshd again by the unit's ``Restart=``. The cut is this machine's own iptables: a DROP rule on
OUTPUT to the host's address out of the lab bridge, and one on INPUT from it (the harness's
packets are this machine's own, so FORWARD never sees them, and the hosts still reach each
other across the bridge); both are removed in a ``finally``."""

from __future__ import annotations

import shlex
import threading
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from stackdrill.api import Fault
from stackdrill.api._registry import Registries, load_registries
from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.canary import CanaryWorkload
from stackdrill.engine.drill import Drill
from stackdrill.engine.journal import Journal
from stackdrill.hosts.target import Targets
from stackdrill.lab.lab import Lab
from stackdrill.lab.system import sh
from stackdrill.lab.topology import BRIDGE, host_by_name

HOST = "compute2"  # neither the controller (the cloud's API, the lock) nor the canaries' first
UNDO_SECONDS = 6
KILL_AFTER = 2.0
CUT_SECONDS = 20.0
TAG = "stackdrill-reconnect-lab"

# sshd as the host runs it: socket-activated (Ubuntu's default) or a service of its own
# (Debian's); the two conflict, so only the enabled one is started
START_SSHD = ("if systemctl is-enabled --quiet ssh.socket 2>/dev/null; then "
              "systemctl start ssh.socket; else systemctl start ssh.service; fi; true")
# every sshd of the host: the unit's (the listener), then each serving an established
# connection; a second later sshd is started again, as an operator's restart would
KILL_SSHD = ("systemctl kill --signal=KILL ssh.service; "
             "for pid in $(ss -Htnp state established '( sport = :22 )' "
             "| grep -o '\"sshd[^\"]*\",pid=[0-9]*' | grep -o '[0-9]*$' | sort -u); do "
             "kill -KILL $pid; done; sleep 1; " + START_SSHD)


class SlowUndo(Fault):
    """Leaves a marker file; its undo takes a few seconds before it removes it (idempotent: a
    second run removes nothing more)."""

    name = "slow_undo_marker"
    description = "a marker file, removed by an undo that takes a few seconds"

    def plan(self) -> list[str]:
        return ["touch /run/stackdrill-reconnect-<id>"]

    def prepare(self) -> dict[str, Any]:
        return {"marker": f"/run/stackdrill-reconnect-{uuid.uuid4().hex[:8]}"}

    def inject(self, facts: Mapping[str, Any]) -> None:
        self.target.run(f"touch {shlex.quote(facts['marker'])}", check=True)

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        marker = shlex.quote(facts["marker"])
        return f"{facts['marker']} is there" if self.target.run(f"test -e {marker}").ok \
            else None

    def undo(self, facts: Mapping[str, Any]) -> None:
        marker = shlex.quote(facts["marker"])
        self.target.run(f"sleep {UNDO_SECONDS}; rm -f {marker} && test ! -e {marker}",
                        check=True)


def lab_registries() -> Registries:
    found = load_registries()
    found.faults.register(SlowUndo)
    return found


@pytest.fixture
def drill(lab: Lab, canaries: CanaryWorkload, lab_targets: Targets, tmp_path: Path,
          cloud_access: CloudAccess) -> Iterator[Drill]:
    drill = Drill("reconnect", lab_targets, lab_registries(), Journal(tmp_path / "j.jsonl"),
                  cloud=cloud_access)
    drill.record_baseline(settle=180)
    try:
        yield drill
    finally:
        lab.in_host(HOST, START_SSHD, check=False)  # whatever the test did to sshd
        drill.undo_all()
        drill.close()


def reconnected(drill: Drill, command: str) -> list[str]:
    """The evidence of each recorded command containing ``command`` that needed a fresh
    connection."""
    return [text for name, text in drill.evidence.attachments
            if name.startswith("$ ") and command in text and "reconnected after" in text]


def test_an_undo_finishes_after_the_hosts_sshd_is_killed_under_it(
        lab: Lab, drill: Drill, lab_targets: Targets) -> None:
    target = lab_targets.get(HOST)
    active = drill.inject(SlowUndo.name, target, {})
    drill.confirm(active, timeout=30)
    killer = threading.Timer(KILL_AFTER, lab.in_host, (HOST, KILL_SSHD), {"check": False})
    killer.start()
    try:
        assert drill.undo_all() == []  # the kill lands in the middle of its sleep
    finally:
        killer.cancel()
        killer.join()
    assert drill.journal.pending() == []
    assert reconnected(drill, "sleep"), [name for name, _ in drill.evidence.attachments]
    marker = shlex.quote(active.facts["marker"])
    assert target.run(f"test ! -e {marker}").ok
    assert target.run("systemctl is-active ssh.service || systemctl is-active ssh.socket").ok


def cut(address: str, action: str) -> list[list[str]]:
    """The iptables commands that add (``-I``) or check and delete (``-C``, ``-D``) the cut."""
    comment = ["-m", "comment", "--comment", TAG, "-j", "DROP"]
    return [["iptables", action, "OUTPUT", "-o", BRIDGE, "-d", address, *comment],
            ["iptables", action, "INPUT", "-i", BRIDGE, "-s", address, *comment]]


def lift(address: str) -> None:
    """Remove every copy of the cut's rules (idempotent)."""
    for check, delete in zip(cut(address, "-C"), cut(address, "-D"), strict=True):
        while sh(check, check=False).returncode == 0:
            sh(delete)


def test_a_recovery_finishes_through_a_20s_cut_of_the_harness_path(
        drill: Drill, lab_targets: Targets) -> None:
    target = lab_targets.get(HOST)
    address = host_by_name(HOST).address
    active = drill.inject("stop_service", target, {"service": "libvirtd"})
    drill.confirm(active, timeout=60)
    lifting = threading.Timer(CUT_SECONDS, lift, (address,))
    try:
        for command in cut(address, "-I"):
            sh(command)
        lifting.start()
        target.connection.close()  # the connection reset by the cut: the next one must wait
        record = drill.recover("start_services", target, {"services": "libvirtd"})
    finally:
        lifting.cancel()
        if lifting.ident is not None:
            lifting.join()  # a lift under way ends first
        lift(address)
    assert record.ok, record.render()
    commands = [result.render() for step in record.steps for result in step.commands]
    assert any("reconnected after" in text for text in commands), commands
    drill.wait_verified(180)
