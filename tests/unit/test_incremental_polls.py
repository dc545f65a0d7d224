"""Between a drill's boundaries ``cloud_api`` re-polls servers and volumes by what changed since
its last listing, and the values it gives are exactly those of a full listing: nothing changed,
a status changed, a server created or deleted (with Nova's ``DELETED`` trace or without one),
a volume attached, detached or deleted, a Cinder that cannot filter, clocks that disagree. A
boundary, or anything the harness does to the cloud, makes the next listing full."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from stackdrill.builtin.probes.cloud_api import CloudApi

from stackdrill.api._fault import Fault
from stackdrill.api._probe import CloudContext
from stackdrill.api._registry import Registries
from stackdrill.cloud import listings as listings_module
from stackdrill.cloud.listings import MARGIN, Listing, Listings, iso, merged, server_clock
from stackdrill.engine.drill import Drill
from stackdrill.engine.journal import Journal
from stackdrill.engine.snapshot import SnapshotSettings, take_snapshot
from tests.unit.listing_fakes import START, Access, Cloud, Response


def observe(cloud: Cloud, listings: Listings | None = None,
            incremental: bool = False) -> dict[str, Any]:
    context = CloudContext(Access(cloud), [], listings, incremental)  # type: ignore[arg-type]
    values: dict[str, Any] = CloudApi().observe_cloud(context)
    return values


class Poller:
    """A drill's polls: a first listing at a boundary, then re-polls."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.listings = Listings()
        self.first = observe(cloud, self.listings, incremental=False)

    def poll(self) -> dict[str, Any]:
        return observe(self.cloud, self.listings, incremental=True)

    def same_as_full(self) -> list[tuple[str, dict[str, Any], int]]:
        """Re-poll, assert the values are a full listing's, and return the re-poll's calls."""
        self.cloud.calls.clear()
        repolled = self.poll()
        calls = list(self.cloud.calls)
        assert repolled == observe(self.cloud)
        return calls

    def ways(self) -> str:
        return self.listings.report()


@pytest.fixture
def cloud() -> Cloud:
    cloud = Cloud()
    first = cloud.boot("canary-c1", host="c1")
    cloud.boot("canary-c2", host="c2")
    attached = cloud.create_volume("canary-c1-vol")
    cloud.attach(attached, first, "/dev/vdb")
    cloud.create_volume("spare")
    cloud.tick(30)
    return cloud


def full_listings(calls: list[tuple[str, dict[str, Any], int]]) -> list[str]:
    """The paths listed in full (servers and volumes are listed concurrently: sorted)."""
    return sorted(path for path, params, _ in calls
                  if path.endswith("/detail") and "changes-since" not in params
                  and "updated_at" not in params)


def test_nothing_changed_asks_only_for_changes_and_gets_none(cloud: Cloud) -> None:
    listed_at = cloud.now
    poller = Poller(cloud)
    cloud.tick(30)
    calls = poller.same_as_full()
    assert full_listings(calls) == []
    assert sorted((path, count) for path, _, count in calls) == [
        ("GET /servers/detail", 0), ("GET /volumes/detail", 0), ("GET /volumes/summary", 1)]
    since = {path: params for path, params, _ in calls}
    asked = since["GET /servers/detail"]["changes-since"]
    assert iso(listed_at - MARGIN - timedelta(seconds=1)) <= asked <= iso(listed_at - MARGIN)
    assert since["GET /volumes/detail"]["updated_at"] == f"gte:{asked}"
    assert poller.ways() == ("servers: full (a drill boundary): 1\nservers: re-polled: 1\n"
                             "volumes: full (a drill boundary): 1\nvolumes: re-polled: 1")


def test_a_changed_status_comes_back_alone(cloud: Cloud) -> None:
    poller = Poller(cloud)
    server = next(k for k, row in cloud.servers.items() if row.name == "canary-c2")
    volume = next(k for k, row in cloud.volumes.items() if row.name == "spare")
    cloud.tick(30)
    cloud.update_server(server, status="SHUTOFF", power_state=4)
    cloud.update_volume(volume, status="error")
    calls = poller.same_as_full()
    assert [count for path, _, count in calls if path.endswith("/detail")] == [1, 1]
    values = poller.poll()
    assert values["server:canary-c2/status"] == "SHUTOFF"
    assert values["server:canary-c2/power_state"] == 4
    assert values["volume:spare/status"] == "error"
    assert "fallback" not in poller.ways()


def test_a_created_server_is_seen_while_building_and_once_placed(cloud: Cloud) -> None:
    poller = Poller(cloud)
    cloud.tick(30)
    new = cloud.boot("boot-check", host=None, status="BUILD")  # a build request
    poller.same_as_full()
    assert poller.poll()["server:boot-check/status"] == "BUILD"
    cloud.tick(2)
    cloud.update_server(new, host="c2", status="ACTIVE")
    poller.same_as_full()
    assert poller.poll()["server:boot-check/host"] == "c2"
    assert "fallback" not in poller.ways()


