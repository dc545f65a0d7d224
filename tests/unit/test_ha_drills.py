"""The HA control plane's drills (``features/ha``) and what they stand on, without a cloud: the
drills are skipped, with the reason, against an inventory without the clusters and the VIP
they drill, planned against one that has them, and refused at collection for bad input like
any drill; the host holding the VIP (or not) is chosen by the addresses each host holds; a
RabbitMQ cluster and HAProxy's backends are judged from what their tools print; RabbitMQ's
members are started together; the markers written during a fault are read back from every
member's database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import yaml
from stackdrill.builtin.recovery import (
    check_markers,
    rejoin_controller,
    start_rabbitmq_cluster,
    write_markers,
)
from stackdrill.builtin.recovery.restore_in_priority_order import RestoreInPriorityOrder
from stackdrill.builtin.steps.drill_steps import choose_host_by_vip

from stackdrill.api import RecoveryFailed, Target
from stackdrill.api._registry import load_registries
from stackdrill.engine import choice
from stackdrill.engine.grammar import CHOOSE_BY_VIP, CHOOSE_FIRST, chosen_role, vip_qualifier
from stackdrill.engine.plan import PlannedScenario, render_plan
from stackdrill.engine.preflight import check_steps
from stackdrill.engine.requirements import unmet
from stackdrill.engine.verdicts import DrillError
from stackdrill.hostkit import haproxy
from stackdrill.hostkit import rabbitmq_cluster as rabbitmq
from stackdrill.hostkit.galera import GaleraNode, GraState
from stackdrill.hostkit.rabbitmq import ClusterView
from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.inventory.model import Inventory
from tests.unit.gherkin_fakes import Step, Table

ROOT = Path(__file__).resolve().parents[2]
HA_FEATURES = ROOT / "features" / "ha"
HOSTS = {
    "controller1": {"address": "192.0.2.31", "roles": ["controller"]},
    "controller2": {"address": "192.0.2.32", "roles": ["controller"]},
    "controller3": {"address": "192.0.2.33", "roles": ["controller"]},
    "compute1": {"address": "192.0.2.11", "roles": ["compute"]},
    "compute2": {"address": "192.0.2.12", "roles": ["compute"]},
    "storage1": {"address": "192.0.2.21", "roles": ["storage"]},
}
CLUSTERS = {"galera": ["controller1", "controller2", "controller3"],
            "rabbitmq": ["controller1", "controller2", "controller3"]}
VIPS = {"api": {"address": "192.0.2.10"}}
POWER = {"driver": "lab", "lab_dir": "/nonexistent/stackdrill-lab"}


def write_inventory(tmp_path: Path, ha: bool = True) -> Path:
    data: dict[str, Any] = {"cloud": "unit", "defaults": {"power": POWER}, "hosts": HOSTS}
    if ha:
        data.update(clusters=CLUSTERS, vips=VIPS)
    path = tmp_path / ("ha.yaml" if ha else "single.yaml")
    path.write_text(yaml.safe_dump(data))
    return path


def inventory(tmp_path: Path, ha: bool = True) -> Inventory:
    return load_inventory(write_inventory(tmp_path, ha))


def stackdrill(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    return subprocess.run([sys.executable, "-m", "stackdrill.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


# -- which inventories the drills run against ---------------------------------------------------
def test_an_ha_drill_needs_both_clusters_and_a_vip(tmp_path: Path) -> None:
    assert unmet(["drill", "ha"], inventory(tmp_path)) is None
    assert unmet(["drill"], inventory(tmp_path, ha=False)) is None
    reason = unmet(["drill", "ha"], inventory(tmp_path, ha=False))
    assert reason is not None and "\n" not in reason
    assert "has no cluster galera, no cluster rabbitmq, no virtual IP" in reason
    assert "stackdrill lab up --topology ha" in reason


def test_the_ha_drills_are_skipped_with_the_reason_against_a_single_controller(
        tmp_path: Path) -> None:
    single = write_inventory(tmp_path, ha=False)
    result = stackdrill(tmp_path, "plan", "features/ha", "--inventory", str(single))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"plan: 0 scenarios against cloud 'unit' (inventory {single})"
    assert any(line.startswith("skipped: 6 scenarios: an @ha drill needs an inventory")
               for line in lines), result.stdout
    assert not (tmp_path / "state").exists()


def test_a_run_against_a_single_controller_skips_them_and_contacts_no_host(
        tmp_path: Path) -> None:
    """The hosts of the inventory are TEST-NET addresses: a run that tried them would fail."""
    single = write_inventory(tmp_path, ha=False)
    result = stackdrill(tmp_path, "run", "features/ha", "--inventory", str(single),
                        "--reports", str(tmp_path / "reports"), "--", "-p", "no:cacheprovider",
                        "-rs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 skipped" in result.stdout, result.stdout
    assert "has no cluster galera, no cluster rabbitmq, no virtual IP" in result.stdout


def test_the_ha_drills_plan_against_an_ha_inventory(tmp_path: Path) -> None:
    ha = write_inventory(tmp_path)
    result = stackdrill(tmp_path, "plan", "features/ha", "--inventory", str(ha))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"plan: 6 scenarios against cloud 'unit' (inventory {ha})")
    assert "skipped" not in result.stdout
    assert "!" not in "".join(line[:5] for line in result.stdout.splitlines())  # no refusal
    for expected in ("  fault kill_service on the controller host holding the VIP when the "
                     "drill runs (line 12)",
                     "  fault partition on the controller host not holding the VIP when the "
                     "drill runs (line 17)",
                     "  recovery bootstrap_galera on controller1 (controller host, line 37)",
                     "    4. Choose the most advanced member: the highest seqno, whatever "
                     "safe_to_bootstrap says",
                     "  fault stale_safe_to_bootstrap on controller1 (controller host, line 54)"):
        assert expected in result.stdout.splitlines(), (expected, result.stdout)


def ha_project(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """A copy of one shipped HA drill with one text replaced, bound by a test module."""
    features = tmp_path / "features"
    features.mkdir()
    text = (HA_FEATURES / f"{name}.feature").read_text()
    assert old in text, old
    (features / f"{name}.feature").write_text(text.replace(old, new, 1))
    (features / f"test_{name}.py").write_text(
        f"from pytest_bdd import scenarios\n\nscenarios('{name}.feature')\n")
    return features


@pytest.mark.parametrize(("name", "old", "new", "fragment"), [
    ("controller_partition", "| count | 10 |", "| count | ten |",
     "controller_partition.feature:30: recovery 'write_markers'"),
    ("controller_power", "a controller host holding the VIP", "a controler host holding the VIP",
     "unknown role 'controler'"),
    ("haproxy_vip", "cloud/vip:*/host:*/holds present", "cloud/vip:*/host:*/holds presnt",
     "haproxy_vip.feature:22: bad rule"),
    ("every_controller_power", "| order | ops-guide-table-11-1-ha |", "| order | no-such-list |",
     "no priority list 'no-such-list'"),
    ("rabbitmq_node", '"rejoin_controller" runs', '"rejoin_controllers" runs',
     "unknown recovery 'rejoin_controllers'"),
    ("controller_partition", "| peers | cluster:galera |", "| peers | clutser:galera |",
     "controller_partition.feature:17: fault 'partition'"),
])
@pytest.mark.parametrize("ha", [True, False])
def test_bad_input_in_the_ha_drills_is_refused_at_collection(
        tmp_path: Path, name: str, old: str, new: str, fragment: str, ha: bool) -> None:
    """Against either inventory: the skip comes after the checks of the features' text."""
    features = ha_project(tmp_path, name, old, new)
    result = stackdrill(tmp_path, "plan", str(features), "--inventory",
                        str(write_inventory(tmp_path, ha)), "--", "-c", "/dev/null",
                        "--rootdir", str(features))
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    assert fragment in errors[0], errors[0]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(("name", "old", "new"), [
    ("controller_partition", "| peers | cluster:galera |", "| peers | cluster:galeras |"),
    ("every_controller_power",
     '"stale_safe_to_bootstrap" is injected on the controller host\n',
     '"stale_safe_to_bootstrap" is injected on the controller host:\n'
     "      | cluster | galeras |\n"),
])
def test_a_cluster_the_inventory_lacks_is_refused_against_an_ha_inventory(
        tmp_path: Path, name: str, old: str, new: str) -> None:
    features = ha_project(tmp_path, name, old, new)
    result = stackdrill(tmp_path, "plan", str(features), "--inventory",
                        str(write_inventory(tmp_path)), "--", "-c", "/dev/null", "--rootdir",
                        str(features))
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    assert "no cluster named 'galeras'" in errors[0] and "(known: galera, rabbitmq)" in errors[0]


