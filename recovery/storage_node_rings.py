"""Take a storage node out of the Swift rings while it is down for long, and put it back: the
operations guide's "Shutting Down a Storage Node".

"consider removing the node from the storage ring ... swift-ring-builder <ring>.builder remove
... rebalance ... Next, redistribute the ring files to the other nodes ... When the node is able
to rejoin the cluster, just add it back to the ring ... heavily depends on the original options
used when you originally created your cluster."

The removal records the node's devices (every ``add`` parameter) and the replica counts in
``/etc/swift/stackdrill-removed-<node>.json`` on the ring-builder host; adding back reads them.
It also keeps a copy of the builder and ring files as they were before it changed them: a
removal that fails or is interrupted (Ctrl-C, a SIGKILL then ``recover --pending``) is rolled
back by putting those files back and copying the rings to the other nodes again. A removal that
completed is not rolled back; the node returns with ``add_storage_node_to_rings``.
When fewer devices remain than the ring has replicas (a two-node cluster), ``swift-ring-builder``
refuses to rebalance, so the replica count is lowered to the devices left, and restored when the
node returns; the runbook says so in its steps.
"""

from __future__ import annotations

import base64
import functools
import json
import shlex
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Recovery, RecoveryFailed, RunbookStep, wait
from stackdrill.cloud.swift_canary import account_of
from stackdrill.cloud.swift_replicas import observe_replicas, replica_problems, ring_host
from stackdrill.cloud.swift_ring import (
    RINGS,
    SWIFT_DIR,
    RingDevice,
    RingInfo,
    add_commands,
    builder,
    parse_ring,
    rebalance_commands,
    remove_commands,
    set_replicas_commands,
)
from stackdrill.core.params import Param, positive_float
from stackdrill.hostkit.swift_disks import disk_problems, disk_values
from stackdrill.hosts.power import PowerError
from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import Target

RING_FILES = tuple(f"{ring}.ring.gz" for ring in RINGS)
BUILDER_FILES = tuple(f"{ring}.builder" for ring in RINGS)
# In the copy kept before a removal: written last when the copy is whole, and when the removal
# has completed (a completed removal is never rolled back).
COPY_TAKEN = "taken"
REMOVAL_COMPLETE = "complete"


def saved_path(node: str) -> str:
    return f"{SWIFT_DIR}/stackdrill-removed-{node}.json"


def before_removal(node: str) -> str:
    """Where the builder and ring files are kept as they were before ``node``'s removal."""
    return f"{SWIFT_DIR}/stackdrill-removed-{node}.before"


def run_all(target: Target, commands: list[str], timeout: float = 120.0) -> None:
    """Run each command on ``target`` (recorded), stopping at the first failure."""
    for command in commands:
        target.run(f"cd {SWIFT_DIR} && {command}", check=True, timeout=timeout)


def fully_replicated(values: dict[str, Any]) -> list[str]:
    """What keeps the canaries from being on every primary the ring names (empty: done)."""
    problems = replica_problems(values)
    if not any(path.endswith("/replicas") for path in values):
        problems.append("no canary replicas observed")
    return problems