def test_a_deleted_server_goes_by_its_deleted_trace(cloud: Cloud) -> None:
    poller = Poller(cloud)
    server = next(k for k, row in cloud.servers.items() if row.name == "canary-c2")
    cloud.tick(30)
    cloud.delete_server(server)
    calls = poller.same_as_full()
    assert "server:canary-c2/status" not in poller.poll()
    assert not any(path == "GET /servers" for path, _, _ in calls)  # every server had a host
    assert "fallback" not in poller.ways()


@pytest.mark.parametrize("status", ["BUILD", "ERROR"])
def test_a_server_without_a_host_deleted_without_a_trace_is_found_gone(
        cloud: Cloud, status: str) -> None:
    """Nova destroys a server still building, or one buried in cell0, without a save: no
    ``DELETED`` in ``changes-since``. The servers of that status are listed, and the one
    missing there is read alone: Nova answers 404."""
    new = cloud.boot("unplaced", host=None, status=status)
    if status == "ERROR":
        cloud.update_server(new)  # cell0: its vm_state saved as error
    poller = Poller(cloud)
    cloud.tick(30)
    calls = poller.same_as_full()
    assert ("GET /servers", {"all_tenants": 1, "status": status, "limit": 1000}, 1) in calls
    assert poller.poll()["server:unplaced/status"] == status
    cloud.tick(30)
    cloud.delete_server(new, trace=False)
    calls = poller.same_as_full()
    assert ("GET /servers", {"all_tenants": 1, "status": status, "limit": 1000}, 0) in calls
    assert (f"GET /servers/{new}", {}, 0) in calls
    assert "server:unplaced/status" not in poller.poll()
    assert "fallback" not in poller.ways()


def test_a_server_buried_in_cell0_and_deleted_at_once_is_gone_though_listed_as_changed(
        cloud: Cloud) -> None:
    """Saved as ERROR, then destroyed within the margin: ``changes-since`` returns the deleted
    row as it was, ``ERROR``, not ``DELETED``."""
    poller = Poller(cloud)
    cloud.tick(30)
    new = cloud.boot("no-valid-host", host=None, status="ERROR")
    cloud.update_server(new)
    poller.same_as_full()
    cloud.tick(1)
    cloud.delete_server(new, trace=False)
    calls = poller.same_as_full()
    assert ("GET /servers/detail", 1) in [(path, count) for path, _, count in calls]
    assert "server:no-valid-host/status" not in poller.poll()


def test_a_volume_attached_then_detached(cloud: Cloud) -> None:
    poller = Poller(cloud)
    server = next(k for k, row in cloud.servers.items() if row.name == "canary-c2")
    cloud.tick(30)
    volume = cloud.create_volume("extra")
    poller.same_as_full()
    cloud.tick(3)
    cloud.attach(volume, server, "/dev/vdc")
    poller.same_as_full()
    values = poller.poll()
    assert values["volume:extra/attached_to"] == [server]
    assert values["volume:extra/devices"] == ["/dev/vdc"]
    cloud.tick(3)
    cloud.detach(volume)
    poller.same_as_full()
    assert poller.poll()["volume:extra/attached_to"] == []
    assert "fallback" not in poller.ways()


def test_a_deleted_volume_is_found_by_its_count_and_relisted_in_full(cloud: Cloud) -> None:
    poller = Poller(cloud)
    volume = next(k for k, row in cloud.volumes.items() if row.name == "spare")
    cloud.tick(30)
    cloud.delete_volume(volume)
    calls = poller.same_as_full()
    assert "GET /volumes/detail" in full_listings(calls)
    assert "volume:spare/status" not in poller.poll()
    assert ("volumes: full (fallback: Cinder counts 1 volumes where the last listing and its "
            "changes hold 2: one was deleted, or created and not yet updated): 1") \
        in poller.ways()
    calls = poller.same_as_full()  # and re-polled again from that full listing
    assert full_listings(calls) == []


def test_a_volume_created_and_never_updated_is_found_by_its_count(cloud: Cloud) -> None:
    poller = Poller(cloud)
    cloud.tick(30)
    cloud.create_volume("stuck-creating", updated=False)  # no scheduler has touched it
    poller.same_as_full()
    assert poller.poll()["volume:stuck-creating/status"] == "available"


def test_a_cinder_without_the_updated_at_filter_is_listed_in_full(cloud: Cloud) -> None:
    cloud.cinder_max = (3, 59)
    poller = Poller(cloud)
    cloud.tick(30)
    calls = poller.same_as_full()
    assert full_listings(calls) == ["GET /volumes/detail"]
    assert ("volumes: full (fallback: Cinder's volume count (/volumes/summary) refused with "
            "HTTP 406): 1") in poller.ways()
    assert "servers: re-polled: 1" in poller.ways()


