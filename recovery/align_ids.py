"""The admin guide's "Recover from a UID/GID mismatch", on a compute node.

"Set the nova UID to the same number in /etc/passwd on all hosts ... Set the libvirt-qemu UID
... Set the nova group ... Set the libvirtd group to the same number in /etc/group on all
hosts ... Stop the services on the compute node. Change all files that the nova user or group
owns. For example: find / -uid 108 -exec chown nova {} \\; ... find / -gid 120 -exec chgrp nova
{} \\; Repeat all steps for the libvirt-qemu files, if required. Restart the services. To verify
that all files use the correct IDs, run the find command."

The number each user and group must have is the one a reference host of the cloud has (by
default another host with the target's first role). Users and groups absent from either host
are left alone.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Recovery, RecoveryFailed, RunbookStep
from stackdrill.core.params import Param, positive_float, word_list
from stackdrill.hostkit.accounts import (
    Ids,
    WalkFailed,
    account_name,
    account_names,
    chown_command,
    ids_in_use,
    owned_command,
    read_ids,
    run_walk,
    set_ids_command,
)
from stackdrill.hostkit.units import start_stopped
from stackdrill.hosts.target import Target

FIND_TIMEOUT = 900.0


class AlignIds(Recovery):
    name = "align_ids"
    description = ("give the nova and libvirt-qemu users and groups the IDs the rest of the "
                   "cloud uses, chown the files left with the old IDs, restart the services")
    params: ClassVar[Mapping[str, Param]] = {
        "users": Param("users to align, comma-separated", account_names,
                       ["nova", "libvirt-qemu"]),
        "groups": Param("groups to align, comma-separated", account_names,
                        ["nova", "libvirt", "kvm"]),
        "reference": Param("the host whose IDs are the cloud's (default: another host with "
                           "the target's first role)", account_name, ""),
        "services": Param("services to stop before the chown, in order; started again in "
                          "reverse", word_list, ["nova-compute", "libvirtd"]),
        "timeout": Param("seconds each service may take to stop or start", positive_float,
                         60.0),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wanted = Ids()
        self.found = Ids()

    def runbook(self) -> list[RunbookStep]:
        users, groups = self.values["users"], self.values["groups"]
        services = self.values["services"]
        return [
            RunbookStep("Read the IDs the cloud uses on the reference host, and this host's",
                        self.read, ("getent passwd " + " ".join(users),
                                    "getent group " + " ".join(groups))),
            RunbookStep("Set the same UIDs in /etc/passwd and GIDs in /etc/group",
                        self.set_ids, ("awk (edit /etc/passwd and /etc/group)",)),
            *[RunbookStep(f"Stop {service} on {self.target.name}",
                          functools.partial(self._act, service, "stop"),
                          (self.target.service(service).command("stop"),))
              for service in services],
            RunbookStep("Change the files that the old IDs own (find / -uid OLD -exec chown)",
                        self.chown, ("find / -uid <old> -exec chown <user> {} +",
                                     "find / -gid <old> -exec chgrp <group> {} +")),
            *[RunbookStep(f"Start {service} on {self.target.name}",
                          functools.partial(self._act, service, "start"),
                          (self.target.service(service).command("start"),))
              for service in reversed(services)],
            RunbookStep("Verify that no file uses an old ID (find)", self.verify,
                        ("find / -uid <old>", "find / -gid <old>")),
        ]

    def _reference(self) -> Target:
        targets = self.context.targets
        if targets is None:
            raise RecoveryFailed("align_ids needs the inventory's other hosts")
        if self.values["reference"]:
            return targets.get(self.values["reference"])
        role = self.target.spec.roles[0] if self.target.spec.roles else ""
        others = [t for t in targets.with_role(role) if t.name != self.target.name]
        if not others:
            raise RecoveryFailed(f"{self.target.name}: no other {role or 'host'} to take the "
                                 f"cloud's IDs from; name one with 'reference'")
        return others[0]

    def read(self) -> None:
        users, groups = self.values["users"], self.values["groups"]
        reference = self._reference()
        self.wanted = read_ids(reference, users, groups)
        self.found = read_ids(self.target, users, groups)
        if not self.wanted.users and not self.wanted.groups:
            raise RecoveryFailed(f"{reference.name} has none of the users {', '.join(users)} "
                                 f"nor the groups {', '.join(groups)}")

    def _changes(self) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
        users = {name: (self.found.users[name], uid) for name, uid in self.wanted.users.items()
                 if name in self.found.users and self.found.users[name] != uid}
        groups = {name: (self.found.groups[name], gid)
                  for name, gid in self.wanted.groups.items()
                  if name in self.found.groups and self.found.groups[name] != gid}
        return users, groups

    def set_ids(self) -> None:
        users, groups = self._changes()
        clashes = ids_in_use(self.target, [new for _, new in users.values()],
                             [new for _, new in groups.values()])
        if clashes:  # the guide: "Choose UIDs or GIDs that are not in use"
            raise RecoveryFailed(f"{self.target.name}: the cloud's IDs are taken here by "
                                 f"{', '.join(clashes)}")
        self.target.run(set_ids_command({name: new for name, (_, new) in users.items()},
                                        groups), check=True)

    def rollback(self) -> list[str]:
        """Interrupted after the services stopped: start them again. The IDs stay as set
        (the fault's undo, if any, puts back its own)."""
        return start_stopped(self.target, list(reversed(self.values["services"])),
                             self.values["timeout"])

    def _act(self, service: str, verb: str) -> None:
        self.target.service(service).act(verb, timeout=self.values["timeout"])

    def chown(self) -> None:
        users, groups = self._changes()
        commands = [chown_command("uid", old, name) for name, (old, _) in users.items()]
        commands += [chown_command("gid", old, name) for name, (old, _) in groups.items()]
        for command in commands:
            self._walk(command)

    def _walk(self, command: str) -> str:
        """One ``find /`` pass; files that vanish during the walk are no failure (the verify
        step looks for what still carries an old ID), any other error is."""
        try:
            return run_walk(self.target, command, FIND_TIMEOUT).stdout
        except WalkFailed as exc:
            raise RecoveryFailed(str(exc)) from exc

    def verify(self) -> None:
        users, groups = self._changes()
        checks = [owned_command("uid", old) for old, _ in users.values()]
        checks += [owned_command("gid", old) for old, _ in groups.values()]
        if not checks:
            return
        left = [path for check in checks for path in self._walk(check).split()]
        if left:
            raise RecoveryFailed(f"{self.target.name}: {len(left)} files still use an old ID, "
                                 f"e.g. {left[0]}")

