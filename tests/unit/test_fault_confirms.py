"""Each built-in fault's confirmation proves the damage from an observation made after the
injection, never from the injection having run; a fault with nothing to break is refused."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import stackdrill.builtin.faults.remove_files
from stackdrill.builtin.faults.drop_iscsi_sessions import (
    DropIscsiSessions,
    lio_state,
    parse_lio_state,
)
from stackdrill.builtin.faults.hold_services_at_boot import HoldServicesAtBoot
from stackdrill.builtin.faults.power_off_host import PowerOffHost
from stackdrill.builtin.faults.reboot_host import RebootHost
from stackdrill.builtin.faults.remove_files import RemoveFiles

from stackdrill.api._fault import FaultError
from stackdrill.hosts.power import PowerDriver, PowerDrivers
from stackdrill.hosts.service import Service
from stackdrill.hosts.ssh import CommandResult, HostError
from tests.unit.test_iscsi import VOL1, RecordedHost, recorded

TGT_SHOW = "tgtadm --lld iscsi --mode target --op show"
CONN_SHOW = "tgtadm --lld iscsi --mode conn --op show"
# The initiators logged in again at once, with new session IDs (tgtd never reuses a live one).
RECONNECTED = recorded("tgtadm-conn-show.txt").replace("Session: 1", "Session: 7") \
    .replace("Session: 4", "Session: 8")


def _tgt_host() -> RecordedHost:
    return RecordedHost({"command -v iscsiadm": (0, "tgt\n"),
                         TGT_SHOW: (0, recorded("tgtadm-target-show.txt")),
                         CONN_SHOW: (0, recorded("tgtadm-conn-show.txt"))})


def _drop(host: Any, **params: str) -> DropIscsiSessions:
    return DropIscsiSessions(host, params)


# -- drop_iscsi_sessions on the target, without hold -------------------------------------------
def test_the_target_side_records_the_sessions_and_confirms_only_once_they_are_gone() -> None:
    host = _tgt_host()
    fault = _drop(host, method="target", targets=VOL1)
    facts = fault.prepare()
    assert facts["sessions"] == {VOL1: [1, 4]}
    fault.inject(facts)
    # the connections were not deleted after all: the same sessions are still there
    assert fault.confirm(facts) is None
    host.answers[CONN_SHOW] = (0, RECONNECTED)
    assert fault.confirm(facts) == ("storage1: sessions 1, 4 of 1 target(s) ended; initiators "
                                    "logged in again as sessions 7, 8")
    host.answers[CONN_SHOW] = (0, "")
    assert fault.confirm(facts) == "storage1: sessions 1, 4 of 1 target(s) ended"


def test_sessions_that_cannot_be_read_confirm_nothing() -> None:
    host = _tgt_host()
    fault = _drop(host, method="target", targets=VOL1)
    facts = fault.prepare()
    host.answers[CONN_SHOW] = (22, "tgtadm: can't find the target")
    assert fault.confirm(facts) is None


def test_a_target_without_a_session_is_refused_before_anything_runs() -> None:
    host = _tgt_host()
    host.answers[CONN_SHOW] = (0, "")
    with pytest.raises(FaultError, match=r"^storage1: no initiator is logged in to a tgtd "
                                         r"target matching .*; no session to drop$"):
        _drop(host, method="target", targets=VOL1).prepare()


def test_with_hold_the_acl_must_read_empty_too() -> None:
    host = _tgt_host()
    fault = _drop(host, method="target", targets=VOL1, hold="yes")
    facts = fault.prepare()
    host.answers[CONN_SHOW] = (0, "")
    no_session = recorded("tgtadm-target-show.txt").replace(
        "        I_T nexus: 1\n", "").replace("            Connection: 0\n", "")
    host.answers[TGT_SHOW] = (0, no_session)
    assert fault.confirm(facts) is None  # the ACL still says ALL: initiators may come back
    host.answers[TGT_SHOW] = (0, no_session.replace("        ALL\n", ""))
    assert fault.confirm(facts) == ("storage1: sessions 1, 4 of 1 target(s) ended; no "
                                    "initiator logged in, and their ACLs are empty")


# -- drop_iscsi_sessions on LIO (targetcli) -----------------------------------------------------
LIO_IQN = "iqn.2003-01.org.linux-iscsi.storage1:sn.0123"
LIO_INFO = ("enable={enable}\nInitiatorName: iqn.1994-05.com.redhat:c1\nInitiatorAlias: c1\n"
            "LIO Session ID: {sid}   ISID: 0x23d000000  TSIH: 1  SessionType: Normal\n"
            "Session State: TARG_SESS_STATE_LOGGED_IN\n"
            "No active iSCSI Session for Initiator Endpoint: iqn.1994-05.com.redhat:c2\n")


def _lio_host() -> RecordedHost:
    return RecordedHost({"command -v iscsiadm": (0, "lio\n"), "command -v tgtadm": (1, ""),
                         "targetcli ls /iscsi 1": (0, f"o- iscsi [Targets: 1]\n  o- {LIO_IQN}\n"),
                         "echo enable=": (0, LIO_INFO.format(enable=1, sid=3))})


def test_lio_state_is_read_from_configfs() -> None:
    assert lio_state(LIO_IQN) == (
        f"echo enable=$(cat /sys/kernel/config/target/iscsi/{LIO_IQN}/tpgt_1/enable); "
        f"cat /sys/kernel/config/target/iscsi/{LIO_IQN}/tpgt_1/acls/*/info 2>/dev/null; true")
    assert parse_lio_state(LIO_INFO.format(enable=0, sid=12)) == ("0", [12])
    assert parse_lio_state("enable=\n") == ("", [])


def test_lio_is_confirmed_by_the_portal_group_read_disabled_and_its_sessions_gone() -> None:
    host = _lio_host()
    fault = _drop(host, method="target", targets="iqn.2003-01.*")
    facts = fault.prepare()
    assert facts["sessions"] == {LIO_IQN: [3]}
    fault.inject(facts)
    assert fault.confirm(facts) is None  # still enabled, session 3 still there
    host.answers["echo enable="] = (0, LIO_INFO.format(enable=0, sid=3))
    assert fault.confirm(facts) is None  # disabled, but session 3 not torn down yet
    host.answers["echo enable="] = (0, "enable=0\nNo active iSCSI Session for Initiator "
                                       "Endpoint: iqn.1994-05.com.redhat:c1\n")
    assert fault.confirm(facts) == ("storage1: LIO portal groups disabled (configfs enable 0) "
                                    "on 1 target(s); sessions ended: 3")


# -- hold_services_at_boot ---------------------------------------------------------------------
ORDER = {"order": "ops-guide-table-11-1"}


READ = "echo tgt "  # the boot state read: one echo per service, the list's first is tgt


class UnitsHost(RecordedHost):
    """A host whose services are systemd units of their own names."""

    def service(self, name: str) -> Service:
        return Service.for_unit(self, name)  # type: ignore[arg-type]


def test_holding_nothing_at_boot_is_refused_in_prepare() -> None:
    host = UnitsHost({READ: (0, "mariadb disabled\nnova-compute masked\ntgt \n")})
    fault = HoldServicesAtBoot(host, ORDER)  # type: ignore[arg-type]
    with pytest.raises(FaultError, match=r"^storage1: no service of the priority list is enabled "
                                         r"at boot here; nothing to hold$"):
        fault.prepare()


def test_held_services_are_confirmed_once_none_reads_enabled() -> None:
    host = UnitsHost({READ: (0, "tgt enabled\nmariadb disabled\n")})
    fault = HoldServicesAtBoot(host, ORDER)  # type: ignore[arg-type]
    facts = fault.prepare()
    assert facts == {"services": ["tgt"], "units": ["tgt"]}
    assert host.ran[-1].startswith('echo tgt "$(systemctl is-enabled tgt 2>/dev/null)"; ')
    assert fault.confirm(facts) is None
    host.answers[READ] = (0, "tgt disabled\n")
    assert fault.confirm(facts) == "held at boot on storage1: tgt"


# -- reboot_host -------------------------------------------------------------------------------
class RebootingHost:
    """A host whose boot identity is ``identity``, or that does not answer when it is None; its
    power driver ("fake") reports ``powered``."""

    name = "storage1"

    def __init__(self) -> None:
        self.identity: str | None = "boot-a 100"
        self.powered = True
        self.spec = SimpleNamespace(name="storage1", power={"driver": "fake"})
        self.power_drivers = PowerDrivers()

    def power_driver(self) -> PowerDriver:
        return self.power_drivers.driver(self.spec)  # type: ignore[arg-type]

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True) -> CommandResult:
        if self.identity is None:
            raise HostError("storage1: connection refused")
        return CommandResult("storage1", command, 0, self.identity.replace(" ", "\n"), "", 0, 0)


@pytest.fixture
def rebooting() -> RebootingHost:
    host = RebootingHost()
    driver = SimpleNamespace(is_on=lambda: host.powered)
    host.power_drivers.register("fake", lambda spec, options: driver)  # type: ignore[return-value]
    return host


def test_a_host_that_stops_answering_has_not_thereby_rebooted(rebooting: RebootingHost) -> None:
    fault = RebootHost(rebooting, {"mode": "graceful"})  # type: ignore[arg-type]
    facts = fault.prepare()
    rebooting.identity = None  # no answer, and the power driver says it is on
    assert fault.confirm(facts) is None
    rebooting.powered = False
    assert fault.confirm(facts) == "storage1 went down: its fake power driver reports it off"
    rebooting.powered, rebooting.identity = True, "boot-b 7"
    assert fault.confirm(facts) == "storage1 rebooted: boot identity boot-b:7 (was boot-a:100)"


def test_a_power_driver_not_registered_is_refused_before_anything_is_injected(
        rebooting: RebootingHost) -> None:
    rebooting.spec.power = {"driver": "nope"}
    for fault in (PowerOffHost(rebooting, {}),  # type: ignore[arg-type]
                  RebootHost(rebooting, {"mode": "hard"})):  # type: ignore[arg-type]
        with pytest.raises(FaultError, match=r"^storage1: unknown power driver 'nope' "
                                             r"\(known: fake\)$"):
            fault.prepare()


def test_a_host_without_a_power_driver_is_proven_by_its_boot_identity_alone(
        rebooting: RebootingHost) -> None:
    rebooting.spec.power = None
    fault = RebootHost(rebooting, {"mode": "graceful"})  # type: ignore[arg-type]
    facts = fault.prepare()
    rebooting.identity = None
    assert fault.confirm(facts) is None
    rebooting.identity = "boot-a 100"  # answers again, never rebooted
    assert fault.confirm(facts) is None


def test_proof_by_boot_identity_ignores_the_power_driver(rebooting: RebootingHost) -> None:
    fault = RebootHost(rebooting, {"mode": "graceful",  # type: ignore[arg-type]
                                   "proof": "boot_identity"})
    facts = fault.prepare()
    rebooting.identity, rebooting.powered = None, False
    assert fault.confirm(facts) is None
    rebooting.identity, rebooting.powered = "boot-b 7", True
    assert fault.confirm(facts) == "storage1 rebooted: boot identity boot-b:7 (was boot-a:100)"


# -- remove_files ------------------------------------------------------------------------------
class LocalHost:
    name = "compute1"

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True) -> CommandResult:
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                              env=dict(os.environ), check=False)
        if check and done.returncode:
            raise HostError(f"{command} failed: {done.stderr}")
        return CommandResult("compute1", command, done.returncode, done.stdout, done.stderr,
                             0.0, 0.0)


class RecordingHost(LocalHost):
    def __init__(self) -> None:
        self.ran: list[CommandResult] = []

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True) -> CommandResult:
        self.ran.append(super().run(command, check=check, timeout=timeout, record=record))
        return self.ran[-1]


@pytest.fixture
def xml_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    monkeypatch.setattr(stackdrill.builtin.faults.remove_files, "BACKUP_ROOT",
                        str(tmp_path / "removed"))
    qemu = tmp_path / "qemu"
    qemu.mkdir()
    files = [qemu / "instance-00000001.xml", qemu / "instance-00000002.xml"]
    for file in files:
        file.write_text(f"<domain>{file.name}</domain>")
    return files


def test_files_the_recovery_was_to_re_create_are_named_while_missing(
        xml_files: list[Path]) -> None:
    fault = RemoveFiles(LocalHost(), {  # type: ignore[arg-type]
        "path": f"{xml_files[0].parent}/instance-*.xml", "recovery_recreates": "yes"})
    facts = fault.prepare()
    fault.inject(facts)
    assert fault.confirm(facts) == f"removed from compute1: {xml_files[0]}, {xml_files[1]}"
    assert fault.unrepaired(facts) == f"compute1: not re-created: {xml_files[0]}, {xml_files[1]}"
    xml_files[0].write_text("<domain>re-created</domain>")
    assert fault.unrepaired(facts) == f"compute1: not re-created: {xml_files[1]}"
    xml_files[1].write_text("<domain>re-created</domain>")
    assert fault.unrepaired(facts) is None


def test_the_undo_restores_only_what_is_missing_and_says_so(xml_files: list[Path]) -> None:
    host = RecordingHost()
    fault = RemoveFiles(host, {"path": str(xml_files[0].parent / "*.xml")})  # type: ignore[arg-type]
    facts = fault.prepare()
    fault.inject(facts)
    assert fault.unrepaired(facts) is None  # the scenario claims nothing of the recovery
    xml_files[0].write_text("<domain>re-created</domain>")
    fault.undo(facts)
    assert xml_files[0].read_text() == "<domain>re-created</domain>"
    assert xml_files[1].read_text() == "<domain>instance-00000002.xml</domain>"
    assert host.ran[-1].stdout == f"restored {xml_files[1]}\n"


# -- confirms that read nothing confirm nothing ------------------------------------------------
def test_a_boot_state_that_cannot_be_read_does_not_read_as_held() -> None:
    """systemctl failing (a bus error while the host shuts down) prints no state: not held."""
    host = UnitsHost({READ: (0, "tgt enabled\nmariadb enabled\n")})
    fault = HoldServicesAtBoot(host, ORDER)  # type: ignore[arg-type]
    facts = fault.prepare()
    host.answers[READ] = (0, "tgt \nmariadb \n")
    assert fault.confirm(facts) is None
    host.answers[READ] = (0, "tgt disabled\nmariadb unknown-state\n")
    assert fault.confirm(facts) is None
    host.answers[READ] = (255, "")  # the read itself failed: not yet, and no error
    assert fault.confirm(facts) is None
    host.answers[READ] = (0, "tgt disabled\nmariadb disabled\n")
    assert fault.confirm(facts) == "held at boot on storage1: tgt, mariadb"


def _initiator_facts() -> tuple[RecordedHost, DropIscsiSessions, dict[str, Any]]:
    host = RecordedHost({"command -v iscsiadm": (0, "initiator\n"),
                         "iscsiadm -m session": (0, recorded("iscsiadm-session.txt"))})
    fault = _drop(host, method="initiator", targets="iqn.2010-10.org.openstack:*")
    return host, fault, fault.prepare()


@pytest.mark.parametrize("answer", [(1, ""), (0, ""), (4, "iscsiadm: cannot connect\n")])
def test_an_iscsiadm_that_fails_does_not_read_as_every_session_logged_out(
        answer: tuple[int, str]) -> None:
    host, fault, facts = _initiator_facts()
    host.answers["iscsiadm -m session"] = answer
    assert fault.confirm(facts) is None


def test_iscsiadm_saying_no_active_sessions_confirms_the_logout() -> None:
    host, fault, facts = _initiator_facts()
    host.answers["iscsiadm -m session"] = (21, "iscsiadm: No active sessions.\n")
    assert fault.confirm(facts) == "storage1: sessions 3, 15 logged out"


RULE = ("-A INPUT -s 172.31.77.11/32 -p tcp -m tcp --dport 3260 -m comment --comment "
        "stackdrill-drop-iscsi -c {packets} {bytes} -j DROP\n")
COUNTERS = "iptables -S INPUT -v"


def test_the_network_cut_is_proven_by_packets_the_rule_dropped() -> None:
    """The rule being there proves nothing was cut: it must have dropped packets since."""
    host = RecordedHost({"command -v iscsiadm": (0, ""), "command -v tgtadm": (1, ""),
                         COUNTERS: (0, "-P INPUT ACCEPT -c 9 900\n")})
    fault = _drop(host, method="network", initiators="172.31.77.11")
    facts = fault.prepare()
    fault.inject(facts)
    host.answers[COUNTERS] = (0, RULE.format(packets=0, bytes=0))
    assert fault.confirm(facts) is None  # in place, nothing dropped yet
    host.answers[COUNTERS] = (1, "iptables: cannot read\n")
    assert fault.confirm(facts) is None
    host.answers[COUNTERS] = (0, RULE.format(packets=3, bytes=156))
    assert fault.confirm(facts) == ("storage1: iptables dropped 3 packets of iSCSI portal "
                                    "traffic from 172.31.77.11 since the injection")


def test_a_rule_left_with_counts_must_drop_more_after_the_injection() -> None:
    host = RecordedHost({"command -v iscsiadm": (0, ""), "command -v tgtadm": (1, ""),
                         COUNTERS: (0, RULE.format(packets=5, bytes=260))})
    fault = _drop(host, method="network", initiators="172.31.77.11/32")
    facts = fault.prepare()
    fault.inject(facts)
    assert fault.confirm(facts) is None
    host.answers[COUNTERS] = (0, RULE.format(packets=6, bytes=312))
    assert "dropped 1 packets" in (fault.confirm(facts) or "")


def test_lio_without_a_session_is_refused_before_anything_runs() -> None:
    host = _lio_host()
    host.answers["echo enable="] = (0, "enable=1\nNo active iSCSI Session for Initiator "
                                       "Endpoint: iqn.1994-05.com.redhat:c1\n")
    with pytest.raises(FaultError, match=r"^storage1: no initiator is logged in to a LIO "
                                         r"target matching iqn\.2003-01\.\*; no session to "
                                         r"drop$"):
        _drop(host, method="target", targets="iqn.2003-01.*").prepare()
    assert not [c for c in host.ran if c.endswith(" disable")]


def test_lio_state_that_cannot_be_read_is_refused() -> None:
    host = _lio_host()
    host.answers["echo enable="] = (0, "enable=\n")
    with pytest.raises(FaultError, match=r"^storage1: cannot read the LIO portal group of "):
        _drop(host, method="target", targets="iqn.2003-01.*").prepare()


def test_tgt_sessions_that_cannot_be_read_in_prepare_are_refused() -> None:
    host = _tgt_host()
    # target 1's sessions cannot be read; target 2's read fine
    host.answers = {f"{CONN_SHOW} --tid 1": (22, "tgtadm: can't find the target"),
                    **host.answers}
    with pytest.raises(FaultError, match=r"^storage1: cannot read the sessions of tgtd "
                                         r"target iqn\.2010-10\.org\.openstack:volume-ef27"):
        _drop(host, method="target", targets="iqn.2010-10.org.openstack:*").prepare()