class SwiftRingRecovery(Recovery):
    """What both ring runbooks share: the ring-builder host, reading rings, pushing them."""

    params: ClassVar[Mapping[str, Param]] = {
        "builder_host": Param("host holding the ring builders (default: the first controller)",
                              str, ""),
        "ip": Param("the node's address in the rings (default: its inventory address)", str, ""),
        "timeout": Param("seconds to wait for replication, and for the node", positive_float,
                         600.0),
    }

    @property
    def address(self) -> str:
        return str(self.values["ip"] or self.target.spec.address)

    def hosts(self) -> list[Target]:
        if self.context.targets is None:
            raise RecoveryFailed(f"recovery {self.name!r} needs the inventory's hosts")
        return list(self.context.targets)

    def builder_host(self) -> Target:
        targets = self.context.targets
        if targets is None:
            raise RecoveryFailed(f"recovery {self.name!r} needs the inventory's hosts")
        if self.values["builder_host"]:
            return targets.get(self.values["builder_host"])
        controllers = targets.with_role("controller")
        if not controllers:
            raise RecoveryFailed("no controller host to build the rings on: set builder_host")
        return controllers[0]

    def rings(self) -> dict[str, RingInfo]:
        host = self.builder_host()
        return {ring: parse_ring(host.run(f"swift-ring-builder {builder(ring)}",
                                          check=True).stdout) for ring in RINGS}

    def push_rings(self, exclude: tuple[str, ...] = ()) -> list[str]:
        """The guide's ``scp *.ring.gz $node:/etc/swift`` for every other Swift host, through
        the harness's own connections (the hosts need no SSH keys to each other); proven by
        the files' checksums on both sides. Returns the hosts the rings were copied to."""
        source = self.builder_host()
        files = " ".join(RING_FILES)
        packed = source.run(f"tar -C {SWIFT_DIR} -czf - {files} | base64 -w0", check=True,
                            record=False).stdout.strip()
        base64.b64decode(packed, validate=True)
        expected = source.run(f"cd {SWIFT_DIR} && md5sum {files}", check=True).stdout
        copied_to = []
        for host in self.hosts():
            if host.name in exclude or host.name == source.name:
                continue
            if not host.run(f"test -d {SWIFT_DIR}", record=False).ok:
                continue
            host.run(f"echo {shlex.quote(packed)} | base64 -d | tar -C {SWIFT_DIR} -xzf -",
                     check=True, record=False)
            copied = host.run(f"cd {SWIFT_DIR} && md5sum {files}", check=True).stdout
            if copied != expected:
                raise RecoveryFailed(f"{host.name}: rings differ from {source.name}'s after "
                                     f"the copy")
            copied_to.append(host.name)
        return copied_to

    def wait_replicated(self, excluded_address: str | None = None) -> None:
        conn = self.cloud()
        account = account_of(conn)
        targets = self.context.targets
        if targets is None:
            raise RecoveryFailed(f"recovery {self.name!r} needs the inventory's hosts")
        last: list[str] = []

        def done() -> bool:
            host = ring_host(targets)
            if host is None:
                raise RecoveryFailed("no host holding /etc/swift/object.ring.gz answers")
            values = observe_replicas(host, account)
            last[:] = fully_replicated(values)
            devices = values.get("swift_ring:object/devices", [])
            if excluded_address and any(d.startswith(f"{excluded_address}:") for d in devices):
                last.append(f"{excluded_address} still in the object ring")
            return not last

        try:
            wait(done, self.values["timeout"], "every canary on each device the ring names")
        except RecoveryFailed as exc:
            raise RecoveryFailed(f"{exc}; last: {'; '.join(last[:3])}") from exc
        host = ring_host(targets)
        if host is not None:
            host.run(f"swift-get-nodes {SWIFT_DIR}/object.ring.gz {account} "
                     f"stackdrill-canary canary-1 | grep -E 'Server:Port|^curl'")


class RemoveStorageNodeFromRings(SwiftRingRecovery):
    name = "remove_storage_node_from_rings"
    description = ("remove a storage node's devices from the account, container and object "
                   "rings, rebalance, copy the rings to the other nodes, wait for replication")

    def runbook(self) -> list[RunbookStep]:
        node = self.target.name
        return [
            RunbookStep(f"Record {node}'s devices and the replica counts",
                        self.record_devices, ("swift-ring-builder <ring>.builder",)),
            RunbookStep(f"Remove {node}'s devices from the rings", self.remove,
                        tuple(remove_commands(self.address))),
            RunbookStep("Rebalance the rings (replica count lowered to the devices left if "
                        "fewer remain)", self.rebalance, tuple(rebalance_commands())),
            RunbookStep(f"Copy the rings to the other nodes (scp *.ring.gz {SWIFT_DIR})",
                        functools.partial(self.push_rings, (node,))),
            RunbookStep("Wait until every canary is fully replicated on the remaining devices",
                        self.replicated_without_node),
        ]

    def record_devices(self) -> None:
        rings = self.rings()
        devices = {ring: [d.to_json() for d in info.devices if d.ip == self.address]
                   for ring, info in rings.items()}
        if not any(devices.values()):
            raise RecoveryFailed(f"no device at {self.address} in the rings")
        saved = {"address": self.address, "devices": devices,
                 "replicas": {ring: info.replicas for ring, info in rings.items()}}
        text = json.dumps(saved, sort_keys=True)
        self.builder_host().run(f"printf '%s\\n' {shlex.quote(text)} > "
                                f"{saved_path(self.target.name)}", check=True)
        self.keep_rings_before()

    def keep_rings_before(self) -> None:
        """Copy the builder and ring files as they are, for a rollback."""
        copy = before_removal(self.target.name)
        files = " ".join(BUILDER_FILES + RING_FILES)
        self.builder_host().run(f"cd {SWIFT_DIR} && rm -rf {copy} && mkdir {copy} && "
                                f"cp -p {files} {copy}/ && touch {copy}/{COPY_TAKEN}",
                                check=True)

    def replicated_without_node(self) -> None:
        self.wait_replicated(self.address)
        self.builder_host().run(f"touch {before_removal(self.target.name)}/{REMOVAL_COMPLETE}",
                                check=True)

    def rollback(self) -> list[str]:
        """A removal that failed or was interrupted before it completed: put the builder and
        ring files back as they were before it, and copy the rings to every other node again
        (the node being removed never got the new ones). Nothing to do if the removal had not
        changed the builders yet, or had completed."""
        host = self.builder_host()
        copy = before_removal(self.target.name)
        if not host.run(f"test -e {copy}/{COPY_TAKEN} && ! test -e {copy}/{REMOVAL_COMPLETE}",
                        record=False).ok:
            return []
        files = BUILDER_FILES + RING_FILES
        changed = host.run(f"cd {SWIFT_DIR} && for f in {' '.join(files)}; do "
                           f"cmp -s \"$f\" {copy}/\"$f\" || echo \"$f\"; done",
                           check=True).stdout.split()
        done = []
        if changed:
            host.run(f"cd {SWIFT_DIR} && " + " && ".join(f"cp -p {copy}/{f} {f}" for f in files),
                     check=True)
            copied = self.push_rings((self.target.name,))
            done.append(f"put back {', '.join(changed)} from before {self.target.name}'s "
                        f"removal on {host.name}; rings copied to "
                        f"{', '.join(copied) or 'no other host'}")
        host.run(f"rm -rf {copy}", check=True)
        return done

    def remove(self) -> None:
        run_all(self.builder_host(), remove_commands(self.address))

    def rebalance(self) -> None:
        host = self.builder_host()
        for ring, info in self.rings().items():
            left = len([d for d in info.devices if d.label not in info.flagged])
            if left < info.replicas:
                run_all(host, [f"swift-ring-builder {builder(ring)} set_replicas {left}"])
        run_all(host, rebalance_commands())


