"""iSCSI parsing and the drop_iscsi_sessions fault's commands, against recorded outputs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from stackdrill.builtin.faults.drop_iscsi_sessions import DropIscsiSessions
from stackdrill.builtin.recovery.restore_iscsi_sessions import RestoreIscsiSessions

from stackdrill.api._fault import FaultError
from stackdrill.api._runbook import RecoveryContext, RecoveryFailed
from stackdrill.cloud.volume_data import guest_disk
from stackdrill.hostkit import iscsi, netfilter
from stackdrill.hosts.ssh import CommandResult
from tests.unit.iptables_fake import IptablesHost

RECORDED = Path(__file__).parents[1] / "fixtures" / "iscsi"
VOL1 = "iqn.2010-10.org.openstack:volume-ef2771b8-ef7d-417f-bdd9-2959f1588686"
VOL2 = "iqn.2010-10.org.openstack:volume-689f2e55-ca3c-4b75-9a44-e771c15a6917"


def recorded(name: str) -> str:
    return (RECORDED / name).read_text()


class RecordedHost:
    """A target host that answers commands from recorded outputs and remembers what ran."""

    name = "storage1"

    def __init__(self, answers: dict[str, tuple[int, str]]) -> None:
        self.answers = answers
        self.ran: list[str] = []

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True) -> CommandResult:
        self.ran.append(command)
        status, out = next((v for k, v in self.answers.items() if command.startswith(k)),
                           (0, ""))
        if check and status:
            raise AssertionError(f"{command} failed")
        return CommandResult("storage1", command, status, out, "", 0.0, 0.0)


def test_tgt_targets_parsed_without_chap_accounts() -> None:
    targets = iscsi.parse_tgt_targets(recorded("tgtadm-target-show.txt"))
    assert list(targets) == [VOL1, VOL2]
    first, second = targets[VOL1], targets[VOL2]
    assert (first.tid, first.sessions, first.luns, first.acl) == (1, 1, 1, ["ALL"])
    assert first.initiators == [
        "iqn.2008-11.org.linux-kvm:24eeb9e1-96c7-4d9b-a41c-02641fc8b5c5"]
    assert first.backing == [
        "/var/lib/stackdrill-lab-volumes/volume-ef2771b8-ef7d-417f-bdd9-2959f1588686"]
    assert (second.sessions, second.initiators, second.acl) == (0, [], [])
    assert "BsbQAo5SaAC2HxnhMrB4" not in repr(targets)


def test_tgt_connections_and_iscsiadm_sessions() -> None:
    assert iscsi.parse_tgt_connections(recorded("tgtadm-conn-show.txt")) == [(1, 0), (4, 0)]
    sessions = iscsi.parse_iscsiadm_sessions(recorded("iscsiadm-session.txt"))
    assert [(s.sid, s.portal) for s in sessions] == [
        (3, "192.168.24.10:3260"), (15, "192.168.24.10:3260"), (16, "192.168.24.11:3260")]
    assert iscsi.parse_iscsiadm_sessions("iscsiadm: No active sessions.\n") == []


def _fault(host: RecordedHost, **params: str) -> DropIscsiSessions:
    fault = DropIscsiSessions(host, params)  # type: ignore[arg-type]
    return fault


def test_initiator_side_logs_out_only_matching_sessions_with_r_and_logs_back_in() -> None:
    host = RecordedHost({"command -v iscsiadm": (0, "initiator\n"),
                         "iscsiadm -m session": (0, recorded("iscsiadm-session.txt"))})
    fault = _fault(host, method="initiator", targets="iqn.2010-10.org.openstack:*")
    facts = fault.prepare()
    assert [s["sid"] for s in facts["sessions"]] == [3, 15]
    fault.inject(facts)
    assert [c for c in host.ran if "-u" in c] == ["iscsiadm -m session -u -r 3",
                                                   "iscsiadm -m session -u -r 15"]
    host.answers["iscsiadm -m session"] = (21, "iscsiadm: No active sessions.\n")
    assert "3, 15 logged out" in (fault.confirm(facts) or "")
    fault.undo(facts)
    logins = [c for c in host.ran if c.endswith(" -l")]
    assert logins == [
        "iscsiadm -m node --target-name iqn.2010-10.org.openstack:volume-6a4bf3c0-1a2b-4c3d-"
        "9e8f-0123456789ab -p 192.168.24.10:3260 -l",
        "iscsiadm -m node --target-name iqn.2010-10.org.openstack:volume-0f1e2d3c-4b5a-6978-"
        "8796-a5b4c3d2e1f0 -p 192.168.24.10:3260 -l"]


def test_auto_prefers_the_initiator_and_refuses_when_nothing_matches() -> None:
    host = RecordedHost({"command -v iscsiadm": (0, "initiator\ntgt\n"),
                         "iscsiadm -m session": (0, recorded("iscsiadm-session.txt"))})
    with pytest.raises(FaultError, match=r"no iSCSI session matches iqn\.nothing"):
        _fault(host, targets="iqn.nothing*").prepare()
    assert not [c for c in host.ran if "-u" in c]


def test_target_side_with_hold_unbinds_the_acl_and_deletes_each_connection() -> None:
    host = RecordedHost({"command -v iscsiadm": (0, "tgt\n"),
                         "tgtadm --lld iscsi --mode target --op show":
                             (0, recorded("tgtadm-target-show.txt")),
                         "tgtadm --lld iscsi --mode conn --op show":
                             (0, recorded("tgtadm-conn-show.txt"))})
    fault = _fault(host, method="target", targets=VOL1, hold="yes")
    facts = fault.prepare()
    assert facts["targets"] == {VOL1: {"tid": 1, "acl": ["ALL"]}}
    fault.inject(facts)
    acted = [c for c in host.ran if "--op unbind" in c or "--op delete" in c]
    assert acted == [
        "tgtadm --lld iscsi --mode target --op unbind --tid 1 --initiator-address ALL",
        "tgtadm --lld iscsi --mode conn --op delete --tid 1 --sid 1 --cid 0",
        "tgtadm --lld iscsi --mode conn --op delete --tid 1 --sid 4 --cid 0"]
    assert fault.confirm(facts) is None  # the recorded show still lists a session
    emptied = recorded("tgtadm-target-show.txt").replace("ALL\n", "")
    host.answers["tgtadm --lld iscsi --mode target --op show"] = (0, emptied)
    fault.undo(facts)
    assert host.ran[-1] == ("tgtadm --lld iscsi --mode target --op bind --tid 1 "
                            "--initiator-address ALL")


class StorageHost(IptablesHost):
    """A storage host with iptables (the fake) and no iSCSI tool: the network method."""

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True) -> CommandResult:
        if command.startswith("command -v") or command.startswith("tgtadm"):
            self.ran.append(command)
            return CommandResult(self.name, command, 1, "", "", 0.0, 0.0)
        return super().run(command, check=check, timeout=timeout, record=record)


def test_network_side_inserts_and_deletes_the_same_tagged_rule(tmp_path: Path) -> None:
    host = StorageHost("storage1", tmp_path)
    site = "-s 172.31.77.12 -p tcp --dport 3260 -j DROP"
    host.iptables(f"-I INPUT {site}")
    fault = _fault(host, method="network", initiators="172.31.77.11")
    facts = fault.prepare()
    rule = ("INPUT -s 172.31.77.11 -p tcp --dport 3260 -m comment --comment "
            "stackdrill-drop-iscsi -j DROP")
    assert facts["rules"] == [rule]
    assert fault.plan() == [netfilter.install([rule])]
    fault.inject(facts)
    fault.inject(facts)  # a retried injection leaves one copy
    assert host.rules() == [
        "-A INPUT -s 172.31.77.11/32 -p tcp -m tcp --dport 3260 -m comment --comment "
        "stackdrill-drop-iscsi -j DROP",
        "-A INPUT -s 172.31.77.12/32 -p tcp -m tcp --dport 3260 -j DROP"]
    assert fault.confirm(facts) is None  # the rule has dropped nothing yet
    host.count("INPUT", 0, 7)
    assert fault.confirm(facts) == ("storage1: iptables dropped 7 packets of iSCSI portal "
                                    "traffic from 172.31.77.11 since the injection")
    fault.undo(facts)
    fault.undo(facts)
    assert host.rules() == ["-A INPUT -s 172.31.77.12/32 -p tcp -m tcp --dport 3260 -j DROP"]


DOMAIN_XML = """<domain><devices>
<disk type='file' device='disk'><source file='/x/disk' index='1'/><target dev='vda'/></disk>
<disk type='network' device='disk'>
  <source protocol='iscsi' name='{iqn}/1' index='4'><host name='172.31.77.21' port='3260'/>
  </source><target dev='vdb' bus='virtio'/><serial>ef2771b8</serial></disk>
