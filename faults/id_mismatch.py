"""Give users and groups on one host other numeric IDs than the rest of the cloud has.

This is how a UID/GID mismatch arises (the admin guide, "Recover from a UID/GID mismatch"): a
host is reinstalled or configured by another tool, its packages pick other IDs, and the files it
keeps (instance disks, libvirt's state, a shared instances directory) still carry the old ones,
so they now belong to no one on that host. /etc/passwd and /etc/group are changed; no file is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from stackdrill.api import Fault, FaultError
from stackdrill.core.params import Param, positive_int
from stackdrill.hostkit.accounts import (
    account_names,
    chown_command,
    ids_in_use,
    read_ids,
    set_ids_command,
)


class IdMismatch(Fault):
    name = "id_mismatch"
    description = ("change the UID of users and the GID of groups on a host, as a reinstall "
                   "would, leaving every file with the old IDs")
    params: ClassVar[Mapping[str, Param]] = {
        "users": Param("users whose UID changes, comma-separated", account_names,
                       ["libvirt-qemu"]),
        "groups": Param("groups whose GID changes, comma-separated", account_names,
                        ["kvm"]),
        "shift": Param("the new ID is the old one plus this", positive_int, 1000),
    }

    def _new(self, old: int) -> int:
        return old + int(self.values["shift"])

    def plan(self) -> list[str]:
        shift = self.values["shift"]
        return [set_ids_command(
            {name: f"<uid of {name} + {shift}>" for name in self.values["users"]},
            {name: (f"<gid of {name}>", f"<gid of {name} + {shift}>")
             for name in self.values["groups"]})]

    def prepare(self) -> dict[str, Any]:
        users, groups = self.values["users"], self.values["groups"]
        ids = read_ids(self.target, users, groups)
        missing = [n for n in users if n not in ids.users] + [
            n for n in groups if n not in ids.groups]
        if missing:
            raise FaultError(f"{self.target.name}: no such user or group: {', '.join(missing)}")
        taken = ids_in_use(self.target, map(self._new, ids.users.values()),
                           map(self._new, ids.groups.values()))
        if taken:
            raise FaultError(f"{self.target.name}: the shifted IDs are in use "
                             f"({', '.join(taken)}); choose another shift")
        return {"users": {name: [uid, self._new(uid)] for name, uid in ids.users.items()},
                "groups": {name: [gid, self._new(gid)] for name, gid in ids.groups.items()}}

    def inject(self, facts: Mapping[str, Any]) -> None:
        self.target.run(set_ids_command(
            {name: new for name, (_, new) in facts["users"].items()},
            {name: (old, new) for name, (old, new) in facts["groups"].items()}), check=True)

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        """Every user and group named reads its shifted ID on the host (files keep the old
        ones)."""
        ids = read_ids(self.target, facts["users"], facts["groups"])
        changed = [f"{name} uid {old} -> {new}" for name, (old, new) in facts["users"].items()
                   if ids.users.get(name) == new]
        changed += [f"{name} gid {old} -> {new}" for name, (old, new) in facts["groups"].items()
                    if ids.groups.get(name) == new]
        if len(changed) < len(facts["users"]) + len(facts["groups"]):
            return None
        return f"{self.target.name}: {', '.join(changed)}; files keep the old IDs"

    def undo(self, facts: Mapping[str, Any]) -> None:
        """Put the old IDs back where the fault's are still set (a recovery may have aligned
        them already), and give back to them the files created under the fault's IDs."""
        ids = read_ids(self.target, facts["users"], facts["groups"])
        users = {name: old for name, (old, new) in facts["users"].items()
                 if ids.users.get(name) == new}
        groups = {name: (new, old) for name, (old, new) in facts["groups"].items()
                  if ids.groups.get(name) == new}
        if not users and not groups:
            return
        commands = [set_ids_command(users, groups)]
        commands += [chown_command("uid", facts["users"][name][1], old)
                     for name, old in users.items()]
        commands += [chown_command("gid", new, old) for new, old in groups.values()]
        self.target.run(" && ".join(commands), check=True, timeout=600)
