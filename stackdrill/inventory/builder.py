"""From schema-valid inventory data to an :class:`~stackdrill.inventory.model.Inventory`: the
defaults merged into each host, and the checks the schema cannot state (jump hosts that exist
and form no loop, protected hosts, cluster members and VIP holders that exist, a VIP that is an
IP address, a profile that loads, secrets files that can be read, paths whose ``~``
expands, a ``tempest`` key that can be right, the rule files an ``alerts`` key names)."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from stackdrill.inventory.model import (
    DEFAULT_DEPLOYMENT,
    DEFAULT_KNOWN_HOSTS,
    AlertsSpec,
    CoordinationSpec,
    HostSpec,
    Inventory,
    ProfileSpec,
    ServiceSpec,
    SshSpec,
    TempestSpec,
    UpgradeSpec,
    VipSpec,
)
from stackdrill.inventory.problems import KeyPath, Problem, fail, problem, show

__all__ = ["Builder"]

_SSH_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "user": "root",
        "port": 22,
        "key": None,
        "known_hosts": DEFAULT_KNOWN_HOSTS,
        "strict_host_key_checking": True,
        "jump": None,
        "connect_timeout": 10,
        "command_timeout": 60,
    }
)


def _expand(raw: str, base: Path) -> Path | None:
    try:
        path = Path(raw).expanduser()
    except RuntimeError:
        return None
    return path if path.is_absolute() else base / path


def _ssh_origin(name: str, host_ssh: Mapping[str, Any], key: str) -> KeyPath:
    if key in host_ssh:
        return ("hosts", name, "ssh", key)
    return ("defaults", "ssh", key)


class Builder:
    """Builds one inventory from its data, collecting every problem before it fails."""

    def __init__(self, data: Mapping[str, Any], file: Path) -> None:
        self.data = data
        self.file = file
        self.base = file.parent.absolute()
        self.problems: list[Problem] = []
        defaults = cast(Mapping[str, Any], data.get("defaults") or {})
        self.default_ssh = cast(Mapping[str, Any], defaults.get("ssh") or {})
        self.default_power = cast(Mapping[str, Any] | None, defaults.get("power"))
        self.raw_hosts = cast(Mapping[str, Mapping[str, Any]], data["hosts"])

    def report(self, path: KeyPath, message: str) -> None:
        self.problems.append(problem(path, message))

    def no_host(self, name: object) -> str:
        known = ", ".join(sorted(self.raw_hosts))
        return f"no host named {name!r} (known: {known})"

    def check_timeouts(self, ssh: Mapping[str, Any], prefix: KeyPath) -> None:
        for key in ("connect_timeout", "command_timeout"):
            value = ssh.get(key)
            if isinstance(value, float) and not math.isfinite(value):
                self.report((*prefix, key), f"expected finite number > 0, got {show(value)}")

    def jumps(self) -> dict[str, str | None]:
        default_jump = self.default_ssh.get("jump")
        if default_jump is not None and default_jump not in self.raw_hosts:
            self.report(("defaults", "ssh", "jump"), self.no_host(default_jump))
            default_jump = None
        result: dict[str, str | None] = {}
        for name, raw in self.raw_hosts.items():
            host_ssh = cast(Mapping[str, Any], raw.get("ssh") or {})
            if "jump" not in host_ssh:
                result[name] = None if default_jump == name else default_jump
                continue
            jump = cast(str | None, host_ssh["jump"])
            where: KeyPath = ("hosts", name, "ssh", "jump")
            if jump == name:
                self.report(where, "a host cannot be its own jump host")
                jump = None
            elif jump is not None and jump not in self.raw_hosts:
                self.report(where, self.no_host(jump))
                jump = None
            result[name] = jump
        self.check_loops(result)
        return result

    def check_loops(self, jumps: Mapping[str, str | None]) -> None:
        reported: set[str] = set()
        for name in sorted(jumps):
            chain = [name]
            current = jumps[name]
            while current is not None and current not in chain:
                chain.append(current)
                current = jumps.get(current)
            if current == name and name not in reported:
                reported.update(chain)
                host_ssh = cast(Mapping[str, Any], self.raw_hosts[name].get("ssh") or {})
                loop = " -> ".join([*chain, name])
                self.report(_ssh_origin(name, host_ssh, "jump"), f"jump hosts form a loop: {loop}")

    def path_field(
        self, name: str, host_ssh: Mapping[str, Any], merged: Mapping[str, Any], key: str
    ) -> Path | None:
        raw = merged[key]
        if raw is None:
            return None
        resolved = _expand(cast(str, raw), self.base)
        if resolved is None:
            where = _ssh_origin(name, host_ssh, key)
            if key not in host_ssh and key not in self.default_ssh:
                where = ("hosts", name, "ssh")
            self.report(where, f"cannot expand '~' in {raw!r}: home directory unknown")
        return resolved

    def host(self, name: str, raw: Mapping[str, Any], jump: str | None) -> HostSpec:
        host_ssh = cast(Mapping[str, Any], raw.get("ssh") or {})
        merged = {**_SSH_DEFAULTS, **self.default_ssh, **host_ssh}
        key = self.path_field(name, host_ssh, merged, "key")
        known_hosts = self.path_field(name, host_ssh, merged, "known_hosts")
        ssh = SshSpec(
            user=cast(str, merged["user"]),
            port=int(merged["port"]),
            key=key,
            known_hosts=known_hosts if known_hosts is not None else Path(DEFAULT_KNOWN_HOSTS),
            strict_host_key_checking=bool(merged["strict_host_key_checking"]),
            jump=jump,
            connect_timeout=float(merged["connect_timeout"]),
            command_timeout=float(merged["command_timeout"]),
        )
        power: Mapping[str, Any] | None = None
        host_power = cast(Mapping[str, Any] | None, raw.get("power"))
        if self.default_power is not None or host_power is not None:
            merged_power = {**(self.default_power or {}), **(host_power or {})}
            if "driver" not in merged_power:
                where: KeyPath = (
                    ("hosts", name, "power") if host_power is not None else ("defaults", "power")
                )
                self.report(where, "missing required key 'driver'")
            power = MappingProxyType(merged_power)
        return HostSpec(
            name=name,
            address=cast(str, raw["address"]),
            roles=tuple(cast(list[str], raw["roles"])),
            ssh=ssh,
            power=power,
        )

    def services(self) -> dict[str, ServiceSpec]:
        raw_services = cast(Mapping[str, Mapping[str, str]], self.data.get("services") or {})
        result: dict[str, ServiceSpec] = {}
        for name, raw in raw_services.items():
            container = raw.get("container")
            result[name] = ServiceSpec(
                name=name,
                unit=raw.get("unit"),
                container=container,
                runtime=raw.get("runtime", "docker") if container is not None else None,
            )
        return result

    def profile(self) -> ProfileSpec:
        raw = self.data.get("profile")
        if raw is None:
            return ProfileSpec()
        if isinstance(raw, str):
            named = ProfileSpec(name=raw, declared=True)
            self.check_profile(named, ("profile",))
            return named
        spec = cast(Mapping[str, Any], raw)
        dirs: list[Path] = []
        for index, entry in enumerate(cast(list[str], spec.get("dirs", []))):
            resolved = _expand(entry, self.base)
            if resolved is None:
                self.report(("profile", "dirs", index),
                            f"cannot expand '~' in {entry!r}: home directory unknown")
                continue
            dirs.append(resolved)
        result = ProfileSpec(name=cast(str, spec["name"]), variant=spec.get("variant"),
                             runtime=spec.get("runtime"), dirs=tuple(dirs), declared=True)
        self.check_profile(result, ("profile", "name"))
        return result

    def check_profile(self, spec: ProfileSpec, where: KeyPath) -> None:
        from stackdrill.inventory.profiles import ProfileError, load_profile

        try:
            profile = load_profile(spec.name, spec.dirs)
            if spec.variant is not None:
                profile.variant(name=spec.variant)
        except ProfileError as exc:
            self.report(where, str(exc))

    def protected(self) -> frozenset[str]:
        names = cast(list[str], self.data.get("protected") or [])
        for index, name in enumerate(names):
            if name not in self.raw_hosts:
                self.report(("protected", index), self.no_host(name))
        return frozenset(names)

    def clusters(self) -> Mapping[str, tuple[str, ...]]:
        raw = cast(Mapping[str, list[str]], self.data.get("clusters") or {})
        for cluster, members in raw.items():
            for index, name in enumerate(members):
                if name not in self.raw_hosts:
                    self.report(("clusters", cluster, index), self.no_host(name))
        return MappingProxyType({cluster: tuple(members) for cluster, members in raw.items()})

    def vips(self) -> Mapping[str, VipSpec]:
        """Each VIP with its address checked and its hosts (by default every controller)."""
        raw = cast(Mapping[str, Mapping[str, Any]], self.data.get("vips") or {})
        controllers = sorted(name for name, host in self.raw_hosts.items()
                             if "controller" in cast(list[str], host["roles"]))
        vips = {}
        for name, entry in raw.items():
            address = cast(str, entry["address"])
            try:
                address = str(ipaddress.ip_address(address))
            except ValueError:
                self.report(("vips", name, "address"),
                            f"expected IPv4 or IPv6 address, got {show(address)}")
            hosts = cast(list[str], entry.get("hosts") or controllers)
            for index, host in enumerate(cast(list[str], entry.get("hosts") or [])):
                if host not in self.raw_hosts:
                    self.report(("vips", name, "hosts", index), self.no_host(host))
            if not hosts:
                self.report(("vips", name), "no host may hold it: name its hosts, or give "
                            "the inventory a controller")
            vips[name] = VipSpec(name, address, tuple(hosts))
        return MappingProxyType(vips)

    def secrets_files(self) -> tuple[Path, ...]:
        """Each file resolved and read once here, so a missing or malformed one is bad input."""
        from stackdrill.inventory.secrets import SecretsFileError, file_secrets

        found = []
        for index, raw in enumerate(cast(list[str], self.data.get("secrets_files") or [])):
            path = _expand(raw, self.base)
            try:
                if path is None:
                    raise SecretsFileError(f"cannot expand {raw!r}")
                file_secrets(path)
            except SecretsFileError as exc:
                self.report(("secrets_files", index), str(exc))
                continue
            found.append(path)
        return tuple(found)

    def coordination(self) -> CoordinationSpec:
        """Where the lock and the journal's mirror live; checked against the hosts here, so that
        a lock that cannot be held is refused at load (one line)."""
        from stackdrill.inventory.coordination import coordination_problems, coordination_spec

        raw = self.data.get("coordination")
        if raw is None:
            return CoordinationSpec()
        spec = coordination_spec(cast(Mapping[str, Any], raw))
        controllers = [name for name, host in self.raw_hosts.items()
                       if "controller" in cast(list[str], host["roles"])]
        for key, message in coordination_problems(spec, has_controller=bool(controllers)):
            self.report(("coordination", key), message)
        return spec

    def tempest(self) -> TempestSpec:
        """The cloud's capabilities as Tempest is told them; checked here, so that a spec
        that cannot be right is refused at load (one line)."""
        from stackdrill.inventory.tempest import tempest_problems, tempest_spec

        raw = self.data.get("tempest")
        if raw is None:
            return TempestSpec()
        spec = tempest_spec(cast(Mapping[str, Any], raw))
        for keys, message in tempest_problems(spec):
            self.report(("tempest", *keys), message)
        return spec

    def alerts(self) -> AlertsSpec:
        """The cloud's Alertmanager and its rules; each rule file must be a file here."""
        raw = cast(Mapping[str, Any] | None, self.data.get("alerts"))
        if raw is None:
            return AlertsSpec()
        files = []
        for index, entry in enumerate(cast(list[str], raw.get("rule_files") or [])):
            path = _expand(entry, self.base)
            if path is None or not path.is_file():
                self.report(("alerts", "rule_files", index),
                            f"no such file: {path if path is not None else entry}")
                continue
            files.append(path)
        return AlertsSpec(alertmanager=cast(str, raw["alertmanager"]),
                          prometheus=cast(str | None, raw.get("prometheus")),
                          rule_files=tuple(files), declared=True)

    def build(self) -> Inventory:
        self.check_timeouts(self.default_ssh, ("defaults", "ssh"))
        for name, raw in self.raw_hosts.items():
            self.check_timeouts(
                cast(Mapping[str, Any], raw.get("ssh") or {}), ("hosts", name, "ssh")
            )
        jumps = self.jumps()
        hosts = {name: self.host(name, raw, jumps[name]) for name, raw in self.raw_hosts.items()}
        services = self.services()
        protected = self.protected()
        profile = self.profile()
        clusters = self.clusters()
        vips = self.vips()
        secrets_files = self.secrets_files()
        coordination = self.coordination()
        tempest = self.tempest()
        alerts = self.alerts()
        if self.problems:
            raise fail(self.file, self.data, self.problems)
        return Inventory(
            path=self.file,
            cloud=cast(str | None, self.data.get("cloud")),
            production=bool(self.data.get("production", False)),
            deployment=cast(str, self.data.get("deployment", DEFAULT_DEPLOYMENT)),
            hosts=MappingProxyType(hosts),
            services=MappingProxyType(services),
            protected=protected,
            profile_spec=profile,
            clusters=clusters,
            secrets_files=secrets_files,
            coordination=coordination,
            keystone_tokens_survive=cast(
                bool | None, cast(Mapping[str, Any], self.data.get("keystone") or {}).get(
                    "tokens_survive")),
            vips=vips,
            tempest=tempest,
            upgrade=UpgradeSpec(**{key: str(value) for key, value in cast(
                Mapping[str, Any], self.data.get("upgrade") or {}).items()}),
            alerts=alerts,
        )
