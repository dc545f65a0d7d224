"""The power-loss recovery's SQL: the guide's statements, in its order, for saved volumes only."""

from __future__ import annotations

import pytest
from stackdrill.builtin.recovery.recover_after_power_loss import stale_state_sql

VOLUMES = ["689f2e55-ca3c-4b75-9a44-e771c15a6917", "ef2771b8-ef7d-417f-bdd9-2959f1588686"]


def test_statements_follow_the_guide_and_name_only_the_saved_volumes() -> None:
    sql = stale_state_sql(VOLUMES)
    cinder = sql["cinder"]
    assert [s.split(" set ")[1].split(" where ")[0] for s in cinder] == [
        "mountpoint=NULL", "status='available'", "attach_status='detached'",
        "attach_status='detached', deleted=1, deleted_at=NOW()"]
    assert "status<>'error_deleting'" in cinder[1]
    for statement in [*cinder, *sql["nova"]]:
        assert statement.endswith(f"in ('{VOLUMES[0]}', '{VOLUMES[1]}');")
    assert sql["nova"][0].startswith("update block_device_mapping set deleted=id")


def test_anything_but_a_volume_uuid_is_refused_before_it_reaches_sql() -> None:
    with pytest.raises(ValueError):
        stale_state_sql(["x'); drop table volumes; --"])


def test_the_runbook_keeps_the_guides_order() -> None:
    """Save the relations before the SQL erases them, reboot before reattaching: the admin
    guide's "Recover cloud after disaster", in its order."""
    from stackdrill.builtin.recovery.recover_after_power_loss import RecoverAfterPowerLoss

    host = type("Host", (), {"name": "controller"})()
    titles = [step.title for step in RecoverAfterPowerLoss(host, {}).runbook()]  # type: ignore[arg-type]
    order = ["Wait for the APIs", "Save the volume/instance relations", "Clean the stalled state",
             "Reboot each instance", "Reattach the volumes from the saved list"]
    assert len(titles) == len(order)
    assert all(title.startswith(prefix) for title, prefix in zip(titles, order, strict=True))
