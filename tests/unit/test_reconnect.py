"""A command whose SSH connection drops (sshd killed, a partition, a reboot) runs again on a fresh
connection, with backoff, within its timeout, where it may run twice: in a fault's undo and a
recovery's runbook, not in an injection nor in the harness's own bookkeeping. What it took is
in the evidence; an undo whose host stays unreachable stays pending in the journal, with one
line naming the host. Fake connections drop on cue; a fake clock runs the long waits."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from stackdrill.api._fault import Fault
from stackdrill.api._registry import Registries
from stackdrill.api._runbook import Recovery, RunbookStep
from stackdrill.engine.cloud_side import run_quietly
from stackdrill.engine.drill import Drill, DrillError
from stackdrill.engine.journal import Journal
from stackdrill.engine.recover import undo_pending
from stackdrill.hosts import reconnect
from stackdrill.hosts.reconnect import retrying_on_disconnect, run_reconnecting
from stackdrill.hosts.ssh import (
    CommandResult,
    HostAuthError,
    HostError,
    HostKeyError,
    HostTimeout,
    HostUnreachable,
    SshConnection,
)
from stackdrill.hosts.target import Target, Targets
from stackdrill.inventory.loader import parse_inventory

HOSTS = {"controller": {"address": "192.0.2.10", "roles": ["controller"]},
         "compute1": {"address": "192.0.2.11", "roles": ["compute"]}}


class FakeClock:
    """Time that passes only when slept, or when a fake command takes some."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class DroppingConnection:
    """A host's connection on which each command named in ``drops`` loses the connection that
    many times before it runs; while ``down``, every command does (the host is unreachable).
    ``attempts`` keeps each command and the timeout it was given; ``ran`` the commands that
    got an exit status (``exits`` says which, 0 otherwise)."""

    def __init__(self, host: str, drops: dict[str, int] | None = None,
                 clock: FakeClock | None = None, cost: float = 0.0) -> None:
        self.host = host
        self.drops = dict(drops or {})
        self.down = False
        self.exits: dict[str, int] = {}
        self.clock, self.cost = clock, cost
        self.attempts: list[tuple[str, float | None]] = []
        self.ran: list[str] = []

    def run(self, command: str, *, timeout: float | None = None) -> CommandResult:
        self.attempts.append((command, timeout))
        if self.clock is not None:
            self.clock.now += self.cost
        if self.down:
            raise HostUnreachable(f"{self.host} (192.0.2.11:22): unreachable: Connection refused")
        if self.drops.get(command, 0) > 0:
            self.drops[command] -= 1
            raise HostUnreachable(f"{self.host} (192.0.2.11:22): connection lost during "
                                  f"{command!r}: closed before the command's exit status came")
        self.ran.append(command)
        return CommandResult(self.host, command, self.exits.get(command, 0), "done\n", "",
                             time.time(), 0.01)

    def tries(self, command: str) -> int:
        return sum(1 for ran, _ in self.attempts if ran == command)


class RaisingConnection:
    """Every command raises the same error."""

    def __init__(self, error: HostError) -> None:
        self.error = error
        self.calls = 0

    def run(self, command: str, *, timeout: float | None = None) -> CommandResult:
        self.calls += 1
        raise self.error


