"""The ``galera_cluster`` probe: each Galera node's wsrep status and saved state, read as the
snapshot reads them (the fragment run in a local ``sh`` with fake ``systemctl`` and ``mysql``),
from the output MariaDB 10.11 with Galera 26.4 prints. A node whose mysqld does not answer is
an observation, not a failure of the probe."""

from __future__ import annotations

from pathlib import Path

import pytest
from stackdrill.builtin.probes.galera_cluster import GaleraCluster

from stackdrill.api import HostError
from stackdrill.api._registry import Registries
from stackdrill.builtin import probes as builtin_probes
from stackdrill.core.state import Rule, Snapshot, Tolerance, compare
from stackdrill.hostkit import galera
from tests.unit.ha_fakes import FakeTargets, fake_tool, ha_inventory, observe, printing

# `mysql --batch --skip-column-names -e "SHOW GLOBAL STATUS LIKE 'wsrep_%'"` on a synced node
# of a three-node cluster (MariaDB 10.11, Galera 26.4)
SYNCED = """\
wsrep_local_state_uuid\t5a0e6a2c-94c2-11ef-9d5f-4f6b5c3f1d2e
wsrep_protocol_version\t10
wsrep_last_committed\t18342
wsrep_replicated\t6120
wsrep_replicated_bytes\t3921544
wsrep_repl_keys\t20114
wsrep_repl_keys_bytes\t310456
wsrep_repl_data_bytes\t3325048
wsrep_repl_other_bytes\t0
wsrep_received\t12297
wsrep_received_bytes\t7802110
wsrep_local_commits\t6118
wsrep_local_cert_failures\t0
wsrep_local_replays\t0
wsrep_local_send_queue\t0
wsrep_local_send_queue_max\t2
wsrep_local_send_queue_min\t0
wsrep_local_send_queue_avg\t0.000163
wsrep_local_recv_queue\t0
wsrep_local_recv_queue_max\t5
wsrep_local_recv_queue_min\t0
wsrep_local_recv_queue_avg\t0.012034
wsrep_local_cached_downto\t1
wsrep_flow_control_paused_ns\t0
wsrep_flow_control_paused\t0
wsrep_flow_control_sent\t0
wsrep_flow_control_recv\t0
wsrep_flow_control_active\tfalse
wsrep_flow_control_requested\tfalse
wsrep_cert_deps_distance\t11.30711
wsrep_apply_oooe\t0.002113
wsrep_apply_oool\t0
wsrep_apply_window\t1.002113
wsrep_apply_waits\t0
wsrep_commit_oooe\t0
wsrep_commit_oool\t0
wsrep_commit_window\t1
wsrep_local_state\t4
wsrep_local_state_comment\tSynced
wsrep_cert_index_size\t64
wsrep_causal_reads\t0
wsrep_cert_interval\t0.011412
wsrep_open_transactions\t0
wsrep_open_connections\t0
wsrep_incoming_addresses\t172.31.77.31:3306,172.31.77.32:3306,172.31.77.33:3306
wsrep_cluster_weight\t3
wsrep_desync_count\t0
wsrep_evs_delayed\t
wsrep_evs_evict_list\t
wsrep_evs_repl_latency\t0/0/0/0/0
wsrep_evs_state\tOPERATIONAL
wsrep_gcomm_uuid\t5a0f0b8e-94c2-11ef-8a2d-0e1c7f3b9a41
wsrep_gmcast_segment\t0
wsrep_applier_thread_count\t1
wsrep_cluster_capabilities\t
wsrep_cluster_conf_id\t3
wsrep_cluster_size\t3
wsrep_cluster_state_uuid\t5a0e6a2c-94c2-11ef-9d5f-4f6b5c3f1d2e
wsrep_cluster_status\tPrimary
wsrep_connected\tON
wsrep_local_bf_aborts\t0
wsrep_local_index\t0
wsrep_provider_capabilities\t:MULTI_MASTER:CERTIFICATION:PARALLEL_APPLYING:TRX_REPLAY:ISOLATION:PAUSE:CAUSAL_READS:INCREMENTAL_WRITESET:UNORDERED:PREORDERED:STREAMING:NBO:
wsrep_provider_name\tGalera
wsrep_provider_vendor\tCodership Oy <info@codership.com>
wsrep_provider_version\t26.4.23(r00000000)
wsrep_ready\tON
wsrep_rollbacker_thread_count\t1
wsrep_thread_count\t2"""

