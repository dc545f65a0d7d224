"""Forming the HA topology's clusters on its booted controllers, as an operator does the first
time: Galera bootstrapped on the first controller (``galera_new_cluster``) and joined by the
others, until every node is Synced in one Primary component of them all; RabbitMQ nodes joined
to the first one (``join_cluster``) until ``rabbitmqctl cluster_status`` lists them all
running; Keystone's Fernet and credential keys made once and copied to the others. Each wait
polls with a deadline."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from stackdrill.core.waiting import poll
from stackdrill.lab.cloud.ha_configs import ERLANG_COOKIE
from stackdrill.lab.system import LabError
from stackdrill.lab.topology import API_ADDRESS, LabHost, LabPaths

Run = Callable[..., str]
"""``run(host, command, timeout=...)``: a command's output in a lab host; raises LabError."""
GALERA_TIMEOUT = 300.0
RABBITMQ_TIMEOUT = 240.0
KEY_DIRS = ("/etc/keystone/fernet-keys", "/etc/keystone/credential-keys")
WSREP_STATUS = ("wsrep_cluster_size", "wsrep_cluster_status", "wsrep_local_state_comment")


def _owner(root: Path, user: str) -> tuple[int, int]:
    """``user``'s UID and GID in the host's own ``/etc/passwd``."""
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if len(fields) > 3 and fields[0] == user:
            return int(fields[2]), int(fields[3])
    raise LabError(f"{root}/etc/passwd: no user {user}")


def write_erlang_cookie(root: Path, cookie: str) -> None:
    """One Erlang cookie on every RabbitMQ node (0400, the rabbitmq user's), so they may
    cluster."""
    target = root / ERLANG_COOKIE.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.chmod(0o600)
    target.write_text(cookie)
    target.chmod(0o400)
    uid, gid = _owner(root, "rabbitmq")
    os.chown(target, uid, gid)


def wsrep_status(run: Run, host: str) -> dict[str, str]:
    """The node's ``wsrep_cluster_size``, ``wsrep_cluster_status`` and
    ``wsrep_local_state_comment`` (empty when its MariaDB does not answer)."""
    names = ",".join(f"'{name}'" for name in WSREP_STATUS)
    try:
        out = run(host, f"mysql -N -B -u root -e \"SHOW GLOBAL STATUS WHERE Variable_name IN "
                        f"({names})\"", timeout=20)
    except LabError:
        return {}
    return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)


def synced(status: dict[str, str], size: int) -> bool:
    return (status.get("wsrep_cluster_size") == str(size)
            and status.get("wsrep_cluster_status") == "Primary"
            and status.get("wsrep_local_state_comment") == "Synced")


def form_galera(run: Run, controllers: Sequence[LabHost], log: Callable[[str], None],
                timeout: float = GALERA_TIMEOUT) -> None:
    """Bootstrap the first node, start the others (each joins by a state transfer), and wait
    until every node is Synced in a Primary component of all of them."""
    first, *others = [host.name for host in controllers]
    run(first, "galera_new_cluster && systemctl enable --quiet mariadb", timeout=timeout)
    poll(lambda: synced(wsrep_status(run, first), 1), timeout=timeout,
         description=f"{first}: Galera bootstrapped, Synced in a cluster of 1")
    for name in others:
        run(name, "systemctl enable --quiet mariadb && systemctl start --no-block mariadb")

    def all_synced() -> dict[str, dict[str, str]] | None:
        found = {name: wsrep_status(run, name) for name in (first, *others)}
        return found if all(synced(s, len(found)) for s in found.values()) else None

    poll(all_synced, timeout=timeout,
         description=f"Galera: {len(controllers)} nodes Synced in one Primary component")
    log(f"lab cloud: Galera cluster of {len(controllers)} formed")


def wait_database_behind_vip(run: Run, host: str, user: str, password: str,
                             timeout: float = GALERA_TIMEOUT) -> None:
    """Until ``user`` logs in through HAProxy on the VIP (its ``mysql-check`` must first see
    the active node answer), as every service will."""
    command = (f"MYSQL_PWD={shlex.quote(password)} mysql -N -B -h {API_ADDRESS} -u {user} "
               f"-e 'SELECT 1'")

    def answers() -> bool:
        try:
            return run(host, command, timeout=20).strip() == "1"
        except LabError:
            return False

    poll(answers, timeout=timeout, description=f"MariaDB answering {user} through the VIP")


def wait_url_behind_vip(run: Run, host: str, url: str, timeout: float = 120.0) -> None:
    """Until ``url`` answers from ``host`` through HAProxy (which marks a server up only after
    its health checks pass), so that no client meets its 503 meanwhile."""
    def answers() -> bool:
        try:
            run(host, f"curl -fsS -o /dev/null -m 5 {shlex.quote(url)}", timeout=20)
        except LabError:
            return False
        return True

    poll(answers, timeout=timeout, description=f"{url} answering through HAProxy")


def running_nodes(run: Run, host: str) -> list[str]:
    """``rabbitmqctl cluster_status``'s running nodes, as ``host`` sees them."""
    try:
        out = run(host, "rabbitmqctl -q cluster_status --formatter json", timeout=30)
        data = json.loads(out)
    except (LabError, ValueError):
        return []
    nodes = data.get("running_nodes") if isinstance(data, dict) else None
    return sorted(str(node) for node in nodes) if isinstance(nodes, list) else []


def _wait_running(run: Run, host: str, timeout: float) -> None:
    poll(lambda: running_nodes(run, host), timeout=timeout,
         description=f"{host}: RabbitMQ running")


def form_rabbitmq(run: Run, controllers: Sequence[LabHost], log: Callable[[str], None],
                  timeout: float = RABBITMQ_TIMEOUT) -> None:
    """Join every other node to the first one's cluster; wait until all run in it."""
    first, *others = [host.name for host in controllers]
    for name in (first, *others):
        _wait_running(run, name, timeout)
    for name in others:
        if f"rabbit@{first}" in running_nodes(run, name):
            continue  # already a member
        run(name, f"rabbitmqctl -q stop_app && rabbitmqctl -q reset && "
                  f"rabbitmqctl -q join_cluster rabbit@{first} && rabbitmqctl -q start_app",
            timeout=timeout)
    expected = sorted(f"rabbit@{host.name}" for host in controllers)
    poll(lambda: running_nodes(run, first) == expected, timeout=timeout,
         description=f"RabbitMQ: {len(expected)} nodes running in one cluster")
    log(f"lab cloud: RabbitMQ cluster of {len(expected)} formed")


def copy_keystone_keys(paths: LabPaths, controllers: Sequence[LabHost]) -> None:
    """The first controller's Fernet and credential keys, the same on every other one (each
    controller must validate the tokens the others issue)."""
    first, *others = controllers
    for directory in KEY_DIRS:
        source = paths.merged(first.name) / directory.lstrip("/")
        if not source.is_dir():
            raise LabError(f"{first.name}: {directory}: missing after keystone-manage setup")
        for host in others:
            target = paths.merged(host.name) / directory.lstrip("/")
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(source, target, symlinks=True)
