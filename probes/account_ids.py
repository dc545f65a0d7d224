"""The numeric IDs of the users and groups a compute node's files belong to, and how many of
those files belong to no one: the admin guide's UID/GID mismatch, seen from each host.

The IDs are kept per host, so a host whose IDs change shows as a deviation from the verified
state; files left with an ID no user or group has any more are a problem in themselves.

Only the directories that exist are walked, and the absent ones are recorded
(``files/roots_absent``): some may legitimately not exist on a host (``/var/log/nova`` where
Nova logs to the journal), but one that disappears deviates from the verified state, where a
walk that skipped it would read as a healthy 0.
"""

from __future__ import annotations

from typing import Any, ClassVar

from stackdrill.api import Probe, ProbeFailed, ProbeOutput
from stackdrill.hostkit.accounts import lookup_command, parse_lookup, unowned_command
from stackdrill.hosts.target import Target

MARK = "unowned "
ABSENT = "absent "


class AccountIds(Probe):
    name = "account_ids"
    description = ("UIDs and GIDs of nova and libvirt-qemu, and the files under their "
                   "directories that belong to no user or group")
    roles = ("compute",)
    users: ClassVar[tuple[str, ...]] = ("nova", "libvirt-qemu")
    groups: ClassVar[tuple[str, ...]] = ("nova", "libvirt", "kvm")
    paths: ClassVar[tuple[str, ...]] = ("/var/lib/nova", "/var/lib/libvirt", "/etc/nova",
                                        "/etc/libvirt", "/var/log/nova", "/var/log/libvirt")

    def command(self, target: Target) -> str:
        return (f"{lookup_command(self.users, self.groups)}; "
                f"{unowned_command(self.paths)} | sed 's/^/{MARK}/'")

    def parse(self, target: Target, output: ProbeOutput) -> dict[str, Any]:
        text = output.require_ok()
        ids = parse_lookup(text)
        lines = [line[len(MARK):] for line in text.splitlines() if line.startswith(MARK)]
        absent = sorted(line[len(ABSENT):] for line in lines if line.startswith(ABSENT))
        counts = [line for line in lines if not line.startswith(ABSENT)]
        errors = [line for line in counts if line.startswith("error: ")]
        if errors:
            raise ProbeFailed(f"{output.host}: the walk for unowned files failed: "
                              f"{errors[0].removeprefix('error: ')}")
        if len(counts) != 1 or not counts[0].strip().isdigit():
            raise ProbeFailed(f"{output.host}: no count of unowned files in {text!r}")
        values: dict[str, Any] = {f"user:{name}/uid": uid for name, uid in ids.users.items()}
        values |= {f"group:{name}/gid": gid for name, gid in ids.groups.items()}
        values["files/unowned"] = int(counts[0])
        values["files/roots_absent"] = absent
        return values

    def problems(self, values: dict[str, Any]) -> list[str]:
        count = values.get("files/unowned", 0)
        return [f"{count} files under {', '.join(self.paths)} belong to no user or group"
                ] if count else []