</devices></domain>"""


def test_guest_disk_found_by_serial() -> None:
    found: Any = guest_disk(DOMAIN_XML.format(iqn=VOL1), "ef2771b8")
    assert found == ("vdb", "libvirt-4-format", VOL1, "172.31.77.21")


class ShellHost:
    """A target host whose commands run in a local shell, with ``iptables`` answered by a script
    that prints a recorded ``iptables -S INPUT`` and logs every other call."""

    name = "storage1"

    def __init__(self, tmp_path: Path) -> None:
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.calls = tmp_path / "iptables.log"
        script = self.bin / "iptables"
        script.write_text("#!/bin/sh\n"
                          f'if [ "$1" = -S ]; then cat {RECORDED / "iptables-S-INPUT.txt"}; '
                          f'else echo "$*" >> {self.calls}; fi\n')
        script.chmod(0o755)

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True) -> CommandResult:
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                              env={**os.environ, "PATH": f"{self.bin}:{os.environ['PATH']}"},
                              check=False)
        if check and done.returncode:
            raise AssertionError(f"{command} failed: {done.stderr}")
        return CommandResult("storage1", command, done.returncode, done.stdout, done.stderr,
                             0.0, 0.0)


def test_opening_the_portal_deletes_only_the_rules_stackdrill_tagged(tmp_path: Path) -> None:
    host = ShellHost(tmp_path)
    recovery = RestoreIscsiSessions(host, {})  # type: ignore[arg-type]
    recovery.open_portal()
    deleted = host.calls.read_text().splitlines()
    assert deleted == [f"-D {line[len('-A '):]}"
                       for line in recorded("iptables-S-INPUT.txt").splitlines()
                       if "--comment stackdrill-drop-iscsi " in line]
    assert len(deleted) == 2
    shown = host.run(iscsi.OTHER_DROP_RULES).stdout.splitlines()
    assert shown and all("stackdrill" not in line and "--dport 3260" in line for line in shown)


class LoggingInHost(RecordedHost):
    """An open-iscsi host with no session until the runbook's ``iscsiadm ... -l`` ran."""

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True) -> CommandResult:
        if command.endswith(" -l"):
            self.answers["iscsiadm -m session"] = (0, recorded("iscsiadm-session.txt"))
        return super().run(command, check=check, timeout=timeout, record=record)


