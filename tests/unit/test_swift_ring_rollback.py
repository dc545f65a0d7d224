"""The ring removal's rollback, with its real shell commands run on local directories: each
fake host's ``/etc/swift`` is a directory of its own."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from stackdrill.builtin.recovery.storage_node_rings import (
    BUILDER_FILES,
    RING_FILES,
    RemoveStorageNodeFromRings,
)

from stackdrill.api._runbook import RecoveryContext
from stackdrill.hosts.ssh import CommandResult

FILES = BUILDER_FILES + RING_FILES


@dataclass
class LocalHost:
    name: str
    swift_dir: Path
    roles: tuple[str, ...] = ()

    def run(self, command: str, *, check: bool = False, timeout: float | None = None,
            record: bool = True) -> CommandResult:
        local = command.replace("/etc/swift", str(self.swift_dir))
        done = subprocess.run(["bash", "-c", local], capture_output=True, text=True,
                              check=False)
        if check and done.returncode:
            raise AssertionError(f"{self.name}: {command} failed: {done.stderr}")
        return CommandResult(self.name, command, done.returncode, done.stdout, done.stderr,
                             0.0, 0.0)


class LocalHosts(list[LocalHost]):
    def with_role(self, role: str) -> list[LocalHost]:
        return [host for host in self if role in host.roles]


def contents(swift_dir: Path) -> dict[str, str]:
    return {name: (swift_dir / name).read_text() for name in FILES}


@pytest.fixture
def hosts(tmp_path: Path) -> LocalHosts:
    made = LocalHosts()
    for name, roles in (("controller", ("controller",)), ("storage1", ("storage",)),
                        ("storage2", ("storage",))):
        (tmp_path / name).mkdir()
        for file in FILES:
            (tmp_path / name / file).write_text(f"{file} before the removal\n")
        made.append(LocalHost(name, tmp_path / name, roles))
    return made


def removal(hosts: LocalHosts) -> RemoveStorageNodeFromRings:
    return RemoveStorageNodeFromRings(hosts[2], {},  # type: ignore[arg-type]
                                      RecoveryContext(targets=hosts))  # type: ignore[arg-type]


def change_rings(host: LocalHost) -> None:
    for file in FILES:
        (host.swift_dir / file).write_text(f"{file} without storage2\n")


def test_an_interrupted_removal_puts_the_rings_back_and_copies_them_to_the_other_nodes(
        hosts: LocalHosts) -> None:
    controller, storage1, storage2 = hosts
    before = contents(controller.swift_dir)
    recovery = removal(hosts)
    recovery.keep_rings_before()
    change_rings(controller)  # removed and rebalanced on the builder,
    change_rings(storage1)  # copied to the other node, never to storage2 (it is down)

    done = recovery.rollback()

    assert contents(controller.swift_dir) == before
    assert {f: t for f, t in contents(storage1.swift_dir).items() if f in RING_FILES} == \
        {f: t for f, t in before.items() if f in RING_FILES}
    assert contents(storage2.swift_dir) == before
    assert done == [f"put back {', '.join(FILES)} from before storage2's removal on controller; "
                    f"rings copied to storage1"]
    assert not (controller.swift_dir / "stackdrill-removed-storage2.before").exists()
    assert recovery.rollback() == []  # the copy is used once


def test_a_removal_that_changed_nothing_yet_has_nothing_to_put_back(hosts: LocalHosts) -> None:
    recovery = removal(hosts)
    recovery.keep_rings_before()
    assert recovery.rollback() == []
    assert not (hosts[0].swift_dir / "stackdrill-removed-storage2.before").exists()


def test_a_completed_removal_is_never_rolled_back(hosts: LocalHosts) -> None:
    controller = hosts[0]
    recovery = removal(hosts)
    recovery.keep_rings_before()
    change_rings(controller)
    (controller.swift_dir / "stackdrill-removed-storage2.before" / "complete").touch()
    assert recovery.rollback() == []
    assert all("without storage2" in text for text in contents(controller.swift_dir).values())


def test_without_a_whole_copy_nothing_is_put_back(hosts: LocalHosts) -> None:
    controller = hosts[0]
    (controller.swift_dir / "stackdrill-removed-storage2.before").mkdir()  # copy cut short
    change_rings(controller)
    assert removal(hosts).rollback() == []
    assert all("without storage2" in text for text in contents(controller.swift_dir).values())