class Pool:
    def __init__(self, connections: Mapping[str, Any]) -> None:
        self.connections = dict(connections)

    def get(self, name: str) -> Any:
        return self.connections[name]

    def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def quick_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real waits of a real clock, in hundredths of a second."""
    monkeypatch.setattr(reconnect, "FIRST_PAUSE", 0.01)
    monkeypatch.setattr(reconnect, "LONGEST_PAUSE", 0.02)


def cloud(tmp_path: Path, connection: Any, command_timeout: float = 0.5) -> Targets:
    inventory = parse_inventory({"cloud": "unit", "hosts": HOSTS,
                                 "defaults": {"ssh": {"command_timeout": command_timeout}}},
                                tmp_path / "inventory.yaml")
    return Targets(inventory, pool=Pool({"compute1": connection,  # type: ignore[arg-type]
                                         "controller": DroppingConnection("controller")}))


# -- the retry itself ---------------------------------------------------------------------------

def test_a_command_whose_connection_drops_runs_again_on_a_fresh_one_and_says_so(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconnect, "FIRST_PAUSE", 0.5)
    monkeypatch.setattr(reconnect, "LONGEST_PAUSE", 5.0)
    clock = FakeClock()
    connection = DroppingConnection("compute1", {"systemctl start x": 2}, clock, cost=0.1)
    result = run_reconnecting(connection, "compute1", "systemctl start x", 60, clock=clock)
    assert result.ok and connection.ran == ["systemctl start x"]
    assert connection.tries("systemctl start x") == 3
    assert clock.slept == [0.5, 1.0]  # backoff, no fixed sleep
    timeouts = [timeout or 0.0 for _, timeout in connection.attempts]
    assert timeouts[0] == 60 and timeouts == sorted(timeouts, reverse=True)  # what is left
    assert result.reconnected.startswith("reconnected after 3 attempts, 1.8 s\n")
    assert "closed before the command's exit status came" in result.reconnected
    assert "reconnected after 3 attempts" in result.render()


def test_a_host_that_stays_unreachable_fails_at_the_deadline_with_one_line_naming_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconnect, "LONGEST_PAUSE", 5.0)
    clock = FakeClock()
    connection = DroppingConnection("compute1", clock=clock, cost=0.2)
    connection.down = True
    with pytest.raises(HostUnreachable) as caught:
        run_reconnecting(connection, "compute1", "rm -f /x", 10, clock=clock)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("compute1: connection lost and not back within 10s (")
    assert message.endswith("attempts) for 'rm -f /x'; last: compute1 (192.0.2.11:22): "
                            "unreachable: Connection refused")
    assert clock.now <= 10 + 0.2 and max(clock.slept) <= 5.0
    assert len(connection.attempts) > 3


def test_a_non_zero_exit_is_a_result_and_the_command_runs_once() -> None:
    connection = DroppingConnection("compute1")
    connection.exits["false"] = 1
    result = run_reconnecting(connection, "compute1", "false", 5)
    assert result.exit_status == 1 and result.reconnected == ""
    assert len(connection.attempts) == 1


@pytest.mark.parametrize("error", [
    HostTimeout("compute1 (192.0.2.11:22): no answer to 'sleep 99' within 5s"),
    HostAuthError("compute1 (192.0.2.11:22): authentication failed for root"),
    HostKeyError("compute1 (192.0.2.11:22): host key does not match known_hosts"),
])
def test_a_timeout_or_a_refused_key_is_raised_at_once(error: HostError) -> None:
    """A command that timed out may still run; a key will not get better by waiting."""
    connection = RaisingConnection(error)
    with pytest.raises(type(error)):
        run_reconnecting(connection, "compute1", "sleep 99", 5)
    assert connection.calls == 1


def test_a_long_command_is_quoted_on_one_line() -> None:
    connection = DroppingConnection("compute1")
    connection.down = True
    command = "for f in a b c; do\n  " + "x" * 200 + "\ndone"
    with pytest.raises(HostUnreachable) as caught:
        run_reconnecting(connection, "compute1", command, 0.05)
    assert "for 'for f in a b c; do ...'; last:" in str(caught.value)


# -- who retries: Target.run --------------------------------------------------------------------

def test_a_target_retries_inside_an_undo_or_a_recovery_or_when_asked(tmp_path: Path) -> None:
    connection = DroppingConnection("compute1", {"a": 1, "b": 1, "c": 1, "d": 1})
    target = cloud(tmp_path, connection).get("compute1")
    with pytest.raises(HostUnreachable):
        target.run("a")  # outside: an injection, a probe
    assert connection.tries("a") == 1
    with retrying_on_disconnect():
        assert target.run("b").ok
        with pytest.raises(HostUnreachable):
            target.run("c", retry_on_disconnect=False)  # a reboot: never twice
    assert connection.tries("b") == 2 and connection.tries("c") == 1
    assert target.run("d", retry_on_disconnect=True).ok
    assert connection.tries("d") == 2


def test_the_retries_fit_in_the_command_timeout(tmp_path: Path) -> None:
    connection = DroppingConnection("compute1")
    connection.down = True
    target = cloud(tmp_path, connection, command_timeout=30).get("compute1")
    clock = time.monotonic()
    with retrying_on_disconnect(), pytest.raises(HostUnreachable, match=r"within 0\.2s"):
        target.run("true", timeout=0.2)
    assert time.monotonic() - clock < 2


def test_the_recorded_command_says_it_reconnected(tmp_path: Path) -> None:
    connection = DroppingConnection("compute1", {"systemctl start x": 1})
    targets = cloud(tmp_path, connection)
    seen: list[CommandResult] = []
    targets.listeners.append(seen.append)
    with retrying_on_disconnect():
        targets.get("compute1").run("systemctl start x")
    assert len(seen) == 1  # one command in the evidence, with its attempts
    assert seen[0].render().splitlines()[2].startswith("reconnected after 2 attempts, ")


def test_the_harness_bookkeeping_is_never_run_twice(tmp_path: Path) -> None:
    """An append to the journal's mirror that may have run is not appended again."""
    connection = DroppingConnection("compute1", {"printf x >> journal": 1})
    target = cloud(tmp_path, connection).get("compute1")
    with retrying_on_disconnect():
        result = run_quietly(target, "printf x >> journal")
    assert result.exit_status == 255 and "connection lost" in result.stderr
    assert connection.tries("printf x >> journal") == 1


