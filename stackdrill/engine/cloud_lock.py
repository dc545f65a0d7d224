"""The drill lock held on the cloud, not on the machine that runs the drill, so that runs from
several places (a scheduled runner, a laptop, a CI job) are one at a time.

The inventory's ``coordination.lock`` chooses the backend:

* ``mysql``: the cloud's MySQL or MariaDB through tooz's MySQL driver: ``GET_LOCK`` on a
  connection of its own. The server releases it when that connection dies, whatever killed the
  holder. The URL is the inventory's ``coordination.url``, or the ``[database] connection`` of
  ``coordination.database_config`` read on the first controller (as the ``nova_db`` probe reads
  Nova's).
* ``etcd``, ``redis``: through tooz, at the inventory's URL; their locks are leases that tooz's
  heartbeat keeps alive while the run lives.
* ``ssh``: a lock file on the first controller held by a remote ``flock``
  (:mod:`stackdrill.engine.remote_flock`).

The holder's record (pid, host, start time, what it drills) is kept where a second runner reads
it: in the SSH lock's file, or in ``locks/<cloud>.holder`` on the first controller for the
others (:mod:`stackdrill.engine.cloud_side`). A lock whose holder died is released by its
backend, never by the harness. A drill that stops the backend (the database, with a ``mysql``
lock) or cuts the harness off the first controller loses the lock for a while: :meth:`check`,
before each scenario, takes it again, or stops the run if another run took it meanwhile.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol
from urllib.parse import urlsplit

from stackdrill.core.waiting import WaitTimeout, poll
from stackdrill.engine.cloud_side import HolderBoard, cloud_side, first_controller
from stackdrill.engine.lock_holder import (
    Holder,
    LockError,
    LockHeld,
    LockLost,
    held_message,
    lock_name,
    lock_stem,
    nested_holder,
)
from stackdrill.inventory.model import Inventory

__all__ = ["CloudLock", "LockBackend", "cloud_lock"]


class LockBackend(Protocol):
    """Where a cloud's lock is held."""

    where: str
    seen: Holder | None  # the holder read by a refused take, when the backend keeps it

    def take(self, holder: Holder) -> bool: ...

    def owner(self) -> str | None: ...

    def alive(self) -> bool: ...

    def give_back(self) -> None: ...


class CloudLock:
    """One cloud's drill lock on the cloud's side, with its holder's record."""

    def __init__(self, name: str, backend: LockBackend, board: HolderBoard | None = None,
                 drill: str = "", on_close: Callable[[], None] | None = None) -> None:
        self.name = name
        self.backend = backend
        self.board = board
        self.drill = drill
        self.holder: Holder | None = None
        self.nested_in: Holder | None = None
        self._on_close = on_close

    def __repr__(self) -> str:
        return f"CloudLock({self.name!r}, {self.backend.where!r})"

    @property
    def where(self) -> str:
        return self.backend.where

    @property
    def held(self) -> bool:
        return self.holder is not None

    def acquire(self) -> str | None:
        """Take the lock or raise :class:`LockHeld` naming the holder. A run whose ancestor on
        this machine holds it is covered by that lock (:attr:`nested_in`)."""
        if self.holder is not None or self.nested_in is not None:
            raise LockError(f"{self.where}: already taken by this process")
        try:
            self._take(Holder.mine(self.drill))
        except LockHeld as exc:
            self.nested_in = nested_holder(exc.holder)
            if self.nested_in is None:
                self._close()
                raise
        except LockError:
            self._close()
            raise
        return None

    def _take(self, mine: Holder) -> None:
        if not self.backend.take(mine):
            holder = self._holder()
            raise LockHeld(held_message(self.name, holder, self.where), holder)
        owner = self.backend.owner()
        mine = replace(mine, token=owner) if owner else mine
        if self.board is not None:
            problem = self.board.write(mine.to_json())
            if problem is not None:
                self.backend.give_back()
                raise LockError(f"{self.board.where}: cannot record the drill lock's holder: "
                                f"{problem}")
        self.holder = mine

    def _holder(self) -> Holder | None:
        """Who holds the lock: as the backend saw it, or from the board (read again briefly
        while the holder is still writing it, until it names the backend's owner)."""
        if self.backend.seen is not None or self.board is None:
            return self.backend.seen
        board = self.board
        owner = self.backend.owner()

        def recorded() -> Holder | None:
            found = Holder.parse(board.read())
            return found if found is not None and owner in (None, found.token) else None

        try:
            holder, _ = poll(recorded, timeout=3.0, interval=0.2, max_interval=0.5,
                             description="the lock holder's record")
        except WaitTimeout:
            return None
        return holder

    def check(self) -> str | None:
        """Before each scenario: a lock still held says nothing; a lock its backend dropped (a
        drill stopped the database, or cut this machine off the controller) is taken again,
        with a one-line note; :class:`LockLost` when another run took it meanwhile."""
        if self.holder is None or self.backend.alive():
            return None
        lost = self.holder
        self.holder = None
        self.backend.give_back()
        try:
            self._take(lost)
        except LockHeld as exc:
            self._close()
            raise LockLost(f"the drill lock was lost during the run and another took it: "
                           f"{exc}") from None
        return f"the drill lock ({self.where}) was lost during the run and is held again"

    def release(self) -> None:
        self.nested_in = None
        holder, self.holder = self.holder, None
        if holder is not None:
            if self.board is not None:
                self.board.clear(holder.token)
            self.backend.give_back()
        self._close()

    def _close(self) -> None:
        if self._on_close is not None:
            self._on_close()

    def __enter__(self) -> CloudLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def cloud_lock(inventory: Inventory, drill: str = "") -> CloudLock:
    """The lock the inventory names, with a connection of its own to the first controller."""
    spec = inventory.coordination
    name = lock_name(inventory)
    side = cloud_side(inventory, lock_stem(name))
    targets, controller = first_controller(inventory)
    if spec.lock == "ssh":
        from stackdrill.engine.remote_flock import FlockBackend, Session, channel_session
        from stackdrill.hosts.ssh import HostError
        from stackdrill.hosts.target import Target

        assert isinstance(controller, Target)
        connection = controller.connection

        def open_session(command: str) -> Session:
            try:
                return channel_session(connection.open_session(command))
            except HostError as exc:
                raise LockError(f"the drill lock on {side.host}: {exc}") from None

        backend: LockBackend = FlockBackend(open_session, side.lock_file, side.host)
        return CloudLock(name, backend, None, drill, targets.close)
    board = HolderBoard(controller, side.holder_file)
    if spec.lock == "mysql":
        from stackdrill.engine.mysql_lock import mysql_backend, mysql_lock_key

        backend = mysql_backend(inventory, controller, mysql_lock_key(name))
    else:
        from stackdrill.engine.tooz_lock import ToozBackend

        assert spec.url is not None  # the loader refused etcd and redis without one
        backend = ToozBackend(spec.url, f"stackdrill/{lock_stem(name)}",
                              f"{spec.lock} at {_host_of(spec.url)}")
    return CloudLock(name, backend, board, drill, targets.close)


def _host_of(url: str) -> str:
    return urlsplit(url).hostname or socket.gethostname()