# -- the host holding the VIP -------------------------------------------------------------------
def test_holding_the_vip_is_a_choice_of_the_role() -> None:
    assert chosen_role("a controller host holding the VIP") == "controller"
    assert vip_qualifier("a controller host holding the VIP") == "holding the VIP"
    assert vip_qualifier("a controller host not holding the VIP") == "not holding the VIP"
    assert vip_qualifier("a controller host") is None
    assert chosen_role("a controller host holding the VIPs") is None
    steps = [Step("a controller host not holding the VIP", 3),
             Step('the fault "kill_service" is injected on the controller host:', 4,
                  Table([["service", "haproxy"]])),
             Step("the fault is confirmed within 10 seconds", 6)]
    assert check_steps("x.feature", steps, load_registries()) == []


class AddressHost:
    def __init__(self, name: str, addresses: set[str] | None) -> None:
        self.name = name
        self.addresses = addresses


class AddressTargets:
    def __init__(self, inv: Inventory, held: dict[str, set[str] | None]) -> None:
        self.inventory = inv
        self.held = held

    def with_role(self, role: str) -> list[AddressHost]:
        return [AddressHost(spec.name, self.held.get(spec.name))
                for spec in self.inventory.with_role(role)]


def choose_vip(monkeypatch: pytest.MonkeyPatch, inv: Inventory,
               held: dict[str, set[str] | None], holding: bool) -> choice.Chosen:
    def addresses(target: AddressHost) -> dict[str, str]:
        if target.addresses is None:
            raise HostError(f"{target.name}: unreachable")
        return dict.fromkeys(target.addresses, "eth0")

    monkeypatch.setattr(choice, "held_addresses", addresses)
    return choice.choose_by_vip(cast(Targets, AddressTargets(inv, held)), "controller", holding)


