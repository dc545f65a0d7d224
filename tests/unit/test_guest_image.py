"""The canary guest in Glance: uploaded once per build and registration, older builds removed
once no server boots from them."""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from stackdrill.cloud.guest_image import (
    KERNEL,
    KEY_PROPERTY,
    MACHINE,
    RAMDISK,
    GuestFiles,
    ensure_guest_image,
)


class FakeImages:
    def __init__(self) -> None:
        self.images: list[Any] = []
        self.ids = (f"img-{n}" for n in itertools.count())
        self.deleted: list[str] = []

    def images_named(self, name: str) -> list[Any]:
        return [i for i in self.images if i.name == name]

    def create_image(self, name: str, data: bytes, disk_format: str, container_format: str,
                     **kwargs: Any) -> Any:
        properties = {k: v for k, v in kwargs.items()
                      if k not in ("wait", "timeout", "allow_duplicates")}
        image = SimpleNamespace(id=next(self.ids), name=name, status="active", size=len(data),
                                disk_format=disk_format, properties=properties)
        self.images.append(image)
        return image

    def delete_image(self, image: Any, ignore_missing: bool = False) -> None:
        self.images.remove(image)
        self.deleted.append(image.id)


def fake_conn(servers: list[Any] | None = None) -> Any:
    images = FakeImages()
    return SimpleNamespace(
        image=SimpleNamespace(images=images.images_named,
                              create_image=images.create_image,
                              delete_image=images.delete_image, store=images),
        compute=SimpleNamespace(servers=lambda all_projects: servers or []))


def guest(tmp_path: Path, key: str) -> GuestFiles:
    (tmp_path / "vmlinuz").write_bytes(b"kernel")
    (tmp_path / "initrd.gz").write_bytes(b"initrd")
    return GuestFiles(tmp_path / "vmlinuz", tmp_path / "initrd.gz", "console=ttyS0", key)


def test_a_build_is_uploaded_once_as_kernel_ramdisk_and_machine_images(tmp_path: Path) -> None:
    conn = fake_conn()
    machine = ensure_guest_image(conn, guest(tmp_path, "k1"))
    store = conn.image.store
    assert sorted(i.name for i in store.images) == sorted([MACHINE, KERNEL, RAMDISK])
    kernel, ramdisk = store.images_named(KERNEL)[0], store.images_named(RAMDISK)[0]
    assert (kernel.disk_format, ramdisk.disk_format, machine.disk_format) == ("aki", "ari", "raw")
    assert machine.properties["kernel_id"] == kernel.id
    assert machine.properties["ramdisk_id"] == ramdisk.id
    assert machine.properties["os_command_line"] == "console=ttyS0"
    assert ensure_guest_image(conn, guest(tmp_path, "k1")).id == machine.id
    assert len(store.images) == 3


def test_a_new_build_replaces_the_old_images_unless_a_server_boots_from_them(
        tmp_path: Path) -> None:
    conn = fake_conn()
    old = ensure_guest_image(conn, guest(tmp_path, "k1"))
    new = ensure_guest_image(conn, guest(tmp_path, "k2"))
    store = conn.image.store
    assert new.id != old.id and len(store.images) == 3
    assert {i.properties[KEY_PROPERTY] for i in store.images} == {new.properties[KEY_PROPERTY]}

    busy = fake_conn()
    kept = ensure_guest_image(busy, guest(tmp_path, "k1"))
    busy.compute = SimpleNamespace(
        servers=lambda all_projects: [SimpleNamespace(image={"id": kept.id})])
    ensure_guest_image(busy, guest(tmp_path, "k2"))
    assert kept in busy.image.store.images
