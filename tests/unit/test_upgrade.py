"""The pre-upgrade record and the post-upgrade comparison: version changes are allowed, anything
else that changed is a deviation, said in a line an operator can act on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from stackdrill.core.state import Rule, Snapshot, Tolerance
from stackdrill.engine.upgrade import (
    UpgradeError,
    UpgradeRecord,
    check_canaries,
    diff,
    load,
    record_path,
    releases_of,
    save,
)

ROOT = Path(__file__).resolve().parents[2]
CANARY = "cloud/server:stackdrill-canary-compute1"
VALUES: dict[str, Any] = {
    f"{CANARY}/status": "ACTIVE", f"{CANARY}/host": "compute1", f"{CANARY}/power_state": 1,
    "cloud/service:nova-compute@compute1/state": "up",
    "host:compute1/unit:libvirtd/active": "active",
    "host:compute1/domain:instance-00000001/qemu_pid": 4242,
}
VERSIONS = {"compute": "2.95", "identity": "3.14", "image": "2.16"}
TOLERANCE = Tolerance([Rule.parse("host:*/domain:*/qemu_pid present")])


def record(values: dict[str, Any] | None = None) -> UpgradeRecord:
    return UpgradeRecord(cloud="prod-east", recorded_at="2025-05-01T10:00:00Z",
                         versions=VERSIONS, canaries={"compute1": "5e1f"},
                         snapshot=Snapshot(1.0, values or VALUES), stackdrill_version="0.1.0")


def test_an_upgrade_that_only_changed_versions_passes() -> None:
    after = {**VERSIONS, "compute": "2.96", "image": "2.17", "placement": "1.39"}
    # a restarted guest keeps running under a new qemu pid: the probes' rule allows it
    found = diff(record(), Snapshot(2.0, {**VALUES, "host:compute1/domain:instance-00000001/"
                                                    "qemu_pid": 5151}), after, TOLERANCE)
    assert found.ok
    assert found.changes() == ["compute API 2.95 -> 2.96", "image API 2.16 -> 2.17"]
    assert found.render() == ("changed as an upgrade may (allowed):\n"
                              "  compute API 2.95 -> 2.96\n  image API 2.16 -> 2.17\n"
                              "deviations from the pre-upgrade state (0):\n  none")


def test_a_deleted_canary_is_a_readable_deviation() -> None:
    gone = {k: v for k, v in VALUES.items() if not k.startswith(CANARY)}
    found = diff(record(), Snapshot(2.0, gone), VERSIONS, TOLERANCE,
                 canary_problems=check_canaries(record(), lambda server_id: None))
    assert not found.ok
    assert found.problems() == [
        "canary on compute1 (server 5e1f) is gone",
        f"{CANARY}/host: 'compute1' -> <absent> (exact)",
        f"{CANARY}/power_state: 1 -> <absent> (exact)",
        f"{CANARY}/status: 'ACTIVE' -> <absent> (exact)",
    ]
    assert found.render().splitlines()[:3] == ["changed as an upgrade may (allowed):",
                                               "  no service version changed",
                                               "deviations from the pre-upgrade state (4):"]


def test_a_service_that_stopped_answering_or_went_back_is_a_deviation() -> None:
    found = diff(record(), Snapshot(2.0, VALUES), {"compute": "2.90", "image": "2.16"},
                 TOLERANCE)
    assert found.problems() == ["compute API went down: 2.95 -> 2.90",
                                "identity API: answered 3.14 before the upgrade, does not "
                                "answer now"]
    assert found.changes() == []


def test_a_changed_service_state_is_a_deviation() -> None:
    found = diff(record(), Snapshot(2.0, {**VALUES, "host:compute1/unit:libvirtd/active":
                                          "failed"}), VERSIONS, TOLERANCE)
    assert found.problems() == ["host:compute1/unit:libvirtd/active: 'active' -> 'failed' "
                                "(exact)"]


@pytest.mark.parametrize(("server", "problem"), [
    (SimpleNamespace(name="c1", status="SHUTOFF", compute_host="compute1"),
     "canary c1 (5e1f) is SHUTOFF, was ACTIVE"),
    (SimpleNamespace(name="c1", status="ACTIVE", compute_host="compute2"),
     "canary c1 (5e1f) moved from compute1 to compute2"),
    (SimpleNamespace(name="c1", status="ACTIVE", compute_host="compute1"), None),
])
def test_canaries_are_checked_by_id(server: Any, problem: str | None) -> None:
    asked: list[str] = []
    found = check_canaries(record(), lambda server_id: asked.append(server_id) or server)
    assert asked == ["5e1f"]
    assert found == ([problem] if problem else [])


def test_the_record_is_stored_per_cloud_and_read_back(tmp_path: Path) -> None:
    path = record_path(tmp_path, "prod/east")
    assert path == tmp_path / "upgrade" / "prod_east.json"
    save(record(), path)
    assert load(path, "prod-east") == record()
    with pytest.raises(UpgradeError, match="recorded for cloud 'prod-east', not 'lab'"):
        load(path, "lab")
    path.write_text("{not json")
    with pytest.raises(UpgradeError, match="not a pre-upgrade record"):
        load(path, "prod-east")


def test_without_a_record_post_upgrade_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(UpgradeError) as raised:
        load(record_path(tmp_path, "lab"), "lab")
    assert str(raised.value) == (f"no pre-upgrade record of cloud 'lab' at {tmp_path}/upgrade/"
                                 f"lab.json: run 'stackdrill run --phase pre-upgrade' before "
                                 f"the upgrade")


@pytest.mark.parametrize(("phase", "expected"), [
    ([], []),
    (["--phase", "pre-upgrade"], ["test_the_state_before_the_upgrade_is_recorded"]),
    (["--phase", "post-upgrade"], ["test_the_cloud_matches_its_preupgrade_state"]),
])
def test_the_phase_selects_its_scenario(phase: list[str], expected: list[str],
                                        tmp_path: Path) -> None:
    # the session's Allure files go to a temporary directory, never to the checkout's reports/
    result = subprocess.run([sys.executable, "-m", "pytest", "features", "--collect-only", "-q",
                             "-p", "no:cacheprovider", f"--alluredir={tmp_path / 'allure'}",
                             *phase], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=False)
    collected = [line for line in result.stdout.splitlines() if "::" in line]
    upgrade = [line.rsplit("::", 1)[1] for line in collected if "features/upgrade" in line]
    assert upgrade == expected, result.stdout + result.stderr
    assert (len(collected) > len(upgrade)) is (not phase)


def test_each_services_release_change_is_listed_and_a_release_that_went_down_deviates() -> None:
    before = UpgradeRecord(cloud="prod-east", recorded_at="2025-05-01T10:00:00Z",
                           versions=VERSIONS, canaries={"compute1": "5e1f"},
                           snapshot=Snapshot(1.0, VALUES), stackdrill_version="0.1.0",
                           releases={"nova": "33.0.2", "cinder": "28.0.0", "glance": "31.0.0"})
    assert UpgradeRecord.from_json(before.to_json()) == before
    now = releases_of({"nova": {"compute1": "33.0.2", "controller": "34.0.0"},
                       "cinder": "27.1.0", "glance": "unknown"})
    assert now == {"nova": "33.0.2 on compute1, 34.0.0 on controller", "cinder": "27.1.0"}
    found = diff(before, Snapshot(2.0, VALUES), VERSIONS, TOLERANCE,
                 releases={**now, "nova": "34.0.0"})
    assert found.changes() == ["nova 33.0.2 -> 34.0.0"]
    assert found.problems() == ["cinder release went down: 28.0.0 -> 27.1.0"]
    # the hosts still differ: listed, never read as a version that went down
    mixed = diff(before, Snapshot(2.0, VALUES), VERSIONS, TOLERANCE, releases=now)
    assert mixed.changes()[0] == "nova 33.0.2 -> 33.0.2 on compute1, 34.0.0 on controller"


def test_a_record_made_before_releases_were_recorded_still_loads() -> None:
    data = record().to_json()
    del data["releases"]
    assert UpgradeRecord.from_json(data).releases == {}
