"""The benchmarks compare like with like and say when, on what and on which commit they ran:
the fan-out tables put cold against cold and warm against warm, for every tool; the API
benchmark's CLI side lists every server and every volume once, and the one listing more that
``openstack volume list`` makes (the project's servers, to name attachments) is measured alone
and stated."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import api_snapshot
import host_fanout
import provenance

from stackdrill.core.state import Snapshot

PROVENANCE: dict[str, Any] = {
    "date": "2026-12-06T13:39:42+00:00", "commit": "204d773b8a73034efced6b824985020570fe2e64",
    "uncommitted_changes": False,
    "machine": {"cpus": 2, "memory_bytes": 23 * 2**30, "processor": "x86_64",
                "kernel": "6.1", "python": "3.11.7"}}


def _fanout() -> dict[str, Any]:
    def tool(cold: float, warm: float) -> dict[str, float]:
        return {"cold": cold, "warm": warm}

    return {**PROVENANCE, "versions": {"paramiko": "5.1.0", "ansible-core": "2.19.14"},
            "note": "main lab up and idle", "workers": 32,
            "runs": {"200": {"stackdrill": {**tool(4.0, 1.5), "client_cpu_per_snapshot": 0.6,
                                            "machine_cpu_busy": 1.0},
                             "ansible_forks5": tool(60.0, 45.0),
                             "ansible_forks50": tool(40.0, 30.0),
                             "paramiko_sequential": tool(60.0, 33.0)}}}


def test_fanout_table_compares_cold_with_cold_and_warm_with_warm() -> None:
    text = host_fanout.table(_fanout())
    warm = text[text.index("## Warm against warm"):text.index("## Cold against cold")]
    cold = text[text.index("## Cold against cold"):]
    assert "| 200 | 1.50 s | 45.0 s | 30.0 s | 33.0 s | 30x | 20x | 22x |" in warm
    assert "| 200 | 4.00 s | 60.0 s | 40.0 s | 60.0 s | 15x | 10x | 15x |" in cold
    for kind, section in (("warm", warm), ("cold", cold)):
        assert f"ansible forks=50 ÷ stackdrill ({kind}/{kind})" in section
        assert f"sequential paramiko {kind}" in section


def test_fanout_every_tool_is_measured_cold_and_warm() -> None:
    row = _fanout()["runs"]["200"]
    del row["paramiko_sequential"]["warm"]
    with pytest.raises(KeyError):
        host_fanout.table({**_fanout(), "runs": {"200": row}})


def test_result_files_say_when_where_and_on_which_commit() -> None:
    text = host_fanout.table(_fanout())
    assert "- date: 2026-12-06T13:39:42+00:00" in text
    assert "- commit: 204d773b8a73\n" in text
    assert "2 CPUs (nproc), 23.0 GiB memory" in text and "Python 3.11.7" in text
    assert "- note: main lab up and idle" in text
    dirty = host_fanout.table({**_fanout(), "uncommitted_changes": True})
    assert "- commit: 204d773b8a73 (with uncommitted changes)" in dirty


def test_provenance_reads_this_machine() -> None:
    found = provenance.provenance()
    assert found["machine"]["cpus"] >= 1 and found["machine"]["memory_bytes"] > 0
    assert found["date"].endswith("+00:00")


def test_cli_lists_servers_and_volumes_once_each() -> None:
    servers = api_snapshot.cli_command("lab", "servers")
    volumes = api_snapshot.cli_command("lab", "volumes")
    assert servers[1:] == ["--os-cloud", "lab", "server", "list", "--all-projects", "--long",
                           "--no-name-lookup", "-f", "value"]
    assert volumes[1:] == ["--os-cloud", "lab", "volume", "list", "--all-projects", "--long",
                           "-f", "value"]
    assert list(api_snapshot.CLI_COMMANDS) == ["servers", "volumes"]


class _Servers:
    def __init__(self, count: int) -> None:
        self.count = count
        self.calls = 0

    def servers(self) -> list[object]:
        self.calls += 1
        return [object()] * self.count


class _Conn:
    def __init__(self, project_servers: int) -> None:
        self.compute = _Servers(project_servers)


class _Access:
    def __init__(self, cloud: str, config_files: list[str] | None = None,
                 project_servers: int = 0) -> None:
        self.cloud = cloud
        self.config_files = config_files
        self.conn = _Conn(project_servers)

    def connection(self) -> _Conn:
        return self.conn


def _measure(monkeypatch: pytest.MonkeyPatch, in_use: int,
             cli_runs: int = api_snapshot.RUNS) -> tuple[dict[str, Any], list[list[str]],
                                                          _Access]:
    values = {"cloud/server:a/status": "ACTIVE", "cloud/server:b/status": "ACTIVE",
              "cloud/volume:v/status": "available"}
    values.update({f"cloud/volume:u{i}/status": "in-use" for i in range(in_use)})
    accesses: list[_Access] = []

    def new_access(cloud: str, config_files: list[str] | None = None) -> _Access:
        accesses.append(_Access(cloud, config_files))
        return accesses[-1]

    monkeypatch.setattr(api_snapshot, "take_snapshot",
                        lambda *_a, **_k: Snapshot(taken_at=0.0, values=values))
    monkeypatch.setattr(api_snapshot, "CloudAccess", new_access)
    commands: list[list[str]] = []
    access = _Access("lab", project_servers=2)
    results = api_snapshot.measure(access, [], "lab",  # type: ignore[arg-type]
                                   run=commands.append, cli_runs=cli_runs)
    assert len(accesses) == api_snapshot.RUNS  # cold: a new access (and token) every run
    return results, commands, access


def test_measure_times_the_cli_and_its_extra_server_listing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    results, commands, access = _measure(monkeypatch, in_use=2)
    assert commands == [api_snapshot.cli_command("lab", kind)
                        for _ in range(api_snapshot.RUNS) for kind in ("servers", "volumes")]
    assert (results["servers"], results["volumes"], results["volumes_in_use"]) == (2, 3, 2)
    assert results["project_servers"] == 2
    assert access.conn.compute.calls == 1 + api_snapshot.RUNS
    for key in ("stackdrill", "stackdrill_cold", "stackdrill_api_only", "openstack_cli",
                "openstack_cli_servers", "openstack_cli_volumes", "cli_extra_server_listing"):
        assert len(results[key]) == api_snapshot.RUNS
    assert results["openstack_cli"] == pytest.approx(
        [s + v for s, v in zip(results["openstack_cli_servers"],
                               results["openstack_cli_volumes"], strict=True)])


def test_the_cli_can_run_fewer_times_than_stackdrill(monkeypatch: pytest.MonkeyPatch) -> None:
    """At 10,000 of each a CLI run takes minutes: ``--cli-runs 1`` runs it once, stackdrill
    still three times, and the table says so."""
    results, commands, _ = _measure(monkeypatch, in_use=2, cli_runs=1)
    assert len(commands) == 2
    assert len(results["openstack_cli"]) == len(results["cli_extra_server_listing"]) == 1
    assert len(results["stackdrill_cold"]) == api_snapshot.RUNS
    assert "(the CLI: 1 run)" in api_snapshot._cli_runs(results)
    assert api_snapshot._cli_runs({"cli_runs": api_snapshot.RUNS}) == ""


def test_no_volume_in_use_means_no_extra_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    results, _, access = _measure(monkeypatch, in_use=0)
    assert results["cli_extra_server_listing"] == [0.0] * api_snapshot.RUNS
    assert access.conn.compute.calls == 1


def _api(in_use: int) -> dict[str, Any]:
    return {**PROVENANCE, "note": "", "servers": 10002, "volumes": 10002,
            "volumes_in_use": in_use, "project_servers": 10002,
            "cli_commands": api_snapshot.CLI_COMMANDS,
            "stackdrill": [50.0, 51.0, 52.0], "stackdrill_cold": [52.0, 53.0, 54.0],
            "stackdrill_api_only": [47.0, 47.0, 47.0],
            "openstack_cli": [400.0, 400.0, 400.0], "openstack_cli_servers": [150.0] * 3,
            "openstack_cli_volumes": [250.0] * 3,
            "cli_extra_server_listing": [110.0] * 3 if in_use else [0.0] * 3}


def test_api_table_states_the_extra_work_and_compares_cold_with_cold() -> None:
    text = api_snapshot.table(_api(in_use=1))
    assert "- date: 2026-12-06T13:39:42+00:00" in text and "2 CPUs (nproc)" in text
    assert "`openstack server list --all-projects --long --no-name-lookup -f value`" in text
    assert "1 volumes were in use, so `volume list` also listed the project's 10002" in text
    assert ("| 10002 | 10002 | 53.00 s | 51.00 s | 47.00 s | 150.00 s | 250.00 s | 400.00 s "
            "| 110.00 s | 290.00 s | 5.5x |") in text
    assert "(cold/cold)" in text
    plain = api_snapshot.table(_api(in_use=0))
    assert "No volume was in use" in plain and "| 400.00 s | 7.5x |" in plain


def test_breakdown_table_says_when_and_where() -> None:
    text = api_snapshot.breakdown_table({**PROVENANCE, "servers": 2, "volumes": 3,
                                         "parts": {"nova_db probe": [1.0, 2.0, 3.0]}})
    assert "- commit: 204d773b8a73" in text and "| nova_db probe | 2.00 s |" in text


def _repolls(verified: bool = True, ways: str = "servers: re-polled: 3") -> dict[str, Any]:
    return {**_api(in_use=1), "raw_pages": [40.0, 42.0, 44.0], "repoll_unchanged": [0.4] * 3,
            "repoll_changed": [0.9, 1.0, 1.1], "repoll_changed_each": 100,
            "repoll_unchanged_ways": ways, "repoll_changed_ways": [ways] * 3,
            "openstack_cli_volumes_single": [140.0] * 3,
            "cli_single_listing_verified": verified}


def test_repoll_table_sets_the_re_polls_beside_the_floor_and_the_cli_single_listing() -> None:
    text = api_snapshot.repoll_table(_repolls())
    assert ("| 10002 | 10002 | 42.00 s | 47.00 s | 1.1x | 0.40 s | 1.00 s | 290.00 s "
            "| 5.5x |") in text
    assert "100 servers and 100 volumes had their `updated_at` moved" in text
    assert "Every re-poll re-polled both lists." in text
    assert "no request sent to the compute endpoint" in text
    unverified = api_snapshot.repoll_table(_repolls(False, "volumes: full (fallback: x): 1"))
    assert "NOT VERIFIED" in unverified and "Not every re-poll re-polled" in unverified


COMPUTE = "http://10.0.0.1:8774/v2.1"
DEBUG_SINGLE = (  # what python-openstackclient 10.5 logged on the lab, shortened
    'REQ: curl -g -i -X GET "http://10.0.0.1:8776/v3/p/volumes/detail?all_tenants=True" -H x\n'
    f"REQ: curl -g -i -X GET http://10.0.0.1:5000/v3/{api_snapshot.NO_COMPUTE}/servers/detail "
    "-H x\n"
    "v1 canary-vol in-use 1 __DEFAULT__ False [{'server_id': 's1', 'device': '/dev/vdb'}]\n")


def test_the_cli_single_listing_is_proven_by_its_debug_log() -> None:
    assert api_snapshot.listed_no_server(DEBUG_SINGLE, COMPUTE)
    as_run = DEBUG_SINGLE + f"REQ: curl -g -i -X GET {COMPUTE}/servers/detail -H x\n"
    assert not api_snapshot.listed_no_server(as_run, COMPUTE)
    assert not api_snapshot.listed_no_server("v1 canary-vol in-use", COMPUTE)  # no log at all


def test_the_cli_single_listing_points_compute_at_a_404_without_copying_credentials(
        tmp_path: Path) -> None:
    import yaml

    secure = api_snapshot.no_compute_secure_file("lab", "http://10.0.0.1:5000/v3/", tmp_path)
    assert yaml.safe_load(secure.read_text()) == {"clouds": {"lab": {
        "compute_endpoint_override":
            f"http://10.0.0.1:5000/v3/{api_snapshot.NO_COMPUTE}"}}}

    runs: list[tuple[list[str], dict[str, str]]] = []

    def run(command: list[str], env: Any) -> str:
        runs.append((command, dict(env)))
        return "v1 canary-vol in-use 1 __DEFAULT__ False [{'server_id': 's1'}]"

    def debug(command: list[str], env: Any) -> str:
        runs.append((command, dict(env)))
        return DEBUG_SINGLE

    def endpoint_for(self: object, service_type: str) -> str:
        return {"identity": "http://10.0.0.1:5000/v3", "compute": COMPUTE}[service_type]

    access = type("A", (), {"connection": lambda self: type("C", (), {
        "endpoint_for": endpoint_for})()})()
    found = api_snapshot.measure_cli_single(access, "lab", run=run, debug=debug)
    assert found["cli_single_listing_verified"] is True
    assert len(found["openstack_cli_volumes_single"]) == api_snapshot.RUNS
    assert [command for command, _ in runs] == [api_snapshot.cli_command("lab", "volumes")] * \
        (api_snapshot.RUNS + 1)
    assert all(env["OS_CLIENT_SECURE_FILE"].endswith("secure.yaml") for _, env in runs)


def test_one_percent_changed_moves_updated_at_of_sdbench_rows_only() -> None:
    servers, volumes = api_snapshot.touch_sql(100)
    assert servers.startswith("UPDATE nova.instances SET updated_at = UTC_TIMESTAMP() ")
    assert volumes.startswith("UPDATE cinder.volumes SET updated_at = UTC_TIMESTAMP() ")
    for statement in (servers, volumes):
        assert "display_name LIKE 'sdbench-%'" in statement and statement.endswith("LIMIT 100;")
