"""The ``rabbitmq_cluster`` probe: the cluster and its quorum queues read on the first member
that answers, from what RabbitMQ 3.10's ``rabbitmqctl ... --formatter json`` prints (each
member's commands run in a local ``sh`` with that member's fake ``rabbitmqctl``). A paused
minority, a node that is down and a host that cannot be reached are passed over, and the probe
says which member answered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import pytest
from stackdrill.builtin.probes.rabbitmq_cluster import RabbitmqCluster, observe_cluster

from stackdrill.api import CloudContext, ProbeFailed, Targets
from stackdrill.cloud.access import CloudAccess
from stackdrill.core.state import Snapshot, Tolerance, compare
from stackdrill.hostkit import rabbitmq
from tests.unit.ha_fakes import CONTROLLERS, FakeTargets, fake_tool, ha_inventory, printing

NODES = [f"rabbit@{host}" for host in CONTROLLERS]


def cluster_status(running: list[str], partitions: dict[str, list[str]] | None = None) -> str:
    """``rabbitmqctl -q cluster_status --formatter json`` on RabbitMQ 3.10.8 (Erlang 25)."""
    return json.dumps({
        "alarms": [],
        "cluster_name": "rabbit@controller1",
        "disk_nodes": NODES,
        "feature_flags": [
            {"desc": "Support queues of type `quorum`", "doc_url":
             "https://www.rabbitmq.com/quorum-queues.html", "name": "quorum_queue",
             "provided_by": "rabbit", "stability": "stable", "state": "enabled"}],
        "listeners": {node: [
            {"interface": "[::]", "node": node, "port": 25672, "protocol": "clustering",
             "purpose": "inter-node and CLI tool communication"},
            {"interface": "[::]", "node": node, "port": 5672, "protocol": "amqp",
             "purpose": "AMQP 0-9-1 and AMQP 1.0"}] for node in running},
        "maintenance_status": {node: "not under maintenance" for node in running},
        "partitions": partitions or {},
        "ram_nodes": [],
        "running_nodes": running,
        "versions": {node: {"erlang_version": "25.2.3", "rabbitmq_version": "3.10.8"}
                     for node in running},
    })


VHOSTS = '[\n{"name":"/"}\n]'


def queue(name: str, leader: str, online: list[str], kind: str = "quorum") -> str:
    if kind != "quorum":
        return json.dumps({"name": name, "type": kind, "leader": "", "members": "",
                           "online": ""})
    return json.dumps({"name": name, "type": "quorum", "leader": leader, "members": NODES,
                       "online": online})


def queues(*rows: str) -> str:
    """``list_queues ... --formatter json``: one element a line, the separator leading."""
    return "[\n" + "\n,".join(rows) + "\n]"


HEALTHY_QUEUES = queues(
    queue("conductor", "rabbit@controller1", NODES),
    queue("scheduler", "rabbit@controller2", NODES),
    queue("compute.compute1", "rabbit@controller3", NODES),
    queue("reply_5f0c2a7e9d8b4c1fa3e2b6d7c8e9f0a1", "", [], kind="classic"),
)
PAUSED = ("Error: this command requires the 'rabbit' app to be running on the target node. "
          "Start it with 'rabbitmqctl start_app'.")
NODE_DOWN = """\
Error: unable to perform an operation on node 'rabbit@controller1'. Please see diagnostics \
information and suggestions below.