def test_a_cinder_that_ignores_microversions_is_listed_in_full(cloud: Cloud) -> None:
    """An endpoint that applies no microversion ignores the filter and lists everything; its
    answer names no microversion, and that is what gives it away."""
    cloud.cinder_microversions = False
    poller = Poller(cloud)
    cloud.tick(30)
    poller.same_as_full()
    assert ("volumes: full (fallback: Cinder answered without microversion 3.60 (none "
            "named), so without its updated_at filter): 1") in poller.ways()


def test_answers_without_a_date_are_listed_in_full(cloud: Cloud) -> None:
    cloud.date_header = False
    poller = Poller(cloud)
    cloud.tick(30)
    cloud.update_server(next(iter(cloud.servers)), status="SHUTOFF")
    calls = poller.same_as_full()
    assert full_listings(calls) == ["GET /servers/detail", "GET /volumes/detail"]
    assert ("servers: full (fallback: the service's answers carry no Date header): 1"
            in poller.ways())


def test_a_change_stamped_before_the_last_listing_by_a_lagging_clock_is_caught(
        cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compute that saves a server runs 4 s behind the API host that dated the listing, so
    a change made after the listing carries an ``updated_at`` before its mark: the margin
    catches it; without the margin it would be missed, and the view would be wrong."""
    server = next(k for k, row in cloud.servers.items() if row.name == "canary-c1")
    cloud.writer_lag = timedelta(seconds=4)
    listed_at = cloud.now.replace(microsecond=0)  # the listing's Date
    poller = Poller(cloud)
    cloud.tick(1)
    cloud.update_server(server, status="HARD_REBOOT")
    stamped = cloud.servers[server].updated
    assert stamped is not None and stamped < listed_at  # stamped before the listing's Date
    poller.same_as_full()
    assert poller.poll()["server:canary-c1/status"] == "HARD_REBOOT"

    monkeypatch.setattr(listings_module, "MARGIN", timedelta(0))
    blind = Poller(cloud)
    cloud.tick(1)
    cloud.update_server(server, status="ACTIVE")
    assert blind.poll()["server:canary-c1/status"] == "HARD_REBOOT"  # missed
    assert observe(cloud)["server:canary-c1/status"] == "ACTIVE"


def test_a_change_in_the_same_second_as_the_listing_is_caught_even_without_margin(
        cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """``updated_at`` keeps whole seconds, rounded down, and so does the ``Date`` the mark
    comes from, and the time asked for is rounded down too."""
    monkeypatch.setattr(listings_module, "MARGIN", timedelta(0))
    server = next(k for k, row in cloud.servers.items() if row.name == "canary-c1")
    poller = Poller(cloud)
    cloud.tick(0.5)  # still the same second: 06:00:30.75
    cloud.update_server(server, status="REBOOT")
    assert cloud.servers[server].updated == cloud.now.replace(microsecond=0)
    poller.same_as_full()


def test_a_write_the_services_do_not_stamp_is_seen_after_the_harness_acted(
        cloud: Cloud) -> None:
    """The admin guide's SQL moves a server's row and sets no ``updated_at``: a re-poll cannot
    see it, so every listing while the harness acts, and the first after, is full."""
    poller = Poller(cloud)
    row = next(row for row in cloud.servers.values() if row.name == "canary-c1")
    cloud.tick(30)
    with poller.listings.acting():
        row.host = "c2"  # update instances set host = 'c2' (no updated_at)
        poller.same_as_full()
    poller.same_as_full()
    poller.same_as_full()
    assert ("servers: full (the harness acted on the cloud since the last listing): 1"
            in poller.ways())
    assert "servers: full (the harness is acting on the cloud): 1" in poller.ways()
    assert "servers: re-polled: 1" in poller.ways()


def test_a_boundary_lists_in_full_and_without_listings_nothing_is_kept(cloud: Cloud) -> None:
    listings = Listings()
    for _ in range(2):
        observe(cloud, listings, incremental=False)
    assert listings.report() == ("servers: full (a drill boundary): 2\n"
                                 "volumes: full (a drill boundary): 2")
    cloud.calls.clear()
    observe(cloud, None, incremental=True)
    assert full_listings(cloud.calls) == ["GET /servers/detail", "GET /volumes/detail"]


def test_two_servers_of_one_name_keep_the_older_ones_values_either_way(cloud: Cloud) -> None:
    first = cloud.boot("twin", host="c1")
    cloud.tick(5)
    cloud.boot("twin", host="c2")
    poller = Poller(cloud)
    assert poller.first["server:twin/host"] == "c1"
    cloud.tick(30)
    cloud.update_server(first, power_state=4)
    poller.same_as_full()
    assert poller.poll()["server:twin/power_state"] == 4


def test_listings_keep_the_one_that_began_last() -> None:
    listings = Listings()
    newer = Listing({"a": {"name": "a"}}, START, started=2.0)
    older = Listing({}, START, started=1.0)
    listings.keep("servers", newer)
    listings.keep("servers", older)
    assert listings.base("servers") == (newer, "")


def test_merging_puts_changes_in_and_takes_the_gone_out() -> None:
    base = {"a": {"v": 1}, "b": {"v": 1}}
    assert merged(base, {"b": {"v": 2}, "c": {"v": 1}}, {"a"}) == {"b": {"v": 2}, "c": {"v": 1}}
    assert base == {"a": {"v": 1}, "b": {"v": 1}}


def test_the_mark_is_the_services_date_less_the_round_trip() -> None:
    answer = Response({}, headers={"Date": "Mon, 07 Dec 2026 06:00:00 GMT"})
    assert server_clock(answer, 1.5) == START.replace(microsecond=0) - timedelta(seconds=1.5)
    assert server_clock(Response({}), 0.1) is None
    assert server_clock(Response({}, headers={"Date": "yesterday"}), 0.1) is None


def test_take_snapshot_re_polls_only_between_boundaries_and_when_allowed(cloud: Cloud) -> None:
    listings = Listings()
    context = CloudContext(Access(cloud), [], listings)  # type: ignore[arg-type]
    take_snapshot([], [CloudApi()], cloud=context)
    take_snapshot([], [CloudApi()], cloud=context, boundary=False)
    take_snapshot([], [CloudApi()], cloud=context, boundary=False,
                  settings=SnapshotSettings(incremental_api=False))
    assert listings.report().splitlines()[:2] == ["servers: full (a drill boundary): 2",
                                                  "servers: re-polled: 1"]


# -- in a drill ------------------------------------------------------------------------------------

class FakeTarget:
    def __init__(self, name: str) -> None:
        self.name = name
        self.spec = type("Spec", (), {"roles": ("compute",), "name": name})()


class FakeTargets(list[Any]):
    listeners: ClassVar[list[Any]] = []


class SqlMove(Fault):
    """The admin guide's way: a server's row moved to another host in SQL."""

    name = "sql_move"
    description = "update instances set host in SQL"
    row: ClassVar[Any] = None

    def plan(self) -> list[str]:
        return ["update instances set host = 'c2'"]

    def inject(self, facts: Mapping[str, Any]) -> None:
        SqlMove.row.host = "c2"

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        return "moved"

    def undo(self, facts: Mapping[str, Any]) -> None:
        SqlMove.row.host = "c1"


@pytest.fixture
def drill(cloud: Cloud, tmp_path: Path) -> Drill:
    registries = Registries()
    registries.probes.register(CloudApi)
    registries.faults.register(SqlMove)
    SqlMove.row = next(row for row in cloud.servers.values() if row.name == "canary-c1")
    return Drill("incremental", FakeTargets([FakeTarget("c1")]),  # type: ignore[arg-type]
                 registries, Journal(tmp_path / "journal.jsonl"),
                 cloud=Access(cloud))  # type: ignore[arg-type]


def test_a_drill_lists_in_full_at_its_boundaries_and_re_polls_between(
        drill: Drill, cloud: Cloud) -> None:
    drill.record_baseline()
    cloud.tick(30)
    drill.snapshot("between")
    drill.wait_verified(10)
    drill.close()
    assert dict(drill.evidence.attachments)["API listings"] == (
        "servers: full (a drill boundary): 2\nservers: re-polled: 1\n"
        "volumes: full (a drill boundary): 2\nvolumes: re-polled: 1")


def test_a_drill_sees_what_its_fault_wrote_in_sql(drill: Drill, cloud: Cloud) -> None:
    drill.record_baseline()
    cloud.tick(30)
    drill.snapshot("before")
    drill.inject("sql_move", FakeTarget("c1"), {})  # type: ignore[arg-type]
    changed = {d.path for d in drill.deviations("fault")}
    assert changed == {"cloud/server:canary-c1/host"}
    assert drill.undo_all() == []
    assert drill.deviations("undone") == []
    assert "servers: full (the harness acted on the cloud since the last listing): 2" \
        in drill.listings.report()


def test_full_api_polls_list_everything_every_time(drill: Drill, cloud: Cloud) -> None:
    drill.snapshot_settings = SnapshotSettings(incremental_api=False)
    drill.record_baseline()
    cloud.tick(30)
    drill.snapshot("between")
    assert drill.listings.report() == ("servers: full (a drill boundary): 2\n"
                                       "volumes: full (a drill boundary): 2")