# the same node cut off from the other two: a non-Primary component of one, not ready
MINORITY = (SYNCED.replace("wsrep_cluster_size\t3", "wsrep_cluster_size\t1")
            .replace("wsrep_cluster_status\tPrimary", "wsrep_cluster_status\tnon-Primary")
            .replace("wsrep_local_state_comment\tSynced", "wsrep_local_state_comment\tInitialized")
            .replace("wsrep_ready\tON", "wsrep_ready\tOFF"))

GRASTATE_RUNNING = """\
# GALERA saved state
version: 2.1
uuid:    5a0e6a2c-94c2-11ef-9d5f-4f6b5c3f1d2e
seqno:   -1
safe_to_bootstrap: 0
"""
GRASTATE_LAST_STOPPED = """\
# GALERA saved state
version: 2.1
uuid:    5a0e6a2c-94c2-11ef-9d5f-4f6b5c3f1d2e
seqno:   18342
safe_to_bootstrap: 1
"""
CANNOT_CONNECT = ("ERROR 2002 (HY000): Can't connect to local server through socket "
                  "'/run/mysqld/mysqld.sock' (2)")


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeTargets:
    """controller1 of the HA inventory, its grastate.dat in the test's directory."""
    monkeypatch.setattr(galera, "GRASTATE", str(tmp_path / "grastate.dat"))
    (tmp_path / "grastate.dat").write_text(GRASTATE_RUNNING)
    return FakeTargets(ha_inventory(tmp_path), tmp_path)


def tools(targets: FakeTargets, *, active: bool = True, mysql: str) -> None:
    host = targets.get("controller1")
    fake_tool(host.tools, "systemctl", "exit 0" if active else "exit 3")
    fake_tool(host.tools, "mysql", mysql)


def test_a_synced_node_of_a_full_cluster_is_healthy(node: FakeTargets) -> None:
    tools(node, mysql=printing(SYNCED))
    probe = GaleraCluster()
    values = observe(probe, node.get("controller1"))
    assert values == {
        "galera:mysqld": "up",
        "galera:wsrep_cluster_size": 3,
        "galera:wsrep_cluster_status": "Primary",
        "galera:wsrep_local_state_comment": "Synced",
        "galera:wsrep_ready": "ON",
        "galera:wsrep_last_committed": 18342,
        "galera:grastate/seqno": -1,
        "galera:grastate/safe_to_bootstrap": False,
    }
    assert probe.problems(values) == []


def test_the_minority_of_a_partition_is_non_primary_alone_and_not_ready(
        node: FakeTargets) -> None:
    tools(node, mysql=printing(MINORITY))
    probe = GaleraCluster()
    values = observe(probe, node.get("controller1"))
    assert values["galera:wsrep_cluster_status"] == "non-Primary"
    assert probe.problems(values) == [
        "wsrep_cluster_size is 1, below the 3 members of the galera cluster",
        "wsrep_cluster_status is non-Primary, not Primary",
        "wsrep_local_state_comment is Initialized, not Synced",
        "wsrep_ready is OFF, not ON",
    ]


def test_a_donor_is_not_synced(node: FakeTargets) -> None:
    tools(node, mysql=printing(SYNCED.replace("\tSynced", "\tDonor/Desynced")))
    probe = GaleraCluster()
    assert probe.problems(observe(probe, node.get("controller1"))) == [
        "wsrep_local_state_comment is Donor/Desynced, not Synced"]