Most common reasons for this are:

 * Target node is unreachable (e.g. due to hostname resolution, TCP connection or firewall issues)
 * CLI tool fails to authenticate with the server (e.g. due to CLI tool's Erlang cookie \
not matching that of the server)
 * Target node is not running

DIAGNOSTICS
===========

attempted to contact: [rabbit@controller1]

rabbit@controller1:
  * connected to epmd (port 4369) on controller1
  * epmd reports: node 'rabbit' not running at all
                  no other nodes on controller1
  * suggestion: start the node"""


def member(targets: FakeTargets, host: str, status: str, queue_list: str = HEALTHY_QUEUES,
           *, fails: str = "", code: int = 0) -> None:
    """``host``'s rabbitmqctl: the cluster's status, its one virtual host and its queues; or,
    with ``fails``, that error for every command."""
    tools = targets.get(host).tools
    if fails:
        fake_tool(tools, "rabbitmqctl", printing("", status=code, stderr=fails))
        return
    for name, text in (("status", status), ("vhosts", VHOSTS), ("queues", queue_list)):
        (tools / f"{name}.json").write_text(text + "\n")
    fake_tool(tools, "rabbitmqctl", f"""\
    case "$*" in
      *cluster_status*) cat {tools}/status.json ;;
      *list_vhosts*) cat {tools}/vhosts.json ;;
      *"list_queues -p / "*) cat {tools}/queues.json ;;
      *) echo "unexpected: $*" >&2; exit 64 ;;
    esac""")


@pytest.fixture
def cloud(tmp_path: Path) -> FakeTargets:
    return FakeTargets(ha_inventory(tmp_path), tmp_path)


def context(targets: FakeTargets) -> CloudContext:
    """The context a snapshot hands the probe (its API access unused)."""
    return CloudContext(cast(CloudAccess, None), cast(Targets, targets))


def observe(targets: FakeTargets) -> dict[str, object]:
    return RabbitmqCluster().observe_cloud(context(targets))


def test_a_whole_cluster_is_read_on_the_first_member(cloud: FakeTargets) -> None:
    member(cloud, "controller1", cluster_status(NODES))
    values = observe(cloud)
    assert values["rabbitmq:answered_by"] == "controller1"
    assert values["rabbitmq:members"] == NODES
    assert values["rabbitmq:node:rabbit@controller2/running"] is True
    assert values["rabbitmq:node:rabbit@controller2/partitioned_from"] == []
    assert values["rabbitmq:queue:conductor/leader"] == "rabbit@controller1"
    assert values["rabbitmq:queue:conductor/leader_running"] is True
    assert values["rabbitmq:queue:conductor/members"] == NODES
    assert values["rabbitmq:queue:conductor/online"] == NODES
    assert not any("reply_" in path for path in values)  # a classic queue
    assert RabbitmqCluster().problems(values) == []
    assert cloud.get("controller2").commands == []


def test_a_paused_minority_is_passed_over_for_a_member_of_the_majority(
        cloud: FakeTargets) -> None:
    """controller1 is cut off: pause_minority stopped its rabbit app, so rabbitmqctl refuses
    there; controller2 sees it gone, and the queue it led elected a new leader."""
    member(cloud, "controller1", "", fails=PAUSED, code=64)
    majority = NODES[1:]
    member(cloud, "controller2", cluster_status(majority), queues(
        queue("conductor", "rabbit@controller2", majority),
        queue("scheduler", "rabbit@controller2", majority),
        queue("compute.compute1", "rabbit@controller3", majority)))
    values = observe(cloud)
    assert values["rabbitmq:answered_by"] == "controller2"
    assert values["rabbitmq:node:rabbit@controller1/running"] is False
    assert values["rabbitmq:node:rabbit@controller1/partitioned_from"] == "unknown"
    assert values["rabbitmq:queue:conductor/leader"] == "rabbit@controller2"
    assert RabbitmqCluster().problems(values) == [
        "2 of 3 RabbitMQ members running (as controller2 sees it)"]


def test_partitions_and_leaderless_queues_are_problems(cloud: FakeTargets) -> None:
    member(cloud, "controller1", cluster_status(NODES, {
        "rabbit@controller1": ["rabbit@controller3"],
        "rabbit@controller2": ["rabbit@controller3"]}), queues(
        queue("conductor", "", ["rabbit@controller1"]),
        queue("scheduler", "rabbit@controller1", NODES[:2])))
    values = observe(cloud)
    assert values["rabbitmq:queue:conductor/leader_running"] is False
    assert values["rabbitmq:node:rabbit@controller1/partitioned_from"] == ["rabbit@controller3"]
    assert values["rabbitmq:node:rabbit@controller3/partitioned_from"] == []
    assert RabbitmqCluster().problems(values) == [
        "partition: rabbit@controller1 cannot reach rabbit@controller3",
        "partition: rabbit@controller2 cannot reach rabbit@controller3",
        "quorum queue conductor has no leader running",
    ]


def test_a_queues_members_online_are_those_on_running_nodes(cloud: FakeTargets) -> None:
    """Not list_queues' own ``online`` column, which waits on a member cut off by a partition:
    the listing asked for has no such column, and the running nodes decide."""
    alone = NODES[:1]
    member(cloud, "controller1", cluster_status(alone), queues(
        queue("conductor", "rabbit@controller1", NODES)))
    values = observe(cloud)
    assert values["rabbitmq:queue:conductor/online"] == alone
    assert values["rabbitmq:queue:conductor/members"] == NODES
    assert "quorum queue conductor: 1 of 3 members online, fewer than a majority" in \
        RabbitmqCluster().problems(values)


def test_no_member_answering_fails_the_probe_naming_each_reason(tmp_path: Path) -> None:
    targets = FakeTargets(ha_inventory(tmp_path), tmp_path, unreachable=("controller3",))
    member(targets, "controller1", "", fails=NODE_DOWN, code=69)
    member(targets, "controller2", "", fails=PAUSED, code=64)
    with pytest.raises(ProbeFailed) as info:
        observe(targets)
    assert str(info.value) == (
        "no member of the rabbitmq cluster answered: controller1: its node is down; "
        "controller2: its rabbit app is stopped (a paused minority, or stopped by hand); "
        "controller3 (172.31.77.3x:22): unreachable: No route to host")


def test_queues_of_another_virtual_host_are_named_with_it(cloud: FakeTargets) -> None:
    fake_tool(cloud.get("controller1").tools, "rabbitmqctl", f"""\
    case "$*" in
      *cluster_status*) echo '{cluster_status(NODES)}' ;;
      *list_vhosts*) printf '[\\n{{"name":"/"}}\\n,{{"name":"/nova"}}\\n]\\n' ;;
      *"list_queues -p / "*) echo '[\n]' ;;
      *"list_queues -p /nova "*) echo '{queues(queue("conductor", NODES[0], NODES))}' ;;
    esac""")
    values = observe(cloud)
    assert values["rabbitmq:queue:/nova:conductor/leader"] == "rabbit@controller1"


def test_a_cloud_without_a_rabbitmq_cluster_yields_nothing(tmp_path: Path) -> None:
    targets = FakeTargets(ha_inventory(tmp_path, "hosts:\n  controller: {address: 10.0.0.1, "
                                                 "roles: [controller]}\n"), tmp_path)
    assert observe(targets) == {}


def test_the_queues_named_after_a_process_are_ignored_in_comparisons() -> None:
    before = Snapshot(0.0, {"cloud/rabbitmq:queue:reply_5f0c2a7e/leader": "rabbit@controller1",
                            "cloud/rabbitmq:queue:conductor_fanout_9a1b/leader": "rabbit@c1",
                            "cloud/rabbitmq:queue:conductor/leader": "rabbit@controller1"})
    after = Snapshot(1.0, {"cloud/rabbitmq:queue:reply_77aa01/leader": "rabbit@controller2",
                           "cloud/rabbitmq:queue:conductor/leader": "rabbit@controller2"})
    found = compare(before, after, Tolerance(RabbitmqCluster.tolerance_rules()))
    assert [d.path for d in found] == ["cloud/rabbitmq:queue:conductor/leader"]


def test_refusals_say_why_a_member_did_not_answer() -> None:
    assert rabbitmq.refusal(124, "", "") == f"no answer within {rabbitmq.TIMEOUT} s"
    assert rabbitmq.refusal(2, "", "Error: something else\n") == (
        "rabbitmqctl exited 2: Error: something else")


def test_the_virtual_hosts_are_listed_once_per_drill(cloud: FakeTargets) -> None:
    """The first observation lists them, then reads their queues; the next reads the queues of
    the same virtual hosts at once. A failed observation forgets them."""
    member(cloud, "controller1", cluster_status(NODES))
    probe = RabbitmqCluster()
    first = probe.observe_cloud(context(cloud))
    assert probe.observe_cloud(context(cloud)) == first
    assert ["list_vhosts" in command for command in cloud.get("controller1").commands] == [
        True, False, False]
    for host in CONTROLLERS:
        member(cloud, host, "", fails=PAUSED, code=64)
    with pytest.raises(ProbeFailed):
        probe.observe_cloud(context(cloud))
    member(cloud, "controller1", cluster_status(NODES))
    cloud.get("controller1").commands.clear()
    assert probe.observe_cloud(context(cloud)) == first
    assert "list_vhosts" in cloud.get("controller1").commands[0]


def test_a_lab_test_reads_the_cluster_with_the_targets_alone(cloud: FakeTargets) -> None:
    member(cloud, "controller1", cluster_status(NODES))
    values, vhosts = observe_cluster(cast(Targets, cloud))
    assert (values["rabbitmq:answered_by"], vhosts) == ("controller1", ["/"])
