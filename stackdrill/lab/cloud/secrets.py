"""The lab cloud's passwords: random per lab, kept in one 0600 file, never in reports."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

NAMES = ("admin", "database", "rabbit", "keystone", "nova", "placement", "glance", "cinder",
         "neutron", "swift", "swift_hash_prefix", "swift_hash_suffix", "erlang_cookie", "vrrp")


@dataclass(frozen=True)
class LabSecrets:
    passwords: dict[str, str]

    def __getitem__(self, name: str) -> str:
        return self.passwords[name]

    @classmethod
    def load_or_create(cls, path: Path) -> LabSecrets:
        if path.exists():
            data = json.loads(path.read_text())
            if set(NAMES) <= set(data):
                return cls(data)
        data = {name: secrets.token_hex(12) for name in NAMES}
        path.touch(mode=0o600)
        path.write_text(json.dumps(data, indent=2))
        return cls(data)