# -- a connection that closes under a command ---------------------------------------------------

class FakeTransport:
    def __init__(self, active: bool) -> None:
        self.active = active
        self.joined: list[float | None] = []

    def is_active(self) -> bool:
        return self.active

    def join(self, timeout: float | None = None) -> None:
        self.joined.append(timeout)


class FakeClient:
    def __init__(self, transport: FakeTransport) -> None:
        self.transport = transport
        self.closed = False

    def get_transport(self) -> FakeTransport:
        return self.transport

    def close(self) -> None:
        self.closed = True


class ClosedChannel:
    """A channel closed with no exit status: paramiko's recv_exit_status then says -1."""

    def __init__(self, transport: FakeTransport, recv_error: Exception | None = None) -> None:
        self.transport = transport
        self.recv_error = recv_error

    def settimeout(self, timeout: float) -> None:
        pass

    def exec_command(self, command: str) -> None:
        pass

    def recv(self, size: int) -> bytes:
        if self.recv_error is not None:
            raise self.recv_error
        return b""

    def recv_stderr_ready(self) -> bool:
        return False

    def recv_ready(self) -> bool:
        return False

    def exit_status_ready(self) -> bool:
        return True

    def recv_exit_status(self) -> int:
        return -1

    def close(self) -> None:
        pass

    def get_transport(self) -> FakeTransport:
        return self.transport


def connection_on(tmp_path: Path, transport: FakeTransport) -> tuple[SshConnection, FakeClient]:
    inventory = parse_inventory({"hosts": HOSTS}, tmp_path / "inventory.yaml")
    connection = SshConnection(inventory.host("compute1"))
    client = FakeClient(transport)
    connection._client = client  # type: ignore[assignment]
    return connection, client


def collect(connection: SshConnection, channel: ClosedChannel) -> CommandResult:
    return connection._collect(channel, "rm -f /x", 5.0, time.time(),  # type: ignore[arg-type]
                               time.monotonic())


def test_a_connection_that_died_under_a_command_is_a_lost_connection_not_exit_minus_one(
        tmp_path: Path) -> None:
    transport = FakeTransport(active=False)
    connection, client = connection_on(tmp_path, transport)
    with pytest.raises(HostUnreachable, match=r"^compute1 \(192.0.2.11:22\): connection lost "
                                              r"during 'rm -f /x': closed before the command's "
                                              r"exit status came$"):
        collect(connection, ClosedChannel(transport))
    assert client.closed and connection._client is None  # the next command connects afresh


def test_a_command_killed_by_a_signal_keeps_its_connection(tmp_path: Path) -> None:
    """sshd sends no exit status for a command killed by a signal; its connection lives on."""
    transport = FakeTransport(active=True)
    connection, client = connection_on(tmp_path, transport)
    result = collect(connection, ClosedChannel(transport))
    assert result.exit_status == -1
    assert transport.joined == [1.0] and not client.closed


def test_a_socket_error_under_a_command_drops_the_connection(tmp_path: Path) -> None:
    transport = FakeTransport(active=True)
    connection, client = connection_on(tmp_path, transport)
    with pytest.raises(HostUnreachable, match="connection lost during 'rm -f /x'"):
        collect(connection, ClosedChannel(transport, EOFError()))
    assert client.closed and connection._client is None


# -- the drill's undo and recovery, recover --pending -------------------------------------------

