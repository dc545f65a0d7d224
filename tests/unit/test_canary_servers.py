"""A canary found still building is waited for, never deleted: a server deleted in BUILD may be
deleted in Nova's database alone and still be spawned on its compute, a domain Nova no longer
knows (found on the lab after a compute's reset)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from stackdrill.cloud import canary


class FakeCompute:
    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses
        self.deleted: list[str] = []
        self.created: list[str] = []
        self.asked_up = ""

    def _server(self, status: str) -> Any:
        return SimpleNamespace(id="s1", name="stackdrill-canary-compute1", status=status,
                               compute_host="compute1", image={"id": "img"})

    def servers(self, all_projects: bool = True) -> list[Any]:
        return [self._server(self.statuses.pop(0))]

    def get_server(self, server_id: str) -> Any:
        return self._server(self.statuses.pop(0))

    def services(self, binary: str, host: str) -> list[Any]:
        self.asked_up = host
        return [SimpleNamespace(state="up")]

    def delete_server(self, server: Any) -> None:
        self.deleted.append(server.id)

    def wait_for_delete(self, server: Any, wait: float) -> None:
        pass

    def create_server(self, **kwargs: Any) -> Any:
        self.created.append(kwargs["name"])
        return self._server("BUILD")


def test_a_canary_still_building_is_waited_for_not_deleted() -> None:
    compute = FakeCompute(["BUILD", "BUILD", "ACTIVE"])
    conn = SimpleNamespace(compute=compute)
    [(host, server)] = canary._servers(conn, ["compute1"], SimpleNamespace(id="img"),
                                       SimpleNamespace(id="flv"))
    assert (host, server.status) == ("compute1", "ACTIVE")
    assert compute.deleted == [] and compute.created == []


def test_a_canary_that_built_into_error_is_replaced() -> None:
    compute = FakeCompute(["BUILD", "ERROR"])
    conn = SimpleNamespace(compute=compute)
    canary._servers(conn, ["compute1"], SimpleNamespace(id="img"), SimpleNamespace(id="flv"))
    assert compute.deleted == ["s1"]
    assert compute.created == ["stackdrill-canary-compute1"]
    assert compute.asked_up == "compute1"  # deleted only through a compute that is up
