"""The volume check: a volume created on the cloud, settled by Cinder, its reason read from
Cinder's user messages (or the API's refusal), and the volume deleted whatever happened; and the
steps that say it, run in a drill on the fake cloud, with bad sizes refused at collection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openstack.exceptions import HttpException

from stackdrill import cli
from stackdrill.cloud import canary, volume_check
from stackdrill.cloud.access import CloudError
from tests.unit import volume_fakes
from tests.unit.fake_cloud import CONFTEST, fake_project, run_args, stackdrill
from tests.unit.volume_fakes import BACKEND, VOLUME_ID, Access, BlockStorage

NO_BACKEND = "schedule allocate volume:Could not find any available weighted backend."


def check(block: BlockStorage, size: int = 1, timeout: float = 30) -> Any:
    return volume_check.create_volume(Access(block), size, timeout)  # type: ignore[arg-type]


def test_a_failed_volume_says_cinder_s_messages_and_is_deleted() -> None:
    block = BlockStorage(["creating", "error"], messages=[NO_BACKEND, "create volume:again"])
    outcome = check(block, size=3)
    assert (outcome.status, outcome.backend) == ("error", BACKEND)
    # only this volume's messages, oldest first
    assert outcome.reason == f"{NO_BACKEND}; create volume:again"
    assert block.created == [{"name": "stackdrill-volume-check", "size": 3}]
    # the leftover of an earlier run first, then this check's volume; never a canary's
    assert block.deleted == ["old", VOLUME_ID]
    [asked] = block.asked
    assert asked == {"path": "/messages", "params": {"resource_uuid": VOLUME_ID},
                     "microversion": "3.5"}
    assert outcome.render().startswith(
        f"a volume of 3 GiB created on the cloud went error on {BACKEND} in ")
    assert outcome.render().endswith(f"s: {NO_BACKEND}; create volume:again")


def test_a_message_written_after_the_status_is_waited_for() -> None:
    block = BlockStorage(["error"], messages=[NO_BACKEND], messages_after=1)
    assert check(block).reason == NO_BACKEND
    assert len(block.asked) == 2


def test_a_volume_in_error_without_a_message_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(volume_check, "MESSAGE_WAIT", 0.2)
    outcome = check(BlockStorage(["error"]))
    assert outcome.reason == "Cinder recorded no message about the volume"


def test_a_volume_that_becomes_available_has_no_reason() -> None:
    block = BlockStorage(["creating", "available"])
    outcome = check(block)
    assert (outcome.status, outcome.reason, outcome.available) == ("available", "", True)
    assert block.asked == []
    assert block.deleted == ["old", VOLUME_ID]
    assert block.forced == []


def test_a_volume_that_never_settles_fails_and_is_still_deleted() -> None:
    block = BlockStorage(["creating"])
    with pytest.raises(CloudError, match="available or in error"):
        check(block, timeout=0.5)
    assert block.deleted == ["old", VOLUME_ID]
    assert block.forced == [VOLUME_ID]  # Cinder deletes a volume still creating only by force


def test_a_creation_the_api_refuses_is_a_failure_with_the_api_s_answer() -> None:
    refusal = HttpException(message="VolumeSizeExceedsAvailableQuota: Requested volume or "
                                    "snapshot exceeds allowed gigabytes quota.", http_status=413)
    block = BlockStorage(refuse=refusal)
    outcome = check(block, size=100000)
    assert outcome.status == "refused" and not outcome.available
    assert "exceeds allowed gigabytes quota" in outcome.reason
    assert outcome.render().startswith("a volume of 100000 GiB was refused in ")
    assert block.deleted == ["old"]


def test_a_cloud_without_block_storage_is_a_cloud_error() -> None:
    with pytest.raises(CloudError, match="no block storage"):
        check(None)  # type: ignore[arg-type]


def test_the_canary_set_up_removes_leftover_check_volumes(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """Before the canaries are made, the boot check's and the volume check's leftovers go."""
    block = BlockStorage()

    class Compute:
        def servers(self, **query: Any) -> list[Any]:
            return []

    access = Access(block)
    access.conn.compute = Compute()  # type: ignore[attr-defined]

    def stop(conn: Any) -> Any:
        raise CloudError("stopped after the leftovers")

    monkeypatch.setattr(canary, "_image", stop)
    with pytest.raises(CloudError, match="stopped after the leftovers"):
        canary.ensure_canaries(access, ["compute1"])  # type: ignore[arg-type]
    assert block.deleted == ["old"]


# -- the steps, in a drill on the fake cloud ------------------------------------------------------

CLOUD = '''

@pytest.fixture(scope="session")
def cloud_access():
    from tests.unit.volume_fakes import CLOUD
    return CLOUD
'''
STEPS = ('pytest_plugins = ["stackdrill.builtin.steps.drill_steps"]',
         'pytest_plugins = ["stackdrill.builtin.steps.drill_steps",'
         ' "stackdrill.builtin.steps.cloud_steps"]')


def volume_project(tmp_path: Path, *steps: str) -> tuple[Path, Path]:
    feature = ("Feature: the volume check on the fake cloud\n"
               "  Scenario: a volume is created\n" + "".join(f"    {s}\n" for s in steps))
    features, inventory = fake_project(tmp_path, feature)
    assert STEPS[0] in CONFTEST
    (features / "conftest.py").write_text(CONFTEST.replace(*STEPS) + CLOUD)
    return features, inventory


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Access:
    monkeypatch.setattr(volume_fakes, "CLOUD", Access(BlockStorage()))
    return volume_fakes.CLOUD


def test_the_steps_create_a_volume_and_read_its_outcome(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], cloud: Access) -> None:
    features, inventory = volume_project(
        tmp_path, "Then a volume of 2 GiB created on the cloud becomes available within 5 seconds")
    ran = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_OK, ran
    block = cloud.conn.block_storage
    assert block is not None and block.created == [{"name": "stackdrill-volume-check",
                                                    "size": 2}]
    assert block.deleted == ["old", VOLUME_ID]

    cloud.conn.block_storage = BlockStorage(["error"], messages=[NO_BACKEND])
    features, inventory = volume_project(
        tmp_path, 'Then a volume of 1 GiB created on the cloud fails within 5 seconds saying '
                  '"no available weighted backend"')
    ran = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_FAILED, ran  # Cinder said "any available weighted backend"
    assert "expected the volume to fail saying 'no available weighted backend'" in ran.stdout
    assert NO_BACKEND in ran.stdout


def test_a_volume_that_fails_as_expected_passes(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], cloud: Access) -> None:
    cloud.conn.block_storage = BlockStorage(["error"], messages=[NO_BACKEND])
    features, inventory = volume_project(
        tmp_path, 'Then a volume of 1 GiB created on the cloud fails within 5 seconds saying '
                  '"could not find any available weighted backend"')
    ran = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_OK, ran

    cloud.conn.block_storage = BlockStorage(["available"])
    ran = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_FAILED, ran
    assert "expected the volume to fail saying" in ran.stdout
    assert "went available" in ran.stdout


@pytest.mark.parametrize("size", ["0", "-1", "1.5"])
def test_a_bad_size_is_refused_at_collection(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                             cloud: Access, size: str) -> None:
    step = f"Then a volume of {size} GiB created on the cloud becomes available within 5 seconds"
    features, inventory = volume_project(tmp_path, step)
    ran = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    lines = [line for line in ran.stderr.splitlines() if line.strip()]
    assert ran.code == cli.EXIT_BAD_INPUT, ran
    assert len(lines) == 1 and "drills.feature:3: no step definition matches" in lines[0], ran
    assert "Traceback" not in ran.stdout + ran.stderr
    assert cloud.conn.block_storage is not None and cloud.conn.block_storage.created == []
