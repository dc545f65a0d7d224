"""A fake Block Storage API for the volume check: a volume that goes through the statuses it is
given, Cinder's user messages about it, an API that may refuse the creation, and a record of
what was created and deleted. :data:`CLOUD` is the one an in-process drill's ``cloud_access``
fixture hands out (see ``test_volume_check``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

VOLUME_ID = "0f0e0d0c-0b0a-4909-8807-060504030201"
BACKEND = "storage1@lab-file#lab-file"


@dataclass
class Response:
    """What openstacksdk's ``proxy.get`` answers, as far as the volume check reads it."""

    body: dict[str, Any]
    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        return self.body


class BlockStorage:
    """Cinder as the volume check asks it: the volume's statuses in turn (the last one
    repeats), the messages Cinder keeps about it from the ``messages_after``-th request on, and
    the leftover of an earlier run beside another project's volume."""

    def __init__(self, states: list[str] | None = None, messages: list[str] | None = None,
                 refuse: Exception | None = None, messages_after: int = 0) -> None:
        self.states: Iterator[str] = iter(states or ["available"])
        self.status = "creating"
        self.messages = messages or []
        self.messages_after = messages_after
        self.refuse = refuse
        self.created: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self.forced: list[str] = []
        self.asked: list[dict[str, Any]] = []
        self.existing = [SimpleNamespace(id="old", name="stackdrill-volume-check"),
                         SimpleNamespace(id="c1", name="stackdrill-canary-compute1-vol"),
                         SimpleNamespace(id="unnamed", name=None)]

    def volumes(self, **query: Any) -> list[Any]:
        return self.existing

    def create_volume(self, **fields: Any) -> Any:
        if self.refuse is not None:
            raise self.refuse
        self.created.append(fields)
        return SimpleNamespace(id=VOLUME_ID, name=fields["name"])

    def get_volume(self, volume_id: str) -> Any:
        self.status = next(self.states, self.status)
        return SimpleNamespace(id=volume_id, status=self.status, host=BACKEND)

    def get(self, path: str, **query: Any) -> Response:
        self.asked.append({"path": path, **query})
        if len(self.asked) <= self.messages_after:
            return Response({"messages": []})
        other = {"id": "m0", "resource_uuid": "another-volume", "user_message": "not this one",
                 "created_at": "2026-01-01T00:00:00"}
        mine = [{"id": f"m{index + 1}", "resource_uuid": VOLUME_ID, "user_message": text,
                 "created_at": f"2026-01-01T00:00:0{index + 1}"}
                for index, text in enumerate(self.messages)]
        return Response({"messages": [other, *reversed(mine)]})

    def delete_volume(self, volume: Any, ignore_missing: bool, force: bool) -> None:
        self.deleted.append(volume.id)
        self.forced += [volume.id] if force else []

    def wait_for_delete(self, volume: Any, wait: int) -> None:
        pass


class Connection:
    def __init__(self, block_storage: BlockStorage | None) -> None:
        self.block_storage = block_storage

    def has_service(self, name: str) -> bool:
        return name == "block-storage" and self.block_storage is not None


class Access:
    """A ``CloudAccess`` whose connection is the fake."""

    def __init__(self, block_storage: BlockStorage | None) -> None:
        self.conn = Connection(block_storage)

    def connection(self) -> Connection:
        return self.conn


CLOUD = Access(BlockStorage())
