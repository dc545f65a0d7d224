"""The canary volume left attached to another server is detached from it first."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from stackdrill.cloud.canary import _attached_volume


class _Compute:
    def __init__(self, volumes: _Volumes) -> None:
        self.volumes = volumes
        self.detached: list[tuple[Any, Any, bool]] = []

    def delete_volume_attachment(self, server: Any, volume: Any,
                                 ignore_missing: bool = True) -> None:
        self.detached.append((server, volume, ignore_missing))
        self.volumes.volume.status = "available"
        self.volumes.volume.attachments = []

    def create_volume_attachment(self, server: Any, volume_id: str) -> None:
        self.volumes.volume.status = "in-use"
        self.volumes.volume.attachments = [{"server_id": server}]


class _Volumes:
    def __init__(self) -> None:
        self.volume = SimpleNamespace(id="vol-1", name="canary", status="in-use",
                                      attachments=[{"server_id": "old-server"}])

    def find_volume(self, name: str, **_: Any) -> Any:
        return self.volume

    def get_volume(self, volume_id: str) -> Any:
        return self.volume


def test_a_volume_attached_elsewhere_is_detached_from_that_server_by_server_then_volume(
) -> None:
    volumes = _Volumes()
    compute = _Compute(volumes)
    conn = SimpleNamespace(block_storage=volumes, compute=compute)
    assert _attached_volume(conn, "compute1", "new-server", timeout=5) == "vol-1"
    assert compute.detached == [("old-server", "vol-1", False)]