def test_the_vip_holder_is_the_host_whose_interfaces_carry_the_vip(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inv = inventory(tmp_path)
    held = {"controller1": {"192.0.2.31"}, "controller2": {"192.0.2.32", "192.0.2.10"},
            "controller3": {"192.0.2.33"}}
    chosen = choose_vip(monkeypatch, inv, held, holding=True)
    assert [t.name for t in chosen.hosts] == ["controller2"]
    assert chosen.note == "a controller host holding the VIP: controller2 holds 192.0.2.10"
    free = choose_vip(monkeypatch, inv, held, holding=False)
    assert [t.name for t in free.hosts] == ["controller1"]
    assert "controller1, the first by name of controller1, controller3" in free.note


@pytest.mark.parametrize(("held", "holding", "fragment"), [
    ({"controller1": {"192.0.2.10"}, "controller2": {"192.0.2.10"}, "controller3": set()},
     True, "192.0.2.10 is held by controller1, controller2"),
    ({"controller1": set(), "controller2": set(), "controller3": None}, True,
     "held by no controller host; controller3 could not be asked"),
    ({"controller1": {"192.0.2.10"}, "controller2": None, "controller3": None}, False,
     "every controller host holds 192.0.2.10 or could not be asked"),
])
def test_no_single_holder_or_no_free_host_is_a_drill_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held: dict[str, set[str] | None],
        holding: bool, fragment: str) -> None:
    with pytest.raises(DrillError, match=fragment):
        choose_vip(monkeypatch, inventory(tmp_path), held, holding)


