"""The boot check: a server on one host, settled by Nova, its reason read from the fault and
the failed build steps, and the server deleted whatever happened."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from stackdrill.cloud import boot_check
from stackdrill.cloud.access import CloudError


class Compute:
    def __init__(self, states: list[tuple[str, str | None]], fault: str = "",
                 events: list[dict[str, Any]] | None = None, details: str = "") -> None:
        self.states = iter(states)
        self.fault = fault
        self.details = details
        self.events = events or []
        self.created: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self.existing = [SimpleNamespace(id="old", name="stackdrill-boot-check-compute2"),
                         SimpleNamespace(id="c1", name="stackdrill-canary-compute1")]

    def servers(self, **query: Any) -> list[Any]:
        return self.existing

    def create_server(self, **fields: Any) -> Any:
        self.created.append(fields)
        return SimpleNamespace(id="new", name=fields["name"])

    def get_server(self, server_id: str) -> Any:
        status, task = next(self.states)
        return SimpleNamespace(id=server_id, status=status, task_state=task,
                               fault={"message": self.fault, "details": self.details}
                               if self.fault else None)

    def server_actions(self, server_id: str) -> list[Any]:
        return [SimpleNamespace(request_id="req-1")]

    def get_server_action(self, request_id: str, server_id: str) -> Any:
        return SimpleNamespace(events=self.events)

    def delete_server(self, server: Any, ignore_missing: bool) -> None:
        self.deleted.append(server.id)

    def wait_for_delete(self, server: Any, wait: int) -> None:
        pass


def _access(compute: Compute) -> Any:
    conn = SimpleNamespace(compute=compute)
    return SimpleNamespace(connection=lambda: conn)


def test_a_failed_boot_says_nova_s_reason_and_the_server_is_deleted() -> None:
    trace = ("Traceback (most recent call last):\n  ...\nProcessExecutionError: Unexpected error"
             "\nCommand: cp kernel\nStderr: 'cp: error writing kernel: No space left on device'")
    compute = Compute([("BUILD", "spawning"), ("ERROR", None)],
                      fault="Exhausted all hosts available for retrying build failures",
                      details="Traceback (most recent call last):\n  ...\nRescheduledException:"
                              " re-scheduled\n\nExit code: 1\nStderr: 'No space left'\n",
                      events=[{"event": "compute__do_build_and_run_instance",
                               "result": "Error", "traceback": trace},
                              {"event": "conductor_schedule_and_build_instances",
                               "result": "Success", "traceback": None}])
    outcome = boot_check.boot_on(_access(compute), "compute1", "img", "flv", timeout=30)
    assert outcome.status == "ERROR"
    assert outcome.reason == ("Exhausted all hosts available for retrying build failures; "
                              "RescheduledException: re-scheduled Exit code: 1 Stderr: 'No "
                              "space left'; "
                              "compute__do_build_and_run_instance: ProcessExecutionError: "
                              "Unexpected error Command: cp kernel Stderr: 'cp: error writing "
                              "kernel: No space left on device'")
    assert compute.created == [{"name": "stackdrill-boot-check-compute1", "image_id": "img",
                                "flavor_id": "flv", "networks": "none",
                                "availability_zone": "nova:compute1"}]
    # the leftover of an earlier run first, then this boot's server; never a canary
    assert compute.deleted == ["old", "new"]
    assert "went ERROR" in outcome.render()


def test_a_boot_that_succeeds_has_no_reason() -> None:
    compute = Compute([("ACTIVE", None)])
    outcome = boot_check.boot_on(_access(compute), "compute1", "img", "flv", timeout=30)
    assert (outcome.status, outcome.reason) == ("ACTIVE", "")
    assert compute.deleted == ["old", "new"]


def test_a_boot_that_never_settles_fails_and_still_deletes_its_server() -> None:
    compute = Compute([("BUILD", "spawning")] * 1000)
    with pytest.raises(CloudError, match="ACTIVE or ERROR"):
        boot_check.boot_on(_access(compute), "compute1", "img", "flv", timeout=0.5)
    assert compute.deleted == ["old", "new"]
