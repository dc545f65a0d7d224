"""Host snapshots: one batched command per host, bounded fan-out, and slow or dead hosts recorded
as such without stalling the snapshot. The fake connections run the batch in a local ``sh``."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from stackdrill.api._probe import Probe, ProbeOutput, batch_script, split_batch
from stackdrill.core.state import Rule, Snapshot, Tolerance, compare
from stackdrill.engine.snapshot import SnapshotSettings, health_problems, take_snapshot
from stackdrill.hosts.ssh import CommandResult, HostTimeout, HostUnreachable
from stackdrill.hosts.target import Target


class Spec:
    def __init__(self, name: str, roles: tuple[str, ...] = ("compute",)) -> None:
        self.name = name
        self.roles = roles


class LocalConnection:
    """Runs commands in a local shell; counts them, and how many ran at once."""

    def __init__(self, name: str, shared: Shared) -> None:
        self.name = name
        self.shared = shared
        self.commands: list[str] = []
        self.timeout = 60.0

    def run(self, command: str, *, timeout: float | None = None) -> CommandResult:
        self.commands.append(command)
        self.timeout = timeout or 60.0
        with self.shared.lock:
            self.shared.active += 1
            self.shared.most = max(self.shared.most, self.shared.active)
        try:
            self.before()
            done = subprocess.run(command, shell=True, capture_output=True, text=True,
                                  timeout=10, check=False)
        finally:
            with self.shared.lock:
                self.shared.active -= 1
        return CommandResult(self.name, command, done.returncode, done.stdout, done.stderr,
                             time.time(), 0.0)

    def before(self) -> None:
        if self.shared.barrier is not None:
            self.shared.barrier.wait(timeout=5)


class Shared:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.most = 0
        self.barrier: threading.Barrier | None = None
        self.release = threading.Event()


class SlowConnection(LocalConnection):
    """Answers nothing until the command's own timeout, as a hung host does."""

    def before(self) -> None:
        self.shared.release.wait(self.timeout)
        raise HostTimeout(f"{self.name}: no answer within the timeout")


class StuckConnection(LocalConnection):
    """Ignores its timeout altogether (a connect stuck in the kernel)."""

    def before(self) -> None:
        self.shared.release.wait(30)


class DeadConnection(LocalConnection):
    def run(self, command: str, *, timeout: float | None = None) -> CommandResult:
        self.commands.append(command)
        raise HostUnreachable(f"{self.name} (192.0.2.9:22): unreachable: Connection refused")


def target(conn: LocalConnection, roles: tuple[str, ...] = ("compute",)) -> Target:
    return Target(Spec(conn.name, roles), conn, None, [])  # type: ignore[arg-type]


class Hostname(Probe):
    name = "hostname"
    description = "the host's name as the fake sees it"

    def command(self, target: Target) -> str:
        return f"echo {target.name}; echo to-stderr >&2"

    def parse(self, target: Target, output: ProbeOutput) -> dict[str, Any]:
        assert output.stderr == "to-stderr\n"
        return {"name": output.require_ok().strip()}


class Lines(Probe):
    name = "lines"
    description = "multi-line output without a final newline, and a local exit"

    def command(self, target: Target) -> str:
        return "printf 'a\\nb\\nc'; exit 0"

    def parse(self, target: Target, output: ProbeOutput) -> dict[str, Any]:
        return {"lines": output.require_ok().split("\n")}


class Failing(Probe):
    name = "failing"
    description = "exits 3"
    roles = ("compute",)

    def command(self, target: Target) -> str:
        return "echo broken >&2; exit 3"

    def parse(self, target: Target, output: ProbeOutput) -> dict[str, Any]:
        output.require_ok()
        return {}


class Legacy(Probe):
    """The contract before batching: ``observe`` only."""

    name = "legacy"
    description = "observe-only probe"

    def observe(self, target: Target) -> dict[str, Any]:
        return {"legacy": target.run("echo old").stdout.strip()}


@pytest.fixture
def shared() -> Iterator[Shared]:
    state = Shared()
    yield state
    state.release.set()


def test_every_probe_of_a_host_runs_in_one_command(shared: Shared) -> None:
    conns = [LocalConnection(f"c{i}", shared) for i in range(3)]
    health: dict[str, str] = {}
    snap = take_snapshot([target(c) for c in conns], [Hostname(), Lines(), Failing()], health)
    assert [len(c.commands) for c in conns] == [1, 1, 1]
    for conn in conns:
        assert snap.values[f"host:{conn.name}/name"] == conn.name
        assert snap.values[f"host:{conn.name}/lines"] == ["a", "b", "c"]
        assert snap.errors[f"host:{conn.name}/probe:failing"] == f"{conn.name}: exited 3: broken"
        assert snap.sources[f"host:{conn.name}/name"] == f"host:{conn.name}/probe:hostname"
    assert health == {}


def test_roles_choose_the_fragments_and_observe_only_probes_still_work(shared: Shared) -> None:
    conn = LocalConnection("ctl", shared)
    snap = take_snapshot([target(conn, ("controller",))], [Hostname(), Failing(), Legacy()])
    assert snap.values == {"host:ctl/name": "ctl", "host:ctl/legacy": "old"}
    assert snap.errors == {}
    assert len(conn.commands) == 2
    assert "exit 3" not in conn.commands[0]