def test_the_step_records_the_vip_choice_and_it_becomes_the_role_host(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inv = inventory(tmp_path)
    held = {"controller1": {"192.0.2.31"}, "controller2": {"192.0.2.32"},
            "controller3": {"192.0.2.10"}}
    monkeypatch.setattr(choice, "held_addresses",
                        lambda target: dict.fromkeys(target.addresses or (), "eth0"))
    notes: list[str] = []
    drill = SimpleNamespace(record_choice=notes.append)
    chosen: dict[str, Any] = {}
    choose_host_by_vip("controller", " holding the VIP",
                       cast(Targets, AddressTargets(inv, held)), chosen, cast(Any, drill))
    assert chosen["controller"].name == "controller3"
    assert notes == ["a controller host holding the VIP: controller3 holds 192.0.2.10"]
    choose_host_by_vip("controller", " not holding the VIP",
                       cast(Targets, AddressTargets(inv, held)), chosen, cast(Any, drill))
    assert chosen["controller"].name == "controller1"
    assert re.fullmatch(CHOOSE_FIRST, "a controller host holding the VIP") is None
    assert re.fullmatch(CHOOSE_BY_VIP, "a controller host running qemu domains") is None


def test_the_vip_choice_needs_exactly_one_vip(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DrillError, match="exactly one virtual IP"):
        choose_vip(monkeypatch, inventory(tmp_path, ha=False), {}, True)


def test_the_plan_says_the_vip_holder_is_chosen_when_the_drill_runs(tmp_path: Path) -> None:
    inv = inventory(tmp_path)
    scenario = PlannedScenario("features/x.feature:3", "haproxy dies", [
        Step("a controller host holding the VIP", 4),
        Step('the fault "kill_service" is injected on the controller host:', 5,
             Table([["service", "haproxy"], ["keep_down", "yes"]])),
        Step("a controller host", 8),
        Step('the recovery "start_services" runs on the controller host:', 9,
             Table([["services", "haproxy"]]))])
    lines = render_plan([scenario], inv, load_registries(), skipped=["why", "why"]).splitlines()
    assert "skipped: 2 scenarios: why" in lines
    assert ("  fault kill_service on the controller host holding the VIP when the drill runs "
            "(line 5)") in lines
    assert "    as on controller1:" in lines
    assert "  recovery start_services on controller1 (controller host, line 9)" in lines


# -- RabbitMQ and HAProxy -----------------------------------------------------------------------
def view(running: tuple[str, ...], partitions: dict[str, list[str]] | None = None
         ) -> ClusterView:
    return ClusterView(running, running, partitions or {})


NODES = ("rabbit@controller1", "rabbit@controller2", "rabbit@controller3")


def test_a_rabbitmq_cluster_is_whole_when_every_member_sees_every_node_and_no_partition() -> None:
    assert rabbitmq.cluster_problems({h: view(NODES) for h in ("c1", "c2", "c3")}, 3) == []


@pytest.mark.parametrize(("views", "fragment"), [
    ({"c1": view(NODES[:2]), "c2": view(NODES[:2]),
      "c3": "its rabbit app is stopped (a paused minority, or stopped by hand)"},
     "c3: RabbitMQ does not answer: its rabbit app is stopped"),
    ({"c1": view(NODES[:2]), "c2": view(NODES[:2]), "c3": view(NODES[:2])},
     "c1: 2 of 3 nodes running"),
    ({"c1": view(NODES, {"rabbit@controller1": ["rabbit@controller3"]}), "c2": view(NODES),
      "c3": view(NODES)}, "c1: partition: rabbit@controller1 cannot reach rabbit@controller3"),
    ({"c1": view(NODES), "c2": view((*NODES[:2], "rabbit@other")), "c3": view(NODES)},
     "the members report different running nodes"),
])
def test_what_keeps_a_rabbitmq_cluster_from_being_whole(views: dict[str, Any],
                                                        fragment: str) -> None:
    problems = rabbitmq.cluster_problems(views, 3)
    assert any(fragment in problem for problem in problems), problems


STATUS_JSON = ('{"running_nodes": ["rabbit@controller1", "rabbit@controller2"], '
               '"disk_nodes": ["rabbit@controller1", "rabbit@controller2", "rabbit@controller3"],'
               ' "partitions": {}}\n@@vhosts\n[{"name": "/"}]\n')


class Member:
    def __init__(self, name: str, stdout: str, exit_status: int = 0, stderr: str = "") -> None:
        self.name = name
        self.result = type("R", (), {"stdout": stdout, "stderr": stderr,
                                     "exit_status": exit_status, "ok": exit_status == 0})()
        self.commands: list[str] = []

    def service(self, name: str) -> Any:
        return type("S", (), {"inside": staticmethod(lambda script: script)})()

    def run(self, command: str, **_: Any) -> Any:
        self.commands.append(command)
        return self.result


def test_a_members_view_or_why_it_does_not_answer() -> None:
    seen = rabbitmq.member_view(cast(Target, Member("c1", STATUS_JSON)), 5)
    assert isinstance(seen, ClusterView)
    assert seen.running == ("rabbit@controller1", "rabbit@controller2")
    paused = rabbitmq.member_view(cast(Target, Member(
        "c3", "", 69, "Error: this command requires the 'rabbit' app to be running")), 5)
    assert paused == "its rabbit app is stopped (a paused minority, or stopped by hand)"
    assert rabbitmq.describe_member("c3", paused).startswith("c3: RabbitMQ does not answer")


SHOW_STAT = textwrap.dedent("""\
    # pxname,svname,qcur,qmax,scur,status,addr
    keystone,FRONTEND,,,0,OPEN,
    keystone,controller1,0,0,0,UP,192.0.2.31:5000
    keystone,controller2,0,0,0,DOWN,192.0.2.32:5000
    keystone,controller3,0,0,0,UP 1/3,192.0.2.33:5000
    keystone,BACKEND,0,0,0,UP,
    mariadb,db2,0,0,0,no check,192.0.2.32:3306
    """)


def test_haproxys_servers_of_a_host_by_name_or_address() -> None:
    servers = haproxy.parse_show_stat(SHOW_STAT)
    assert [(s.proxy, s.server, s.status) for s in servers] == [
        ("keystone", "controller1", "UP"), ("keystone", "controller2", "DOWN"),
        ("keystone", "controller3", "UP 1/3"), ("mariadb", "db2", "no check")]
    assert haproxy.down_servers(servers, "controller1", "192.0.2.31") == []
    assert haproxy.down_servers(servers, "controller2", "192.0.2.32") == [
        "keystone/controller2 DOWN"]
    assert haproxy.down_servers(servers, "controller4", "192.0.2.34") == [
        "no backend server is controller4 (192.0.2.34)"]


# -- RabbitMQ's members started together ---------------------------------------------------------
class Rabbit:
    """A RabbitMQ member: a node booting at its start comes up only once every member was
    asked to start (each waits for its peers)."""

    def __init__(self, fleet: dict[str, Rabbit], name: str, inv: Inventory) -> None:
        self.fleet, self.name, self.inventory = fleet, name, inv
        self.asked = False
        self.commands: list[str] = []

    def peer(self, name: str) -> Rabbit:
        return self.fleet[name]

    def service(self, name: str) -> Any:
        me = self
        kind, unit = "systemd", "rabbitmq-server"

        class Handle:
            def __init__(self) -> None:
                self.kind, self.unit = kind, unit

            def inside(self, script: str) -> str:
                return script

            def command(self, action: str) -> str:
                return f"systemctl {action} {unit}"

            def is_running(self) -> bool:
                return all(member.asked for member in me.fleet.values())

        return Handle()

    def run(self, command: str, **_: Any) -> Any:
        self.commands.append(command)
        if "--no-block" in command:
            self.asked = True
        running = all(member.asked for member in self.fleet.values())
        stdout = STATUS_JSON.replace('"rabbit@controller2"]', '"rabbit@controller2", '
                                     '"rabbit@controller3"]', 1) if running else ""
        return type("R", (), {"stdout": stdout, "stderr": "", "exit_status": 0 if running
                              else 69, "ok": running})()


def test_rabbitmqs_members_are_asked_to_start_together_then_waited_for(tmp_path: Path) -> None:
    inv = inventory(tmp_path)
    fleet: dict[str, Rabbit] = {}
    for name in CLUSTERS["rabbitmq"]:
        fleet[name] = Rabbit(fleet, name, inv)
    recovery = start_rabbitmq_cluster.StartRabbitmqCluster(cast(Target, fleet["controller1"]),
                                                           {"timeout": "5"})
    notes: dict[str, list[str]] = {}
    recovery.api_call = lambda label, call: notes.setdefault(label, call())  # type: ignore
    for step in recovery.runbook():
        step.action()
    starts = {name: [c for c in member.commands if "--no-block" in c]
              for name, member in fleet.items()}
    assert all(commands == ["systemctl reset-failed rabbitmq-server 2>/dev/null; systemctl "
                            "start --no-block rabbitmq-server"] for commands in starts.values())
    assert len(notes["rabbitmq cluster"]) == 3


# -- markers written during a fault -------------------------------------------------------------
class Projects:
    """Keystone's projects through a fake connection: the first ``refusals`` creations fail
    (the API was out), one more is acknowledged but its answer lost."""

    def __init__(self, refusals: int = 0, lost_answers: int = 0) -> None:
        self.names: dict[str, str] = {"stackdrill-marker-old": "old-id", "demo": "demo-id"}
        self.refusals, self.lost_answers = refusals, lost_answers
        self.identity = self

    def projects(self, domain_id: str) -> list[Any]:
        return [type("P", (), {"name": n, "id": i})() for n, i in self.names.items()]

    def create_project(self, name: str, domain_id: str, description: str) -> None:
        if self.refusals:
            self.refusals -= 1
            raise ConnectionError("503 Service Unavailable")
        self.names[name] = f"{name}-id"
        if self.lost_answers:
            self.lost_answers -= 1
            raise TimeoutError("read timed out")

    def delete_project(self, project_id: str, ignore_missing: bool) -> None:
        self.names = {n: i for n, i in self.names.items() if i != project_id}


def writer(conn: Projects, count: int = 3) -> write_markers.WriteMarkers:
    recovery = write_markers.WriteMarkers(cast(Target, object()),
                                          {"count": str(count), "timeout": "10"})
    recovery.cloud = lambda: conn  # type: ignore[method-assign]
    recovery.api_call = lambda label, call: call()  # type: ignore[method-assign]
    return recovery


def test_markers_are_written_until_acknowledged_after_old_ones_are_deleted() -> None:
    conn = Projects(refusals=2, lost_answers=1)
    recovery = writer(conn)
    for step in recovery.runbook():
        step.action()
    assert sorted(conn.names) == ["demo", "stackdrill-marker-1", "stackdrill-marker-2",
                                  "stackdrill-marker-3"]
    assert recovery.attempts == {"stackdrill-marker-1": 3, "stackdrill-marker-2": 1,
                                 "stackdrill-marker-3": 1}


class Database:
    """A Galera member's mysql client listing the markers it holds."""

    def __init__(self, fleet: dict[str, Database], name: str, inv: Inventory,
                 held: list[str]) -> None:
        self.fleet, self.name, self.inventory, self.held = fleet, name, inv, held

    def peer(self, name: str) -> Database:
        return self.fleet[name]

    def service(self, name: str) -> Any:
        return type("S", (), {"inside": staticmethod(lambda script: script)})()

    def run(self, command: str, **_: Any) -> Any:
        assert command == check_markers.markers_query("keystone")
        return type("R", (), {"stdout": "\n".join(self.held), "stderr": "", "ok": True})()


def test_every_marker_must_be_in_every_members_database(tmp_path: Path) -> None:
    inv = inventory(tmp_path)
    markers = write_markers.marker_names(3)
    fleet: dict[str, Database] = {}
    for name, held in (("controller1", markers), ("controller2", markers),
                       ("controller3", markers[:2])):
        fleet[name] = Database(fleet, name, inv, held)
    recovery = check_markers.CheckMarkers(cast(Target, fleet["controller1"]),
                                          {"count": "3", "timeout": "1"})
    with pytest.raises(RecoveryFailed, match="controller3 lacks stackdrill-marker-3"):
        recovery.in_every_member()
    fleet["controller3"].held = markers
    recovery.api_call = lambda label, call: call()  # type: ignore[method-assign]
    recovery.in_every_member()
    conn = Projects()
    conn.names.update({name: f"{name}-id" for name in markers[:2]})
    recovery.cloud = lambda: conn  # type: ignore[method-assign]
    with pytest.raises(RecoveryFailed, match="does not list stackdrill-marker-3: written, "
                                             "acknowledged and lost"):
        recovery.through_api()
    recovery.delete()
    assert sorted(conn.names) == ["demo"]


def test_the_drills_ship_with_their_binding_module() -> None:
    assert sorted(p.name for p in HA_FEATURES.iterdir() if p.suffix == ".py") == [
        "test_ha_drills.py"]


# -- a controller rejoining ---------------------------------------------------------------------
class Controller:
    """A controller whose services run or not; its HAProxy marks controller2's servers up once
    controller2's MariaDB runs."""

    def __init__(self, fleet: dict[str, Controller], name: str, inv: Inventory) -> None:
        self.fleet, self.name, self.inventory = fleet, name, inv
        self.spec = inv.hosts[name]
        self.running = {"mariadb": True, "rabbitmq": True, "haproxy": True}
        self.started: list[str] = []

    def peer(self, name: str) -> Controller:
        return self.fleet[name]

    def service(self, name: str) -> Any:
        me = self
        return SimpleNamespace(
            is_running=lambda: me.running[name], is_present=lambda: True,
            start_again=lambda timeout=60.0: (me.started.append(name),
                                              me.running.__setitem__(name, True)),
            inside=lambda script: script)

    def run(self, command: str, **_: Any) -> Any:
        up = "UP" if self.fleet["controller2"].running["mariadb"] else "DOWN"
        stat = ("# pxname,svname,status,addr\n" + "".join(
            f"keystone,{name},{up if name == 'controller2' else 'UP'},{address}:5000\n"
            for name, address in (("controller1", "192.0.2.31"), ("controller2", "192.0.2.32"),
                                  ("controller3", "192.0.2.33"))))
        return SimpleNamespace(ok=True, stdout=stat, stderr="", exit_status=0)


def test_a_returning_controller_is_started_where_needed_and_waited_for(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inv = inventory(tmp_path)
    fleet: dict[str, Controller] = {}
    for name in CLUSTERS["galera"]:
        fleet[name] = Controller(fleet, name, inv)
    fleet["controller2"].running["mariadb"] = False

    def observe(member: Controller) -> GaleraNode:
        size = sum(m.running["mariadb"] for m in fleet.values())
        status = {"wsrep_cluster_size": str(size), "wsrep_cluster_status": "Primary",
                  "wsrep_local_state_comment": "Synced"}
        return GaleraNode("up" if member.running["mariadb"] else "stopped", GraState("read"),
                          status)

    monkeypatch.setattr(rejoin_controller, "observe_node", observe)
    monkeypatch.setattr(rejoin_controller, "wait_for_host", lambda target, timeout: "boot")
    monkeypatch.setattr(rabbitmq, "member_view", lambda member, timeout: view(NODES))
    recovery = rejoin_controller.RejoinController(cast(Target, fleet["controller2"]),
                                                  {"timeout": "5"})
    notes: dict[str, list[str]] = {}
    recovery.api_call = lambda label, call: notes.setdefault(label, call())  # type: ignore
    for step in recovery.runbook():
        step.action()
    assert fleet["controller2"].started == ["mariadb"]
    assert [m.started for n, m in fleet.items() if n != "controller2"] == [[], []]
    assert len(notes["galera cluster"]) == 3 and len(notes["rabbitmq cluster"]) == 3
    assert notes["haproxy"] == [f"{name}: every server of controller2 up"
                                for name in CLUSTERS["galera"]]


def test_a_clustered_tier_whose_members_are_all_down_names_the_recovery_to_run_first(
        tmp_path: Path) -> None:
    inv = inventory(tmp_path)
    fleet: dict[str, Controller] = {}
    for name in CLUSTERS["galera"]:
        fleet[name] = Controller(fleet, name, inv)
        fleet[name].running.update(mariadb=False, rabbitmq=False)
    fleet["controller1"].running["rabbitmq-server"] = False
    fleet["controller2"].running["rabbitmq-server"] = True
    fleet["controller3"].running["rabbitmq-server"] = False
    recovery = RestoreInPriorityOrder(cast(Target, fleet["controller1"]),
                                      {"order": "ops-guide-table-11-1-ha"})
    with pytest.raises(RecoveryFailed, match="mariadb: every member of cluster galera is down "
                                             r"\(controller1, controller2, controller3\); it "
                                             "comes back with the recovery bootstrap_galera"):
        recovery._cluster_first("mariadb")
    recovery._cluster_first("rabbitmq-server")  # one member runs: started member by member
    recovery._cluster_first("memcached")  # no cluster
