"""Swift: lab configuration and ring commands, parsing of recorded swift-ring-builder,
swift-get-nodes and HEAD outputs (from a two-node Swift 2.38), fault command plans."""

from __future__ import annotations

import configparser
import io
from pathlib import Path
from typing import Any

import pytest
from stackdrill.builtin.faults.disk_io_errors import (
    CONTROL_DIR,
    DiskIoErrors,
    dm_name_of,
    failing_table,
)
from stackdrill.builtin.faults.pull_disk import PullDisk
from stackdrill.builtin.probes.swift_disks import SwiftDisks
from stackdrill.builtin.probes.swift_replicas import SwiftReplicas

from stackdrill.api._fault import FaultError
from stackdrill.cloud.swift_canary import EXPECTED_ETAGS, OBJECTS, etag
from stackdrill.cloud.swift_replicas import (
    canaries,
    observe_replicas,
    replica_values,
    split_sections,
)
from stackdrill.cloud.swift_ring import (
    RingDevice,
    parse_get_nodes,
    parse_heads,
    parse_ring,
    remove_commands,
)
from stackdrill.core.params import ParamError
from stackdrill.hostkit.holders import holder_pids, parse_units
from stackdrill.hostkit.mounts import parse_mounts
from stackdrill.hostkit.swift_disks import parse_disks, restore_command, swap_table_command
from stackdrill.hosts.ssh import CommandResult
from stackdrill.lab.cloud import swift
from stackdrill.lab.cloud.secrets import NAMES, LabSecrets
from stackdrill.lab.system import LabError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "swift"
ACCOUNT = "AUTH_test"
SECRETS = LabSecrets({name: f"pw-{name}" for name in NAMES})


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def ini(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_file(io.StringIO(text))
    return parser


# -- lab layout ------------------------------------------------------------------------------
def test_storage_servers_check_mounts_and_replicate_often() -> None:
    node = swift.lab_storage_nodes()[0]
    confs = swift.storage_server_confs(node)
    for kind in ("account", "container", "object"):
        conf = ini(confs[f"/etc/swift/{kind}-server.conf"])
        assert conf["DEFAULT"]["mount_check"] == "true"
        assert conf["DEFAULT"]["devices"] == "/srv/node"
        assert conf["DEFAULT"]["bind_ip"] == "172.31.77.21"
        assert int(conf["DEFAULT"]["bind_port"]) == swift.PORTS[kind]
        assert int(conf[f"{kind}-replicator"]["interval"]) <= 30


def test_proxy_authenticates_with_keystone_and_caches_in_memcached() -> None:
    conf = ini(swift.proxy_server_conf(SECRETS))
    pipeline = conf["pipeline:main"]["pipeline"].split()
    assert pipeline.index("authtoken") < pipeline.index("keystoneauth") < pipeline.index(
        "proxy-server")
    assert conf["filter:keystoneauth"]["operator_roles"] == "admin,member"
    assert conf["filter:authtoken"]["password"] == "pw-swift"
    assert conf["filter:cache"]["memcache_servers"] == "172.31.77.10:11211"
    assert "tempauth" not in pipeline


def test_tempauth_proxy_is_only_for_a_cloud_without_keystone() -> None:
    conf = ini(swift.proxy_server_conf(tempauth_users={"test:tester": "testing"}))
    assert conf["filter:tempauth"]["user_test_tester"] == "testing .admin"
    assert "authtoken" not in conf["pipeline:main"]["pipeline"]
    with pytest.raises(LabError, match="Keystone secrets or tempauth"):
        swift.proxy_server_conf()


def test_hash_path_secrets_come_from_the_lab_secrets() -> None:
    conf = ini(swift.swift_conf(SECRETS))
    assert conf["swift-hash"]["swift_hash_path_prefix"] == "pw-swift_hash_prefix"
    assert conf["swift-hash"]["swift_hash_path_suffix"] == "pw-swift_hash_suffix"


def test_storage_files_mount_each_disk_from_fstab_and_run_every_daemon() -> None:
    node = swift.lab_storage_nodes()[1]
    files = swift.storage_files(node, SECRETS, [("d1", "/dev/loop7"), ("d2", "/dev/loop8")])
    assert files["/etc/fstab"].splitlines() == [
        "/dev/loop7 /srv/node/d1 xfs noatime,nofail 0 0",
        "/dev/loop8 /srv/node/d2 xfs noatime,nofail 0 0"]
    units = {path.rsplit("/", 1)[1].removesuffix(".service") for path in files
             if path.startswith("/etc/systemd/system/")}
    assert units == {swift.MOUNT_UNIT, *swift.STORAGE_UNITS}
    assert "swift-object-replicator" in units and "swift-account-reaper" in units
    replicator = files["/etc/systemd/system/swift-object-replicator.service"]
    assert ("ExecStart=/opt/stackdrill-lab/openstack/bin/swift-object-replicator "
            "/etc/swift/object-server.conf") in replicator
    assert "address = 172.31.77.22" in files["/etc/rsyncd.conf"]


def test_ring_build_commands_create_three_replica_rings_of_four_devices() -> None:
    commands = swift.ring_build_commands(swift.lab_storage_nodes())
    creates = [c for c in commands if " create " in c]
    assert creates == [f"swift-ring-builder /etc/swift/{ring}.builder create 8 3 0"
                       for ring in ("account", "container", "object")]
    adds = [c for c in commands if " add " in c]
    assert len(adds) == 12
    assert ("swift-ring-builder /etc/swift/object.builder add --region 1 --zone 2 --ip "
            "172.31.77.22 --port 6200 --device d2 --weight 100") in adds
    assert commands[-1] == ("swift-ring-builder /etc/swift/object.builder rebalance; "
                            "test $? -le 1")


def test_the_eio_control_path_is_the_one_the_fault_writes() -> None:
    assert swift.DISK_CONTROL_DIR == CONTROL_DIR


def test_the_catalog_entry_is_object_store_per_project() -> None:
    assert swift.CATALOG_ENTRY == ("swift", "object-store",
                                   "http://172.31.77.10:8080/v1/AUTH_%(project_id)s")


# -- rings -----------------------------------------------------------------------------------
def test_ring_table_parsed_with_every_add_parameter() -> None:
    ring = parse_ring(fixture("object-builder.txt"))
    assert ring.replicas == 3.0
    assert [d.label for d in ring.devices] == [
        "172.31.79.21:6200/d1", "172.31.79.21:6200/d2", "172.31.79.22:6200/d1",
        "172.31.79.22:6200/d2"]
    assert ring.devices[2] == RingDevice(1, 2, "172.31.79.22", 6200, "d1", 100.0,
                                         "172.31.79.22", 6200, "")
    assert ring.flagged == []


def test_devices_marked_for_removal_are_flagged() -> None:
    ring = parse_ring(fixture("object-builder-removing.txt"))
    assert ring.flagged == ["172.31.79.21:6200/d1", "172.31.79.21:6200/d2"]


def test_a_device_added_back_gets_its_original_parameters() -> None:
    device = RingDevice(2, 3, "10.0.0.5", 6200, "sdb", 3.5, "10.1.0.5", 6300, "rack 4")
    assert device.add_args() == ("--region 2 --zone 3 --ip 10.0.0.5 --port 6200 --device sdb "
                                 "--weight 3.5 --replication-ip 10.1.0.5 "
                                 "--replication-port 6300 --meta 'rack 4'")
    assert RingDevice.from_json(device.to_json()) == device


def test_removal_takes_every_device_at_the_address_out_of_the_three_rings() -> None:
    assert remove_commands("10.0.0.5") == [
        f"swift-ring-builder /etc/swift/{ring}.builder remove --ip 10.0.0.5 --yes"
        for ring in ("account", "container", "object")]


def test_get_nodes_gives_primaries_and_handoffs() -> None:
    sections = split_sections(fixture("locate.txt"))
    locations = parse_get_nodes(sections["swift_object:canary-1"])
    assert [(loc.address, loc.device, loc.handoff) for loc in locations] == [
        ("172.31.79.21", "d1", False), ("172.31.79.22", "d1", False),
        ("172.31.79.21", "d2", False), ("172.31.79.22", "d2", True)]
    assert {loc.partition for loc in locations} == {153}


def test_canary_objects_counted_on_every_primary_from_recorded_heads() -> None:
    items = canaries(ACCOUNT)
    sections = split_sections(fixture("locate.txt"))
    values = replica_values(items, sections, parse_heads(fixture("heads.txt")))
    assert values["swift_object:canary-1/replicas"] == 3
    assert values["swift_container:stackdrill-canary/replicas"] == 3
    assert values["swift_account/replicas"] == 3
    assert values["swift_ring:object/devices"][0] == "172.31.79.21:6200/d1"
    assert SwiftReplicas().problems(values) == []


class RingHost:
    """A ring host answering with recorded outputs; its rings' checksums can change."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.checksum = "aaaa"
        self.heads = fixture("heads.txt")
        self.commands: list[str] = []

    def run(self, command: str, **_: Any) -> CommandResult:
        self.commands.append(command)
        out = ""
        if "md5sum" in command:
            out += "### checksums\n" + "".join(
                f"{self.checksum}  /etc/swift/{ring}.ring.gz\n"
                for ring in ("account", "container", "object"))
        if "swift-get-nodes" in command:
            out += fixture("locate.txt")
        if "curl" in command:
            out += "### heads\n" + self.heads
        return CommandResult(self.name, command, 0, out, "", 0.0, 0.0)


def test_locations_are_reused_until_a_ring_changes() -> None:
    host = RingHost("ring-host-cache-test")
    first = observe_replicas(host, ACCOUNT)  # type: ignore[arg-type]
    assert sum("swift-get-nodes" in c for c in host.commands) == 1
    host.heads = fixture("heads-d1-pulled.txt")
    second = observe_replicas(host, ACCOUNT)  # type: ignore[arg-type]
    assert sum("swift-get-nodes" in c for c in host.commands) == 1
    assert first["swift_object:canary-1/replicas"] == 3
    assert second["swift_object:canary-1/replicas"] == 2
    assert second["swift_ring:object/devices"] == first["swift_ring:object/devices"]
    host.checksum = "bbbb"
    observe_replicas(host, ACCOUNT)  # type: ignore[arg-type]
    assert sum("swift-get-nodes" in c for c in host.commands) == 2


def test_a_pulled_disk_answers_507_and_its_replicas_are_missing() -> None:
    items = canaries(ACCOUNT)
    sections = split_sections(fixture("locate.txt"))
    heads = parse_heads(fixture("heads-d1-pulled.txt"))
    assert heads["http://172.31.79.21:6200/d1/153/AUTH_test/stackdrill-canary/canary-1"] \
        .status == 507
    values = replica_values(items, sections, heads)
    assert values["swift_object:canary-1/replicas"] == 2
    assert "swift_object:canary-1 has 2 of its 3 replicas" in SwiftReplicas().problems(values)


def test_an_object_with_the_wrong_etag_is_not_a_replica() -> None:
    items = [item for item in canaries(ACCOUNT) if item.path == "swift_object:canary-1"]
    sections = split_sections(fixture("locate.txt"))
    text = fixture("heads.txt").replace(EXPECTED_ETAGS["canary-1"], "0" * 32)
    values = replica_values(items, sections, parse_heads(text))
    assert values["swift_object:canary-1/replicas"] == 0


def test_canary_etags_are_the_md5_of_their_content() -> None:
    assert {name: etag(data) for name, data in OBJECTS.items()} == EXPECTED_ETAGS
    assert EXPECTED_ETAGS["canary-1"] == "efb3eaff1ba691cc24200bef06c8d9a1"


# -- disks -----------------------------------------------------------------------------------
def test_disk_probe_sees_a_pulled_disk_unmounted() -> None:
    probe = SwiftDisks()
    assert probe.problems({"swift_disk:d1/mounted": True, "swift_disk:d1/readable": True}) == []
    disks = parse_disks(fixture("disks-storage1-pulled.txt"))
    values: dict[str, Any] = {}
    for disk in disks:
        values[f"swift_disk:{disk.disk}/mounted"] = disk.mounted
        values[f"swift_disk:{disk.disk}/readable"] = disk.mounted and disk.readable
    assert values == {"swift_disk:d1/mounted": False, "swift_disk:d1/readable": False,
                      "swift_disk:d2/mounted": True, "swift_disk:d2/readable": True}
    assert probe.problems(values) == ["swift_disk:d1 is not mounted"]


def test_disk_probe_reports_a_shut_down_filesystem() -> None:
    disks = parse_disks("d2 xfs error\n")
    assert disks[0].mounted and not disks[0].readable
    problems = SwiftDisks().problems({"swift_disk:d2/mounted": True,
                                      "swift_disk:d2/readable": False})
    assert problems == ["swift_disk:d2 cannot be read (filesystem shut down?)"]


def test_proc_mounts_parsed_with_escapes() -> None:
    mounts = parse_mounts(fixture("proc-mounts-storage1.txt") + "/dev/sdz /srv/a\\040b xfs rw\n")
    swift_mounts = {m.target: m.source for m in mounts if m.target.startswith("/srv/node/")}
    assert swift_mounts == {"/srv/node/d1": "/dev/loop1", "/srv/node/d2": "/dev/loop2"}
    assert mounts[-1].target == "/srv/a b"


# -- faults ----------------------------------------------------------------------------------
class NoHost:
    name = "storage1"


def test_pull_disk_plan_and_parameter_checks() -> None:
    fault = PullDisk(NoHost(), {"disk": "d1"})  # type: ignore[arg-type]
    assert fault.plan() == ["umount -l /srv/node/d1"]
    with pytest.raises(ParamError, match="not a Swift device name"):
        PullDisk.validate({"disk": "../etc"})


def test_io_errors_plan_per_method() -> None:
    lab = DiskIoErrors(NoHost(), {"disk": "d2", "method": "lab"})  # type: ignore[arg-type]
    assert lab.plan() == ["echo eio > /var/lib/stackdrill/disk-faults/d2"]
    dm = DiskIoErrors(NoHost(), {"disk": "d2", "method": "dmsetup"})  # type: ignore[arg-type]
    assert dm.plan()[0].startswith("dmsetup load <dm device of /srv/node/d2>")
    with pytest.raises(ParamError, match="expected error or flakey"):
        DiskIoErrors.validate({"disk": "d2", "mode": "melt"})


def test_dm_device_found_by_its_kernel_name() -> None:
    info = "vg0-swift1 dm-0\nvg0-swift2 dm-1\n"
    assert dm_name_of("dm-1", info) == "vg0-swift2"
    assert dm_name_of("sdb", info) is None


def test_dm_error_and_flakey_tables_cover_the_original_device() -> None:
    linear = "0 2097152 linear 8:16 2048\n"
    assert failing_table(linear, "error") == "0 2097152 error"
    assert failing_table(linear, "flakey") == "0 2097152 flakey 8:16 2048 5 5"
    striped = "0 1024 linear 8:16 0\n1024 1024 linear 8:32 0\n"
    assert failing_table(striped, "error") == "0 2048 error"
    with pytest.raises(FaultError, match="one-segment linear"):
        failing_table(striped, "flakey")
    with pytest.raises(FaultError, match="not a device-mapper table"):
        failing_table("device-mapper: table ioctl on x failed", "error")


def test_undo_loads_the_original_table_back() -> None:
    facts = {"method": "dmsetup", "dm_name": "vg0-swift1", "table": "0 2097152 linear 8:16 2048"}
    assert restore_command(facts) == swap_table_command("vg0-swift1",
                                                        "0 2097152 linear 8:16 2048")
    assert restore_command(facts) == (
        "dmsetup load vg0-swift1 --table '0 2097152 linear 8:16 2048' && "
        "dmsetup suspend --noflush --nolockfs vg0-swift1 && dmsetup resume vg0-swift1")
    assert restore_command({"method": "lab", "control": "/x/d2"}) == "echo ok > /x/d2"


def test_services_holding_the_old_filesystem_found_by_unit() -> None:
    assert parse_units("  4242 swift-account-reaper.service\n  77 -\n") == {
        "4242": "swift-account-reaper.service", "77": "-"}


def test_holders_of_a_shut_down_xfs_are_found_from_fusers_stat_errors() -> None:
    stderr = ("Cannot stat file /proc/45/fd/21: Input/output error\n"
              "Cannot stat file /proc/46/fd/4: Input/output error\n"
              "Cannot stat file /proc/46/fd/6: Input/output error\n")
    assert holder_pids("", stderr) == ["45", "46"]
    assert holder_pids("  1203m  97", "/dev/loop2:") == ["97", "1203"]
    assert holder_pids("", "") == []
