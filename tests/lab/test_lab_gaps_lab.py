"""The lab's deployment has what Tempest and openstacksdk's functional tests look for, proven
through the APIs on the running lab: Glance lists the resource types of its metadata
definitions; a project member's volume list filtered by name is that volume alone (an admin's
was always filtered; a member's filter was ignored, or refused from microversion 3.33, without
Cinder's resource filters); a snapshot, a volume from it and a clone become available and delete
cleanly; a backup becomes available with its objects in the project's Swift container, and
deleting it deletes them. The volume work runs as a member of a project made for the module,
as a tenant would, and everything it makes is deleted after it."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import openstack
import pytest
from openstack.exceptions import NotFoundException

from stackdrill.cloud.access import CloudAccess
from stackdrill.core.waiting import poll
from stackdrill.lab.cloud.layout import BLOCK_STORAGE_HOST, KEYSTONE_URL, REGION
from stackdrill.lab.lab import Lab

PREFIX = "stackdrill-labgaps-"
TIMEOUT = 180.0
BACKUP_TIMEOUT = 600.0
FAILED = ("error", "error_deleting", "error_restoring", "error_extending")


def unique(kind: str) -> str:
    return f"{PREFIX}{kind}-{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def member(lab: Lab, cloud_access: CloudAccess) -> Iterator[Any]:
    """An openstacksdk connection of a new user with the ``member`` role in a new project;
    what it made is deleted after the module, then the user and the project."""
    identity = cloud_access.connection().identity
    project = identity.create_project(name=unique("project"), domain_id="default")
    password = secrets.token_urlsafe(16)
    user = identity.create_user(name=unique("user"), domain_id="default", password=password,
                                default_project_id=project.id)
    identity.assign_project_role_to_user(project, user, identity.find_role("member"))
    conn = openstack.connect(
        auth_url=KEYSTONE_URL, username=user.name, password=password,
        project_name=project.name, user_domain_name="Default", project_domain_name="Default",
        region_name=REGION, identity_api_version="3", load_yaml_config=False,
        load_envvars=False)
    try:
        yield conn
    finally:
        try:
            clean_up(conn)
        finally:
            conn.close()
            identity.delete_user(user, ignore_missing=True)
            identity.delete_project(project, ignore_missing=True)


def clean_up(conn: Any) -> None:
    """Every backup, snapshot and volume of the project, then its backup container."""
    storage = conn.block_storage
    for backup in list(storage.backups()):
        delete_and_wait(storage.delete_backup, storage.get_backup, backup.id, BACKUP_TIMEOUT)
    for snapshot in list(storage.snapshots()):
        delete_and_wait(storage.delete_snapshot, storage.get_snapshot, snapshot.id)
    for volume in list(storage.volumes()):
        delete_and_wait(storage.delete_volume, storage.get_volume, volume.id)
    for container in list(conn.object_store.containers()):
        for item in list(conn.object_store.objects(container.name)):
            conn.object_store.delete_object(item, container=container.name)
        conn.object_store.delete_container(container.name, ignore_missing=True)


def wait_status(get: Callable[[str], Any], resource_id: str, status: str = "available",
                timeout: float = TIMEOUT) -> Any:
    """The resource once it has ``status``; fails at once on an error status."""
    def reached() -> Any:
        current = get(resource_id)
        assert current.status not in FAILED, f"{resource_id} went {current.status}"
        return current if current.status == status else None

    found, _ = poll(reached, timeout=timeout, description=f"{resource_id} {status}")
    return found


def delete_and_wait(delete: Callable[[str], None], get: Callable[[str], Any], resource_id: str,
                    timeout: float = TIMEOUT) -> None:
    """Deleted and gone, without passing through an error status."""
    delete(resource_id)

    def gone() -> bool:
        try:
            current = get(resource_id)
        except NotFoundException:
            return True
        assert current.status not in FAILED, f"{resource_id} went {current.status}"
        return False

    poll(gone, timeout=timeout, description=f"{resource_id} deleted")


def new_volume(conn: Any, size: int = 1, **source: str) -> Any:
    volume = conn.block_storage.create_volume(name=unique("volume"), size=size, **source)
    return wait_status(conn.block_storage.get_volume, volume.id)


def test_glance_lists_the_resource_types_of_its_metadata_definitions(
        lab: Lab, cloud_access: CloudAccess) -> None:
    names = {kind.name for kind in cloud_access.connection().image.metadef_resource_types()}
    assert {"OS::Glance::Image", "OS::Cinder::Volume", "OS::Nova::Flavor"} <= names, names


@pytest.mark.parametrize("microversion", ["3.0", "3.33"])
def test_a_members_volume_list_filtered_by_name_is_that_volume_alone(
        member: Any, microversion: str) -> None:
    wanted, other = new_volume(member), new_volume(member)
    for path in ("/volumes", "/volumes/detail"):
        response = member.block_storage.get(f"{path}?name={wanted.name}",
                                            microversion=microversion)
        assert response.status_code == 200, response.text
        listed = [volume["id"] for volume in response.json()["volumes"]]
        assert listed == [wanted.id], (path, listed, other.id)
    for volume in (wanted, other):
        delete_and_wait(member.block_storage.delete_volume, member.block_storage.get_volume,
                        volume.id)


def test_a_snapshot_a_volume_from_it_and_a_clone_become_available_and_delete_cleanly(
        member: Any) -> None:
    storage = member.block_storage
    source = new_volume(member)
    snapshot = storage.create_snapshot(volume_id=source.id, name=unique("snapshot"))
    snapshot = wait_status(storage.get_snapshot, snapshot.id)
    assert snapshot.size == 1
    restored = new_volume(member, size=2, snapshot_id=snapshot.id)
    clone = new_volume(member, source_volume_id=source.id)
    assert (restored.size, restored.snapshot_id) == (2, snapshot.id)
    assert clone.source_volume_id == source.id
    for volume in (restored, clone):
        delete_and_wait(storage.delete_volume, storage.get_volume, volume.id)
    delete_and_wait(storage.delete_snapshot, storage.get_snapshot, snapshot.id)
    delete_and_wait(storage.delete_volume, storage.get_volume, source.id)


def backup_objects(conn: Any, container: str, backup_id: str) -> list[str]:
    return [item.name for item in conn.object_store.objects(container)
            if backup_id in item.name]


def test_a_backup_lands_in_swift_and_deleting_it_deletes_its_objects(
        member: Any, cloud_access: CloudAccess) -> None:
    services = [(s.binary, s.host, s.state) for s in
                cloud_access.connection().block_storage.services()]
    assert ("cinder-backup", BLOCK_STORAGE_HOST, "up") in services, services
    storage = member.block_storage
    volume = new_volume(member)
    backup = storage.create_backup(volume_id=volume.id, name=unique("backup"))
    backup = wait_status(storage.get_backup, backup.id, timeout=BACKUP_TIMEOUT)
    assert backup.container == "volumebackups"
    objects = backup_objects(member, backup.container, backup.id)
    assert any(name.endswith("_metadata") for name in objects), objects
    assert wait_status(storage.get_volume, volume.id).status == "available"
    delete_and_wait(storage.delete_backup, storage.get_backup, backup.id, BACKUP_TIMEOUT)
    poll(lambda: not backup_objects(member, backup.container, backup.id), timeout=TIMEOUT,
         description=f"backup {backup.id}'s objects deleted from Swift")
    delete_and_wait(storage.delete_volume, storage.get_volume, volume.id)