def test_a_dead_host_is_one_unreachable_fact_that_health_reports(shared: Shared) -> None:
    alive, dead = LocalConnection("c1", shared), DeadConnection("c2", shared)
    targets = [target(alive), target(dead)]
    snap = take_snapshot(targets, [Hostname(), Lines()])
    assert snap.values["host:c1/name"] == "c1"
    assert not any(path.startswith("host:c2/") for path in snap.values)
    assert snap.errors == {"host:c2/ssh": "unreachable: c2 (192.0.2.9:22): unreachable: "
                                          "Connection refused"}
    assert "host:c2/ssh" in health_problems(targets, [Hostname()])
    baseline = Snapshot(0, {**snap.values, "host:c2/name": "c2"}, {})
    kinds = {(d.path, d.kind) for d in compare(baseline, snap, Tolerance())}
    # a value of a host that could not be reached is unknown, not gone
    assert kinds == {("host:c2/name", "unknown"), ("host:c2/ssh", "unobserved")}


def test_a_slow_host_times_out_alone_and_does_not_stall_the_snapshot(shared: Shared) -> None:
    slow = SlowConnection("slow", shared)
    fast = [LocalConnection(f"c{i}", shared) for i in range(5)]
    clock = time.monotonic()
    snap = take_snapshot([target(slow), *map(target, fast)], [Hostname()],
                         settings=SnapshotSettings(workers=4, host_timeout=0.6))
    assert time.monotonic() - clock < 2.0
    assert snap.errors == {"host:slow/ssh": "timeout: slow: no answer within 0.6s"}
    assert {p for p in snap.values} == {f"host:c{i}/name" for i in range(5)}


def test_a_host_that_ignores_its_timeout_is_left_behind(shared: Shared) -> None:
    stuck = StuckConnection("stuck", shared)
    fast = LocalConnection("c1", shared)
    clock = time.monotonic()
    snap = take_snapshot([target(stuck), target(fast)], [Hostname()],
                         settings=SnapshotSettings(workers=2, host_timeout=0.5))
    elapsed = time.monotonic() - clock
    assert elapsed < 2.5, f"the snapshot waited {elapsed:.1f}s for a stuck host"
    assert snap.errors == {"host:stuck/ssh": "timeout: stuck: no answer within 0.5s"}
    assert snap.values == {"host:c1/name": "c1"}


def test_fan_out_is_bounded_by_the_worker_count(shared: Shared) -> None:
    shared.barrier = threading.Barrier(3)
    conns = [LocalConnection(f"c{i:02}", shared) for i in range(12)]
    snap = take_snapshot([target(c) for c in conns], [Hostname()],
                         settings=SnapshotSettings(workers=3, host_timeout=10))
    assert snap.errors == {}
    assert len(snap.values) == 12
    assert shared.most == 3


def test_focus_observes_only_the_named_sources(shared: Shared) -> None:
    conns = [LocalConnection(f"c{i}", shared) for i in range(3)]
    targets = [target(c) for c in conns]
    snap = take_snapshot(targets, [Hostname(), Lines()],
                         focus=frozenset({"host:c1/probe:lines", "host:c2/ssh"}))
    assert [len(c.commands) for c in conns] == [0, 1, 1]
    assert set(snap.values) == {"host:c1/lines", "host:c2/name", "host:c2/lines"}


def test_batch_output_cut_short_is_an_error_of_the_probes_that_lost_their_section() -> None:
    script = batch_script(["echo one", "echo two"], "@@m")
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    cut = done.stdout[: done.stdout.index("two")]
    whole = split_batch(done.stdout, done.stderr, 2, "@@m")
    assert [o.stdout if o else None for o in whole] == ["one\n", "two\n"]
    assert [o.stdout if o else None for o in split_batch(cut, "", 2, "@@m")] == ["one\n", None]


def test_settings_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="workers must be at least 1"):
        SnapshotSettings(workers=0)
    with pytest.raises(ValueError, match="host timeout must be positive"):
        SnapshotSettings(host_timeout=0)


def test_tolerance_rules_of_migrated_probes_still_parse() -> None:
    from stackdrill.builtin.probes.systemd_units import SystemdUnits

    assert SystemdUnits.tolerance_rules() == [Rule.parse("host:*/unit:*/main_pid ignore")]


class FakeCompute:
    def __init__(self, calls: list[tuple[str, dict[str, Any]]]) -> None:
        self.calls = calls

    def services(self, **query: Any) -> list[Any]:
        self.calls.append(("services", query))
        return [type("S", (), {"binary": "nova-compute", "host": "c1", "state": "up",
                               "status": "enabled", "disabled_reason": None})()]

    def hypervisors(self, **query: Any) -> list[Any]:
        self.calls.append(("hypervisors", query))
        return [type("H", (), {"name": "c1", "state": "up", "status": "enabled"})()]

    def get(self, path: str, params: dict[str, Any]) -> Any:
        return paged(self.calls, "servers", path, params, [
            {"id": f"id{n}", "name": f"vm{n}", "status": "ACTIVE", "OS-EXT-SRV-ATTR:host": "c1",
             "OS-EXT-STS:power_state": 1} for n in (1, 2, 3)])