def test_a_stopped_node_is_observed_with_its_saved_state(node: FakeTargets,
                                                          tmp_path: Path) -> None:
    """mysqld is not asked while its service does not run; grastate.dat says which node to
    bootstrap from."""
    (tmp_path / "grastate.dat").write_text(GRASTATE_LAST_STOPPED)
    tools(node, active=False, mysql="echo asked >&2; exit 1")
    probe = GaleraCluster()
    values = observe(probe, node.get("controller1"))
    assert values["galera:mysqld"] == "stopped"
    assert {values[f"galera:{name}"] for name in galera.WSREP_VARIABLES} == {"unknown"}
    assert values["galera:grastate/seqno"] == 18342
    assert values["galera:grastate/safe_to_bootstrap"] is True
    assert probe.problems(values) == ["mysqld is stopped"]


def test_a_mysqld_that_refuses_connections_is_down(node: FakeTargets) -> None:
    tools(node, mysql=printing("", status=1, stderr=CANNOT_CONNECT))
    probe = GaleraCluster()
    values = observe(probe, node.get("controller1"))
    assert values["galera:mysqld"] == "down"
    assert values["galera:wsrep_cluster_size"] == "unknown"
    assert probe.problems(values) == ["mysqld is down"]


def test_a_client_refused_for_another_reason_fails_the_probe(node: FakeTargets) -> None:
    """Access denied says nothing of the node: the probe fails, its values unknown."""
    tools(node, mysql=printing("", status=1, stderr=(
        "ERROR 1045 (28000): Access denied for user 'root'@'localhost' (using password: NO)")))
    with pytest.raises(HostError, match="controller1: mysql exited 1: ERROR 1045"):
        observe(GaleraCluster(), node.get("controller1"))


def test_a_missing_or_unreadable_grastate_is_said_so(node: FakeTargets, tmp_path: Path) -> None:
    tools(node, mysql=printing(SYNCED))
    (tmp_path / "grastate.dat").unlink()
    values = observe(GaleraCluster(), node.get("controller1"))
    assert values["galera:grastate/seqno"] == "absent"
    (tmp_path / "grastate.dat").mkdir()  # exists, but cat cannot read it
    values = observe(GaleraCluster(), node.get("controller1"))
    assert values["galera:grastate/safe_to_bootstrap"] == "unknown"


def test_it_observes_only_the_galera_members(node: FakeTargets, tmp_path: Path) -> None:
    probe = GaleraCluster()
    assert [name for name, host in node.hosts.items() if probe.applies_to(host)] == [
        "controller1", "controller2", "controller3"]
    single = FakeTargets(ha_inventory(tmp_path, "hosts:\n  controller: {address: 10.0.0.1, "
                                                "roles: [controller]}\n"), tmp_path)
    assert not probe.applies_to(single.get("controller"))


def test_the_last_committed_seqno_is_ignored_in_comparisons() -> None:
    before = Snapshot(0.0, {"host:controller1/galera:wsrep_last_committed": 18342,
                            "host:controller1/galera:wsrep_cluster_size": 3})
    after = Snapshot(1.0, {"host:controller1/galera:wsrep_last_committed": 18399,
                           "host:controller1/galera:wsrep_cluster_size": 2})
    tolerance = Tolerance(GaleraCluster.tolerance_rules())
    assert [d.path for d in compare(before, after, tolerance)] == [
        "host:controller1/galera:wsrep_cluster_size"]
    assert GaleraCluster.tolerance_rules() == [
        Rule.parse("host:*/galera:wsrep_last_committed ignore")]


def test_it_is_registered() -> None:
    registries = Registries()
    builtin_probes.pytest_stackdrill_register(registries)
    assert registries.probes.get("galera_cluster") is GaleraCluster


def test_grastate_alone_parses_as_the_file_reads() -> None:
    state = galera.parse_grastate(GRASTATE_LAST_STOPPED)
    assert (state.state, state.uuid, state.seqno, state.safe_to_bootstrap) == (
        "read", "5a0e6a2c-94c2-11ef-9d5f-4f6b5c3f1d2e", 18342, True)