class AddStorageNodeToRings(SwiftRingRecovery):
    name = "add_storage_node_to_rings"
    description = ("bring a storage node back: power it on if it is off, check its disks, "
                   "add its devices back with their original parameters, restore the replica "
                   "count, rebalance, copy the rings everywhere, wait for replication")

    def runbook(self) -> list[RunbookStep]:
        node = self.target.name
        return [
            RunbookStep(f"Wait for {node} to answer (powered on if it is off)", self.node_up),
            RunbookStep(f"Check {node}'s disks are mounted", self.disks_mounted),
            RunbookStep(f"Add {node}'s devices back with their original parameters",
                        self.add_back),
            RunbookStep("Restore the replica count and rebalance the rings", self.rebalance),
            RunbookStep(f"Copy the rings to every node, {node} included",
                        self.push_rings),
            RunbookStep("Wait until every canary is on each device the ring names",
                        self.wait_replicated),
        ]

    def node_up(self) -> None:
        if self.target.spec.power is not None:
            try:
                driver = self.target.power_driver()
                if not driver.is_on():
                    driver.power_on()
            except PowerError as exc:
                raise RecoveryFailed(str(exc)) from exc
        wait(lambda: self.target.run("true", record=False, timeout=5).ok,
             self.values["timeout"], f"{self.target.name} answering over SSH")

    def disks_mounted(self) -> None:
        def mounted() -> bool:
            values = disk_values(self.target)
            return bool(values) and not disk_problems(values)

        wait(mounted, self.values["timeout"], f"{self.target.name}'s Swift disks mounted")
        self.target.run("grep ' /srv/node/' /proc/mounts")

    def saved(self) -> dict[str, Any]:
        result = self.builder_host().run(f"cat {saved_path(self.target.name)}")
        if not result.ok:
            raise RecoveryFailed(f"no record of {self.target.name}'s devices at "
                                 f"{saved_path(self.target.name)} (removed by hand? add them "
                                 f"back with the options the cluster was created with)")
        try:
            data: dict[str, Any] = json.loads(result.stdout)
        except ValueError as exc:
            raise RecoveryFailed(f"{saved_path(self.target.name)}: {exc}") from exc
        return data

    def add_back(self) -> None:
        saved = self.saved()
        present = {ring: {d.label for d in info.devices} for ring, info in self.rings().items()}
        missing = {ring: [RingDevice.from_json(d) for d in devices
                          if RingDevice.from_json(d).label not in present[ring]]
                   for ring, devices in saved["devices"].items()}
        run_all(self.builder_host(), add_commands(missing))

    def rebalance(self) -> None:
        saved = self.saved()
        host = self.builder_host()
        for ring, info in self.rings().items():
            wanted = float(saved["replicas"].get(ring, info.replicas))
            if wanted != info.replicas:
                run_all(host, [set_replicas_commands(wanted)[RINGS.index(ring)]])
        run_all(host, rebalance_commands())

    def push_rings(self, exclude: tuple[str, ...] = ()) -> list[str]:
        try:
            return super().push_rings(exclude)
        except HostError as exc:
            raise RecoveryFailed(str(exc)) from exc