class FakeResponse:
    status_code = 200

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def json(self) -> dict[str, Any]:
        return self.body


def paged(calls: list[tuple[str, dict[str, Any]]], key: str, path: str,
          params: dict[str, Any], items: list[dict[str, Any]],
          max_limit: int = 1000) -> FakeResponse:
    """One page of ``items`` as Nova and Cinder answer ``?limit=&marker=``: at most their
    ``max_limit``, with a next link when the page is full."""
    calls.append((f"GET {path}", params))
    ids = [item["id"] for item in items]
    start = ids.index(params["marker"]) + 1 if "marker" in params else 0
    limit = min(params["limit"], max_limit)
    page = items[start:start + limit]
    links = [{"rel": "next", "href": f"{path}?marker={page[-1]['id']}"}] \
        if len(page) == limit else []
    return FakeResponse({key: page, f"{key}_links": links})


class FakeConnection:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.compute = FakeCompute(self.calls)
        self.image = self
        self.block_storage = self

    def has_service(self, name: str) -> bool:
        return True

    def images(self, **query: Any) -> list[Any]:
        self.calls.append(("images", query))
        return [type("I", (), {"name": "cirros", "status": "active"})()]

    def services(self, **query: Any) -> list[Any]:
        self.calls.append(("volume services", query))
        return [type("S", (), {"binary": "cinder-volume", "host": "st1@file", "state": "up",
                               "status": "enabled"})()]

    def get(self, path: str, params: dict[str, Any]) -> Any:
        return paged(self.calls, "volumes", path, params, [
            {"name": "v1", "id": "x", "status": "in-use",
             "attachments": [{"server_id": "s1", "device": "/dev/vdb"}]},
            {"name": "", "id": "y", "status": "available", "attachments": []}])


def test_the_cloud_probe_lists_each_kind_once_with_full_pages(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from stackdrill.builtin.probes.cloud_api import CloudApi
    from stackdrill.builtin.probes.cloud_images import CloudImages

    from stackdrill.api._probe import CloudContext

    monkeypatch.setattr("stackdrill.builtin.probes.cloud_api.PAGE", 2)
    monkeypatch.setattr("stackdrill.builtin.probes.cloud_images.PAGE", 2)
    conn = FakeConnection()
    access = type("Access", (), {"connection": lambda self: conn})()
    context = CloudContext(access, [])  # type: ignore[arg-type]
    values = {**CloudApi().observe_cloud(context), **CloudImages().observe_cloud(context)}
    assert values == {
        "service:nova-compute@c1/state": "up", "service:nova-compute@c1/status": "enabled",
        "service:nova-compute@c1/disabled_reason": None,
        "hypervisor:c1/state": "up", "hypervisor:c1/status": "enabled",
        **{f"server:vm{n}/{field}": value for n in (1, 2, 3)
           for field, value in (("status", "ACTIVE"), ("host", "c1"), ("power_state", 1))},
        "volume:v1/status": "in-use", "volume:v1/attached_to": ["s1"],
        "volume:v1/devices": ["/dev/vdb"],
        "volume:y/status": "available", "volume:y/attached_to": [], "volume:y/devices": [],
        "service:cinder-volume@st1@file/state": "up",
        "service:cinder-volume@st1@file/status": "enabled",
        "image:cirros/status": "active"}
    kinds = sorted(kind for kind, _ in conn.calls)
    assert kinds == ["GET /servers/detail", "GET /servers/detail", "GET /volumes/detail",
                     "GET /volumes/detail", "hypervisors", "images", "services",
                     "volume services"]
    pages = [(kind, query) for kind, query in conn.calls if kind.startswith("GET")]
    assert sorted(pages, key=lambda page: page[0]) == [
        ("GET /servers/detail", {"all_tenants": 1, "limit": 2}),
        ("GET /servers/detail", {"all_tenants": 1, "limit": 2, "marker": "id2"}),
        ("GET /volumes/detail", {"all_tenants": 1, "limit": 2}),
        # a full last page links a next one, which is empty
        ("GET /volumes/detail", {"all_tenants": 1, "limit": 2, "marker": "y"})]
    assert dict(conn.calls)["images"]["limit"] == 2


def test_pages_shorter_than_asked_are_followed_while_the_service_links_a_next_one() -> None:
    from stackdrill.builtin.probes.cloud_api import json_pages

    calls: list[tuple[str, dict[str, Any]]] = []
    items = [{"id": f"s{n}"} for n in range(5)]
    proxy = type("Proxy", (), {"get": lambda self, path, params: paged(
        calls, "servers", path, params, items, max_limit=2)})()
    assert [item["id"] for item in json_pages(proxy, "/servers/detail", "servers")] == \
        ["s0", "s1", "s2", "s3", "s4"]
    assert [query.get("marker") for _, query in calls] == [None, "s1", "s3"]