def _initiator_recovery(host: RecordedHost) -> RestoreIscsiSessions:
    fault = _fault(host, method="initiator", targets="iqn.2010-10.org.openstack:*")
    facts = fault.prepare()
    host.answers["iscsiadm -m session"] = (21, "iscsiadm: No active sessions.\n")
    return RestoreIscsiSessions(host, {"timeout": "2"},  # type: ignore[arg-type]
                                RecoveryContext(fault_facts=(facts,)))


def test_the_initiator_runbook_logs_in_then_waits_for_the_sessions() -> None:
    host = LoggingInHost({"command -v iscsiadm": (0, "initiator\n"), "command -v tgtadm": (1, ""),
                          "command -v iptables": (1, ""), "command -v targetcli": (1, ""),
                          "iscsiadm -m session": (0, recorded("iscsiadm-session.txt"))})
    recovery = _initiator_recovery(host)
    titles = [step.title for step in recovery.runbook()]
    assert titles[2:] == ["Log 2 session(s) back in on storage1",
                          "Wait for every initiator to be logged in again"]
    for step in recovery.runbook():
        step.action()
    assert [c for c in host.ran if c.startswith("iscsiadm -m discovery")] == [
        "iscsiadm -m discovery -t st -p 192.168.24.10:3260"]
    assert host.ran[-1] == "iscsiadm -m session"


def test_the_initiator_runbook_fails_when_the_sessions_stay_away() -> None:
    host = RecordedHost({"command -v iscsiadm": (0, "initiator\n"),
                         "iscsiadm -m session": (0, recorded("iscsiadm-session.txt"))})
    recovery = _initiator_recovery(host)
    with pytest.raises(RecoveryFailed, match=r"2 iSCSI session\(s\) listed again by iscsiadm"):
        recovery.wait_logged_in()