class CommandFault(Fault):
    """Injects with one command, undoes with another."""

    name = "command_fault"
    description = "runs 'inject-cmd', undone by 'undo-cmd'"

    def plan(self) -> list[str]:
        return ["inject-cmd"]

    def inject(self, facts: Mapping[str, Any]) -> None:
        self.target.run("inject-cmd", check=True)

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        return "injected"

    def undo(self, facts: Mapping[str, Any]) -> None:
        self.target.run("undo-cmd", check=True)


class CommandRecovery(Recovery):
    name = "command_recovery"
    description = "runs 'recover-cmd'"
    params: ClassVar[Mapping[str, Any]] = {}

    def runbook(self) -> list[RunbookStep]:
        return [RunbookStep("recover", lambda: self.target.run("recover-cmd", check=True),
                            ("recover-cmd",))]


def registries() -> Registries:
    found = Registries()
    found.faults.register(CommandFault)
    found.recoveries.register(CommandRecovery)
    return found


@pytest.fixture
def dropping(tmp_path: Path) -> Iterator[tuple[Drill, DroppingConnection, Target]]:
    connection = DroppingConnection("compute1")
    targets = cloud(tmp_path, connection)
    drill = Drill("reconnect", targets, registries(), Journal(tmp_path / "journal.jsonl"))
    drill.record_baseline()
    yield drill, connection, targets.get("compute1")
    drill.close()


def test_an_undo_whose_connection_drops_completes_and_the_evidence_says_so(
        dropping: tuple[Drill, DroppingConnection, Target]) -> None:
    drill, connection, target = dropping
    drill.inject("command_fault", target, {})
    connection.drops["undo-cmd"] = 2  # sshd killed, then still starting
    assert drill.undo_all() == []
    assert connection.tries("undo-cmd") == 3 and connection.ran.count("undo-cmd") == 1
    assert drill.journal.pending() == []
    shown = [text for name, text in drill.evidence.attachments if "undo-cmd" in name]
    assert len(shown) == 1 and "reconnected after 3 attempts, " in shown[0]


def test_an_injection_is_not_run_again_when_its_connection_drops(
        dropping: tuple[Drill, DroppingConnection, Target]) -> None:
    drill, connection, target = dropping
    connection.drops["inject-cmd"] = 1
    with pytest.raises(DrillError, match=r"failed to inject: .*connection lost during"):
        drill.inject("command_fault", target, {})
    assert connection.tries("inject-cmd") == 1
    assert drill.undo_all() == []  # what may have run is undone all the same


def test_an_undo_on_a_host_that_stays_unreachable_stays_pending_naming_the_host(
        dropping: tuple[Drill, DroppingConnection, Target]) -> None:
    drill, connection, target = dropping
    drill.inject("command_fault", target, {})
    connection.down = True
    errors = drill.undo_all()
    assert len(errors) == 1 and "compute1" in errors[0]
    assert [entry.fault for entry in drill.journal.pending()] == ["command_fault"]
    last = json.loads(drill.journal.path.read_text().splitlines()[-1])
    assert last["ok"] is False and "\n" not in last["detail"]
    assert last["detail"].startswith("undo of command_fault on compute1 failed: compute1: "
                                     "connection lost and not back within 0.5s")


def test_a_recovery_step_whose_connection_drops_runs_again(
        dropping: tuple[Drill, DroppingConnection, Target]) -> None:
    drill, connection, target = dropping
    drill.confirm(drill.inject("command_fault", target, {}), timeout=1)
    connection.drops["recover-cmd"] = 1
    record = drill.recover("command_recovery", target, {})
    assert record.ok and connection.tries("recover-cmd") == 2
    assert "reconnected after 2 attempts" in record.steps[0].commands[0].render()


def test_recover_pending_reconnects_and_leaves_an_unreachable_host_pending(
        tmp_path: Path) -> None:
    connection = DroppingConnection("compute1", {"undo-cmd": 1})
    targets = cloud(tmp_path, connection)
    journal = Journal(tmp_path / "journal.jsonl")
    journal.arm("command_fault", "compute1", {}, {})
    lines, failures = undo_pending(journal, targets, registries())
    assert failures == 0 and lines[0].startswith("restored command_fault on compute1")
    journal.arm("command_fault", "compute1", {}, {})
    connection.down = True
    lines, failures = undo_pending(journal, targets, registries())
    assert failures == 1 and lines[0].startswith("FAILED command_fault on compute1")
    assert len(journal.pending()) == 1
    last = json.loads(journal.path.read_text().splitlines()[-1])
    assert last["detail"].startswith("compute1: connection lost and not back within 0.5s")
