"""What the upgrade steps ask of the engine: the record stored and read back with its evidence,
the recorded canaries looked up by id, and the wait for the pre-upgrade state, each failing
with one line and its findings reported."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from stackdrill.cloud.access import CloudAccess
from stackdrill.core.evidence import Evidence
from stackdrill.core.state import Snapshot, Tolerance
from stackdrill.engine.drill import Drill
from stackdrill.engine.upgrade import DIFF, UpgradeError, UpgradeRecord, record_path
from stackdrill.engine.upgrade_phases import (
    CHANGES,
    check_recorded_canaries,
    load_pre_upgrade,
    record_pre_upgrade,
    wait_for_pre_upgrade_state,
)

VALUES: dict[str, Any] = {"cloud/service:nova-compute@compute1/state": "up"}
VERSIONS = {"compute": "2.95"}


class FakeDrill:
    """The drill's evidence, its snapshot of the cloud now, and its tolerance."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.evidence = Evidence()
        self.values = values
        self.tolerance = Tolerance()

    def snapshot(self, label: str) -> Snapshot:
        return Snapshot(2.0, dict(self.values))

    def attached(self) -> dict[str, str]:
        return dict(self.evidence.attachments)


def drill(values: dict[str, Any] | None = None) -> Any:
    return FakeDrill(VALUES if values is None else values)


def config() -> Any:
    return SimpleNamespace(stash=pytest.Stash())


def stored(tmp_path: Path, canaries: dict[str, str] | None = None) -> UpgradeRecord:
    return record_pre_upgrade(cast(Drill, drill()), tmp_path, "prod/east", versions=VERSIONS,
                              canaries=canaries or {"compute1": "5e1f"},
                              baseline=Snapshot(1.0, VALUES), stackdrill_version="0.1.0")


def test_the_record_is_stored_shown_and_read_back(tmp_path: Path) -> None:
    before = drill()
    record = record_pre_upgrade(before, tmp_path, "prod/east", versions=VERSIONS,
                                canaries={"compute1": "5e1f"}, baseline=Snapshot(1.0, VALUES),
                                stackdrill_version="0.1.0")
    path = record_path(tmp_path, "prod/east")
    assert path.is_file() and record.cloud == "prod/east" and record.versions == VERSIONS
    assert before.attached()["pre-upgrade record"] == (
        f"stored at {path}\ncanaries: {{'compute1': '5e1f'}}\nversions: compute 2.95\n"
        f"releases: unknown\nverified state: 1 values")
    after = drill()
    assert load_pre_upgrade(after, tmp_path, "prod/east") == record
    assert '"cloud": "prod/east"' in after.attached()["pre-upgrade record"]
    with pytest.raises(UpgradeError, match="no pre-upgrade record of cloud 'lab'"):
        load_pre_upgrade(after, tmp_path, "lab")


def test_a_recorded_canary_that_is_gone_fails_with_its_findings_reported(
        tmp_path: Path) -> None:
    record = stored(tmp_path, {"compute1": "5e1f", "compute2": "77aa"})
    servers = {"5e1f": SimpleNamespace(name="c1", status="ACTIVE", compute_host="compute1")}
    access = cast(CloudAccess, SimpleNamespace())
    looked_up: list[str] = []

    def lookup(_: CloudAccess, server_id: str) -> Any:
        looked_up.append(server_id)
        return servers.get(server_id)

    here, session = drill(), config()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("stackdrill.engine.upgrade_phases.server_or_none", lookup)
        problem = check_recorded_canaries(session, here, record, access)
        assert looked_up == ["5e1f", "77aa"]
        assert problem == ("the canaries recorded before the upgrade: canary on compute2 "
                           "(server 77aa) is gone")
        assert session.stash[DIFF].canary_problems == ["canary on compute2 (server 77aa) is gone"]
        assert "canary on compute2" in here.attached()[
            "state difference: against the pre-upgrade state"]
        del servers  # every canary there again: nothing to report
        servers = {"5e1f": SimpleNamespace(name="c1", status="ACTIVE", compute_host="compute1"),
                   "77aa": SimpleNamespace(name="c2", status="ACTIVE", compute_host="compute2")}
        assert check_recorded_canaries(config(), drill(), record, access) is None


def test_the_cloud_matching_its_record_passes_with_its_version_changes_reported(
        tmp_path: Path) -> None:
    record, here, session = stored(tmp_path), drill(), config()
    assert wait_for_pre_upgrade_state(session, here, record, lambda: {"compute": "2.96"},
                                      seconds=10) is None
    assert session.stash[DIFF].ok
    assert here.attached()[CHANGES] == "compute API 2.95 -> 2.96"


def test_a_cloud_that_does_not_match_fails_after_its_budget(tmp_path: Path) -> None:
    record, session = stored(tmp_path), config()
    here = drill({"cloud/service:nova-compute@compute1/state": "down"})
    problem = wait_for_pre_upgrade_state(session, here, record, lambda: {}, seconds=2,
                                         budget_scale=0.0)
    assert problem is not None and problem.startswith(
        "the cloud does not match its pre-upgrade state after 2s: 2 deviation(s), first: "
        "compute API: answered 2.95 before the upgrade, does not answer now")
    assert not session.stash[DIFF].ok
