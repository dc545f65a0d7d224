"""Pooled paramiko connections: every call has a timeout, host keys are checked by default, and a
connection that died under us (a host rebooted) is re-established with backoff. A command whose
connection broke before its exit status came raises :class:`HostUnreachable`;
:mod:`stackdrill.hosts.reconnect` runs it again on a fresh connection where that is safe."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paramiko

from stackdrill.core.errors import ActionFailed
from stackdrill.core.waiting import WaitTimeout, poll
from stackdrill.inventory.model import HostSpec, Inventory

log = logging.getLogger(__name__)


class HostError(ActionFailed):
    """A host could not be used; the message is one line naming the host."""


class HostUnreachable(HostError):
    pass


class HostAuthError(HostError):
    pass


class HostKeyError(HostError):
    pass


class HostTimeout(HostError):
    pass


@dataclass(frozen=True)
class CommandResult:
    """What one command did on one host (:meth:`Target.run
    <stackdrill.hosts.target.Target.run>`): the host's name, the command line, its exit
    status, its stdout and stderr (decoded as UTF-8), when it started (wall clock) and how many
    seconds it took. ``render`` is the text the evidence shows. ``reconnected`` is empty, or,
    for a command run again on a fresh connection after its connection was lost
    (:mod:`stackdrill.hosts.reconnect`), how many attempts it took and what each saw."""

    host: str
    command: str
    exit_status: int
    stdout: str
    stderr: str
    started: float
    duration: float
    reconnected: str = ""

    @property
    def ok(self) -> bool:
        """Whether the command exited 0."""
        return self.exit_status == 0

    def render(self) -> str:
        """The command as the evidence shows it: the host and the command line, its exit
        status and duration, then its stdout and stderr."""
        text = f"[{self.host}] $ {self.command}\n(exit {self.exit_status}, {self.duration:.2f}s)\n"
        if self.reconnected:
            text += self.reconnected + "\n"
        if self.stdout:
            text += self.stdout if self.stdout.endswith("\n") else self.stdout + "\n"
        if self.stderr:
            text += "stderr:\n" + self.stderr
        return text


class SshConnection:
    """One host's connection. Thread-safe; reconnects transparently between commands."""

    def __init__(self, spec: HostSpec, sock_factory: Callable[[], socket.socket | paramiko.Channel]
                 | None = None) -> None:
        self.spec = spec
        self._sock_factory = sock_factory
        self._client: paramiko.SSHClient | None = None
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return f"{self.spec.name} ({self.spec.address}:{self.spec.ssh.port})"

    def _connect_once(self) -> paramiko.SSHClient:
        ssh = self.spec.ssh
        client = paramiko.SSHClient()
        if ssh.strict_host_key_checking:
            if not ssh.known_hosts.is_file():
                raise HostKeyError(f"{self.label}: known_hosts file {ssh.known_hosts} not found")
            client.load_host_keys(str(ssh.known_hosts))
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        else:
            log.warning("%s: host key checking is disabled in the inventory", self.label)
            # The inventory opted out of host key checking for this host, explicitly.
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507
        sock = self._sock_factory() if self._sock_factory else None
        try:
            client.connect(
                self.spec.address, port=ssh.port, username=ssh.user,
                key_filename=str(ssh.key) if ssh.key else None,
                timeout=ssh.connect_timeout, banner_timeout=ssh.connect_timeout,
                auth_timeout=ssh.connect_timeout, channel_timeout=ssh.connect_timeout,
                allow_agent=ssh.key is None, look_for_keys=ssh.key is None, sock=sock,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyError(f"{self.label}: host key does not match {ssh.known_hosts}") from exc
        except paramiko.AuthenticationException as exc:
            client.close()
            key = f"key {ssh.key}" if ssh.key else "the agent's and default keys"
            raise HostAuthError(f"{self.label}: authentication failed for {ssh.user} "
                                f"with {key}") from exc
        except paramiko.SSHException as exc:
            client.close()
            if "not found in known_hosts" in str(exc):
                raise HostKeyError(f"{self.label}: host key not in {ssh.known_hosts}") from exc
            raise HostUnreachable(f"{self.label}: SSH failed: {exc}") from exc
        except (OSError, EOFError) as exc:
            client.close()
            reason = exc.strerror or str(exc) if isinstance(exc, OSError) else "connection closed"
            raise HostUnreachable(f"{self.label}: unreachable: {reason or 'timed out'}") from exc
        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(5)
        return client

    def _alive(self) -> paramiko.SSHClient | None:
        client = self._client
        if client is None:
            return None
        transport = client.get_transport()
        if transport is None or not transport.is_active():
            client.close()
            self._client = None
            return None
        return client

    def connect(self) -> None:
        with self._lock:
            if self._alive() is None:
                self._client = self._connect_once()

    def reconnect(self, timeout: float) -> None:
        """Drop the connection and connect again, retrying with backoff until ``timeout``."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

            def attempt() -> paramiko.SSHClient:
                return self._connect_once()

            try:
                self._client, _ = poll(attempt, timeout=timeout, interval=0.3, max_interval=3.0,
                                       description=f"{self.label}: reconnect",
                                       ignore=(HostUnreachable,))
            except WaitTimeout as exc:
                raise HostUnreachable(str(exc)) from exc

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def run(self, command: str, *, timeout: float | None = None) -> CommandResult:
        limit = timeout if timeout is not None else self.spec.ssh.command_timeout
        started = time.time()
        clock = time.monotonic()
        channel = self._channel(limit)
        return self._collect(channel, command, limit, started, clock)

    def _channel(self, timeout: float) -> paramiko.Channel:
        """A new channel on the live connection, connecting first if there is none; a
        connection that cannot give one is dropped (the next command connects afresh)."""
        with self._lock:
            client = self._alive() or self._connect_once()
            self._client = client
            transport = client.get_transport()
            if transport is None:
                raise HostUnreachable(f"{self.label}: connection lost")
            try:
                return transport.open_session(timeout=timeout)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                self._client = None
                client.close()
                raise HostUnreachable(f"{self.label}: connection lost: {exc}") from exc

    def open_session(self, command: str) -> paramiko.Channel:
        """Start ``command`` on a channel of its own and return the channel, its stdin open: a
        remote process that lives as long as the channel does (the drill lock's ``flock`` on
        the first controller). The caller reads, writes and closes it."""
        channel = self._channel(self.spec.ssh.connect_timeout)
        try:
            channel.exec_command(command)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise HostUnreachable(f"{self.label}: cannot open a session: {exc}") from exc
        return channel

    def _lost(self, channel: paramiko.Channel) -> bool:
        """Whether a channel that closed without an exit status closed because its connection
        died (sshd killed, the host rebooting), rather than because the command was killed by
        a signal; a dead connection is forgotten, so that the next command opens a new one.
        A dying transport closes its channels just before it stops: it is given a second."""
        transport = channel.get_transport()
        if transport.is_active():
            transport.join(timeout=1.0)
        if transport.is_active():
            return False
        self._forget(channel)
        return True

    def _forget(self, channel: paramiko.Channel) -> None:
        """Drop the client whose connection ``channel`` ran on (it broke under a command)."""
        with self._lock:
            client = self._client
            if client is not None and client.get_transport() is channel.get_transport():
                client.close()
                self._client = None

    def _collect(self, channel: paramiko.Channel, command: str, limit: float, started: float,
                 clock: float) -> CommandResult:
        deadline = clock + limit
        out, err = bytearray(), bytearray()
        try:
            channel.settimeout(0.2)
            channel.exec_command(command)
            while True:
                if time.monotonic() > deadline:
                    raise HostTimeout(f"{self.label}: no answer to {command!r} "
                                      f"within {limit:.0f}s")
                try:
                    chunk = channel.recv(65536)
                    if chunk:
                        out += chunk
                        continue
                except TimeoutError:
                    pass
                while channel.recv_stderr_ready():
                    err += channel.recv_stderr(65536)
                if channel.exit_status_ready() and not channel.recv_ready():
                    break
            while channel.recv_stderr_ready():
                err += channel.recv_stderr(65536)
            status = channel.recv_exit_status()
        except (paramiko.SSHException, EOFError, OSError) as exc:
            self._forget(channel)
            raise HostUnreachable(f"{self.label}: connection lost during {command!r}: "
                                  f"{exc}") from exc
        finally:
            with contextlib.suppress(paramiko.SSHException, EOFError, OSError):
                channel.close()
        if status == -1 and self._lost(channel):
            raise HostUnreachable(f"{self.label}: connection lost during {command!r}: "
                                  f"closed before the command's exit status came")
        return CommandResult(
            host=self.spec.name, command=command, exit_status=status,
            stdout=out.decode("utf-8", "replace"), stderr=err.decode("utf-8", "replace"),
            started=started, duration=time.monotonic() - clock,
        )


class SshPool:
    """One reusable connection per inventory host; jump hosts are reached through their own."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self._connections: dict[str, SshConnection] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> SshConnection:
        with self._lock:
            conn = self._connections.get(name)
            if conn is None:
                spec = self.inventory.host(name)
                conn = SshConnection(spec, self._jump_factory(spec))
                self._connections[name] = conn
            return conn

    def _jump_factory(self, spec: HostSpec) -> Callable[[], paramiko.Channel] | None:
        jump_name = spec.ssh.jump
        if jump_name is None:
            return None

        def open_channel() -> paramiko.Channel:
            jump = self.get(jump_name)
            jump.connect()
            client = jump._alive()
            transport = client.get_transport() if client else None
            if transport is None:
                raise HostUnreachable(f"{spec.name}: jump host {jump_name} is not connected")
            try:
                return transport.open_channel(
                    "direct-tcpip", (spec.address, spec.ssh.port), ("127.0.0.1", 0),
                    timeout=spec.ssh.connect_timeout)
            except (paramiko.SSHException, OSError) as exc:
                raise HostUnreachable(f"{spec.name}: unreachable through jump host "
                                      f"{jump_name}: {exc}") from exc

        return open_channel

    def close(self) -> None:
        with self._lock:
            for conn in self._connections.values():
                conn.close()
            self._connections.clear()

