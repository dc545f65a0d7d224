"""Hosts of a three-controller cloud for the HA probes' tests: each host's commands run in a
local ``sh`` whose ``PATH`` finds that host's fake tools first (``mysql``, ``rabbitmqctl``,
``socat``, ``ip``, ``systemctl``), so a probe's fragment or command runs as a host would run it.
The inventory is a real one, loaded from YAML."""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any, cast

from stackdrill.api._probe import Probe, ProbeOutput, batch_script, split_batch
from stackdrill.hosts.service import Service
from stackdrill.hosts.ssh import CommandResult, HostUnreachable
from stackdrill.hosts.target import Target
from stackdrill.inventory.loader import load_inventory
from stackdrill.inventory.model import Inventory

MARKER = "@@unit-batch"
CONTROLLERS = ("controller1", "controller2", "controller3")
HA_INVENTORY = """\
hosts:
  controller1: {address: 172.31.77.31, roles: [controller]}
  controller2: {address: 172.31.77.32, roles: [controller]}
  controller3: {address: 172.31.77.33, roles: [controller]}
  compute1: {address: 172.31.77.11, roles: [compute]}
clusters:
  galera: [controller1, controller2, controller3]
  rabbitmq: [controller1, controller2, controller3]
vips:
  api: {address: 172.31.77.10}
"""


def ha_inventory(tmp_path: Path, text: str = HA_INVENTORY) -> Inventory:
    path = tmp_path / "inventory.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_inventory(path)


class FakeHost:
    """One host: its name, the inventory, services as systemd units of their own names, and
    ``run``, which runs the command in a local ``sh`` with the host's fake tools; an
    ``unreachable`` host raises as SSH would."""

    def __init__(self, name: str, inventory: Inventory, tools: Path,
                 unreachable: bool = False) -> None:
        self.name = name
        self.inventory = inventory
        self.spec = inventory.hosts[name]
        self.tools = tools
        self.unreachable = unreachable
        self.commands: list[str] = []

    def service(self, name: str) -> Service:
        return Service.for_unit(cast(Target, self), name)

    def env(self) -> dict[str, str]:
        return {**os.environ, "PATH": f"{self.tools}:{os.environ['PATH']}"}

    def run(self, command: str, timeout: float | None = None, record: bool = True,
            **_: Any) -> CommandResult:
        self.commands.append(command)
        if self.unreachable:
            raise HostUnreachable(f"{self.name} (172.31.77.3x:22): unreachable: No route to host")
        started = time.time()
        ran = subprocess.run(["sh", "-c", command], env=self.env(), capture_output=True,
                             text=True, timeout=timeout or 30, check=False)
        return CommandResult(self.name, command, ran.returncode, ran.stdout, ran.stderr,
                             started, time.time() - started)


class FakeTargets:
    """Every host of the inventory, as :class:`FakeHost`s with tools under ``tools/<host>``."""

    def __init__(self, inventory: Inventory, root: Path, unreachable: tuple[str, ...] = ()):
        self.inventory = inventory
        self.hosts = {name: FakeHost(name, inventory, tool_dir(root, name),
                                     name in unreachable)
                      for name in inventory.hosts}

    def get(self, name: str) -> FakeHost:
        return self.hosts[name]


def tool_dir(root: Path, host: str) -> Path:
    path = root / "tools" / host
    path.mkdir(parents=True, exist_ok=True)
    return path


def fake_tool(directory: Path, name: str, body: str) -> None:
    """A small ``sh`` script named ``name`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\n{textwrap.dedent(body)}\n")
    path.chmod(0o755)


def printing(text: str, *, status: int = 0, stderr: str = "") -> str:
    """A tool body that prints ``text`` (and ``stderr``) and exits ``status``."""
    body = f"cat <<'EOF'\n{text}\nEOF\n"
    if stderr:
        body += f"cat >&2 <<'EOF'\n{stderr}\nEOF\n"
    return body + f"exit {status}"


def observe(probe: Probe, host: FakeHost) -> dict[str, Any]:
    """The probe's values from one batched run of its fragment on ``host``, as a snapshot runs
    it (its problems are then those of these values)."""
    target = cast(Target, host)
    fragment = probe.command(target)
    assert fragment is not None
    ran = subprocess.run(["sh", "-c", batch_script([fragment], MARKER)], env=host.env(),
                         capture_output=True, text=True, timeout=30, check=False)
    [section] = split_batch(ran.stdout, ran.stderr, 1, MARKER)
    assert section is not None, ran
    return probe.parse(target, ProbeOutput(host.name, section.stdout, section.stderr,
                                           section.exit_status))
