"""One service handle, ``target.service(name)``, for every deployment profile.

For each profile (distribution packages, DevStack, Kolla-Ansible, OpenStack-Ansible) a verified
state is recorded through the real snapshot, against hosts that run each batch in a local ``sh``
whose PATH holds fake ``systemctl``, ``docker``, ``podman``, ``lxc-ls``, ``lxc-attach``,
``virsh``, ``ss`` and ``pgrep``; and ``kill_service``, ``stop_service`` and
``hold_services_at_boot`` act through the profile's commands."""

from __future__ import annotations

import ast
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from stackdrill.builtin.faults.hold_services_at_boot import HoldServicesAtBoot
from stackdrill.builtin.faults.kill_service import KillService
from stackdrill.builtin.faults.stop_service import StopService
from stackdrill.builtin.probes.amqp_connections import AmqpConnections
from stackdrill.builtin.probes.libvirt_domains import LibvirtDomains
from stackdrill.builtin.probes.systemd_units import SystemdUnits

from stackdrill.api._fault import FaultError
from stackdrill.api._registry import Registries
from stackdrill.engine.drill import Drill
from stackdrill.engine.journal import Journal
from stackdrill.hosts.ssh import CommandResult
from stackdrill.hosts.target import Target, Targets
from stackdrill.inventory.loader import parse_inventory

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "profiles"
LXC = "infra1_rabbit_mq_container-9c8d7e6f"

SYSTEMCTL = r"""
units=$FAKE_STATE/units
state() {
  if [ -f "$units/$1" ]; then read -r s p < "$units/$1"; echo "$s $p"; else echo "inactive 0"; fi
}
verb=$1; shift
case $verb in
  show)
    [ "$1" = -p ] && shift 2
    value=; [ "$1" = --value ] && { value=1; shift; }
    sep=
    for unit in "$@"; do
      st=$(state "$unit"); active=${st% *}; pid=${st#* }
      if [ -n "$value" ]; then echo "$pid"; continue; fi
      [ -n "$sep" ] && echo; sep=1
      printf 'ActiveState=%s\nSubState=x\nMainPID=%s\nNRestarts=0\n' "$active" "$pid"
    done;;
  is-active) [ "$1" = -q ] && shift; st=$(state "$1"); [ "${st% *}" = active ];;
  cat) [ -f "$units/$1.unit" ];;
  start|restart) echo "active 4242" > "$units/$1";;
  stop) echo "inactive 0" > "$units/$1";;
esac
"""
RUNTIME = r"""
dir=$FAKE_STATE/containers
verb=$1; shift
[ "$verb" = container ] && { verb=$1; shift; }
case $verb in
  inspect)
    [ "$1" = --format ] && { format=$2; shift 2; }
    rc=0
    for name in "$@"; do
      if [ ! -f "$dir/$name" ]; then echo "Error: No such container: $name" >&2; rc=1; continue; fi
      read -r status pid < "$dir/$name"
      case $format in
        container*) echo "container /$name $status $pid 0 0";;
        *State.Pid*) echo "$pid";;
        *State.Status*) echo "$status";;
      esac
    done
    exit $rc;;
  exec) shift; exec "$@";;
  start|restart) echo "running 5151" > "$dir/$1";;
  stop) echo "exited 0" > "$dir/$1";;
esac
"""
FAKES = {
    "systemctl": SYSTEMCTL,
    "docker": RUNTIME,
    "podman": RUNTIME,
    "lxc-ls": f"cat <<'EOF'\n{(FIXTURES / 'lxc_ls_fancy.txt').read_text()}EOF",
    "lxc-attach": '[ "$1" = -n ] && shift 2; [ "$1" = -- ] && shift; exec "$@"',
    "virsh": "printf ' Id   Name   State\\n---------\\n 1    instance-00000001   running\\n'",
    "ss": 'while read -r pid; do echo "0 0 192.0.2.11:40000 192.0.2.10:5672 '
          'users:((\\"nova-compute\\",pid=$pid,fd=20))"; done < "$FAKE_STATE/amqp"',
    "pgrep": '[ "$1" = -P ] && echo $(($2 + 1))',
}

# profile -> (inventory additions, systemd units running, containers running, AMQP pid)
PROFILES: dict[str, tuple[dict[str, Any], list[str], list[str], int]] = {
    "packages": ({"profile": "packages",
                  "services": {"nova-compute": {"unit": "nova-compute"},
                               "rabbitmq": {"unit": "rabbitmq-server"}}},
                 ["dbus", "ssh", "libvirtd", "nova-compute", "rabbitmq-server"], [], 4242),
    "devstack": ({"profile": "devstack",
                  "services": {"nova-compute": {"unit": "devstack@n-cpu"},
                               "rabbitmq": {"unit": "rabbitmq-server"}}},
                 ["dbus", "ssh", "libvirtd", "devstack@n-cpu", "rabbitmq-server"], [], 4242),
    "kolla": ({"profile": "kolla",
               "services": {"nova-compute": {"container": "nova_compute"},
                            "rabbitmq": {"container": "rabbitmq"}}},
              ["dbus", "ssh"], ["nova_libvirt", "nova_compute", "rabbitmq"], 5152),
    "openstack-ansible": ({"profile": "openstack-ansible",
                           "services": {"nova-compute": {"unit": "nova-compute"},
                                        "rabbitmq": {"container": "rabbit_mq_container",
                                                     "runtime": "lxc"}}},
                          ["dbus", "ssh", "libvirtd", "nova-compute", "rabbitmq"], [], 4242),
}
HOSTS = {"controller": {"address": "192.0.2.10", "roles": ["controller"]},
         "compute1": {"address": "192.0.2.11", "roles": ["compute"]}}


class LocalConnection:
    """A host's connection that runs each command in a local ``sh`` with the fakes first on
    PATH and the host's own state directory; ``/etc/os-release`` is Ubuntu's."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name, self.env = name, env
        self.ran: list[str] = []

    def run(self, command: str, *, timeout: float | None = None) -> CommandResult:
        self.ran.append(command)
        if command == "cat /etc/os-release":
            return CommandResult(self.name, command, 0,
                                 (FIXTURES / "os-release-ubuntu").read_text(), "", 0.0, 0.0)
        done = subprocess.run(["/bin/sh", "-c", command], env=self.env, capture_output=True,
                              text=True, timeout=30, check=False)
        return CommandResult(self.name, command, done.returncode, done.stdout, done.stderr,
                             time.time(), 0.0)


class LocalPool:
    def __init__(self, connections: dict[str, LocalConnection]) -> None:
        self.connections = connections

    def get(self, name: str) -> LocalConnection:
        return self.connections[name]

    def close(self) -> None:
        pass


def local_cloud(tmp_path: Path, profile: str) -> Targets:
    """Two hosts running, under ``profile``, what it says they run."""
    extra, units, containers, amqp_pid = PROFILES[profile]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    for name, body in FAKES.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    connections = {}
    for host in HOSTS:
        state = tmp_path / host
        (state / "units").mkdir(parents=True)
        (state / "containers").mkdir()
        for unit in units:
            (state / "units" / unit).write_text("active 4242\n")
        for container in containers:
            (state / "containers" / container).write_text("running 5151\n")
        (state / "units" / "kolla-rabbitmq-container.service.unit").write_text("")
        (state / "amqp").write_text(f"{amqp_pid}\n")
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_STATE": str(state)}
        connections[host] = LocalConnection(host, env)
    inventory = parse_inventory({"cloud": "unit", "hosts": HOSTS, **extra},
                                tmp_path / "inventory.yaml")
    return Targets(inventory, pool=LocalPool(connections))  # type: ignore[arg-type]


def service_probes() -> Registries:
    registries = Registries()
    for probe in (SystemdUnits, LibvirtDomains, AmqpConnections):
        registries.probes.register(probe)
    return registries


@pytest.mark.parametrize("profile", list(PROFILES))
def test_a_verified_state_is_recorded_under_every_profile(tmp_path: Path, profile: str) -> None:
    targets = local_cloud(tmp_path, profile)
    drill = Drill("verified state", targets, service_probes(), Journal(tmp_path / "j.jsonl"))
    values = drill.record_baseline().values
    for service in ("dbus", "ssh", "libvirtd", "nova-compute"):
        assert values[f"host:compute1/unit:{service}/active"] == "active"
        assert values[f"host:compute1/unit:{service}/main_pid"] > 0
    assert values["host:controller/unit:rabbitmq/active"] == "active"
    assert values["host:compute1/libvirt/answering"] is True
    assert values["host:compute1/domain:instance-00000001/state"] == "running"
    assert values["host:compute1/amqp:nova-compute/connected"] is True


def test_every_profile_records_the_same_paths(tmp_path: Path) -> None:
    paths = {profile: sorted(Drill("paths", local_cloud(tmp_path / profile, profile),
                                   service_probes(), Journal(tmp_path / f"{profile}.jsonl"))
                             .record_baseline().values) for profile in PROFILES}
    assert all(found == paths["packages"] for found in paths.values())


def test_systemd_units_read_in_one_systemctl_show_as_before(tmp_path: Path) -> None:
    """Where every service is a systemd unit on the host, the probe's command is the one it
    always was."""
    targets = local_cloud(tmp_path, "devstack")
    assert SystemdUnits().command(targets.get("compute1")) == (
        "systemctl show -p ActiveState,SubState,MainPID,Result,NRestarts,ExecMainStatus "
        "dbus ssh libvirtd devstack@n-cpu")


def test_a_mixed_host_reads_its_units_and_containers_in_one_command(tmp_path: Path) -> None:
    compute = local_cloud(tmp_path, "kolla").get("compute1")
    command = SystemdUnits().command(compute)
    assert command.count("\n") == 3  # two reads, each followed by its exit status
    assert command.startswith("systemctl show -p ActiveState,SubState,MainPID,Result,"
                              "NRestarts,ExecMainStatus dbus ssh\n")
    assert "docker container inspect --format" in command
    assert command.endswith(" nova_libvirt nova_compute 2>&1 || true\n"
                            'echo "@@service-status $?"')


# -- faults act through the profile's commands ---------------------------------------------------

class ScriptedConnection:
    """Answers each command from the first matching prefix: its outputs in turn, the last one
    again after; any other command fails. Records what ran."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.ran: list[str] = []

    def run(self, command: str, *, timeout: float | None = None) -> CommandResult:
        self.ran.append(command)
        for prefix, outputs in self.answers.items():
            if command.startswith(prefix):
                output = outputs.pop(0) if len(outputs) > 1 else outputs[0]
                return CommandResult("controller", command, 0, output, "", 0.0, 0.0)
        return CommandResult("controller", command, 1, "", "not found", 0.0, 0.0)


def show(active: str, pid: int, restarts: int = 0) -> str:
    return f"ActiveState={active}\nSubState=x\nMainPID={pid}\nNRestarts={restarts}\n"


ATTACH = f"lxc-attach -n {LXC} --"
# profile -> (status prefix, running, restarted, stopped, kill, start, stop)
ACTIONS: dict[str, tuple[str, ...]] = {
    "packages": ("systemctl show -p", show("active", 4242), show("active", 5000, 1),
                 show("inactive", 0), "kill -s KILL 4242", "systemctl start rabbitmq-server",
                 "systemctl stop rabbitmq-server"),
    "devstack": ("systemctl show -p", show("active", 4242), show("active", 5000, 1),
                 show("inactive", 0), "kill -s KILL 4242", "systemctl start rabbitmq-server",
                 "systemctl stop rabbitmq-server"),
    "kolla": ("docker container inspect", "container /rabbitmq running 5151 0 0\n",
              "container /rabbitmq running 6161 0 1\n", "container /rabbitmq exited 0 0 0\n",
              "kill -s KILL 5151",
              "if systemctl cat kolla-rabbitmq-container.service >/dev/null 2>&1; then "
              "systemctl start kolla-rabbitmq-container.service; else docker start rabbitmq; fi",
              "if systemctl cat kolla-rabbitmq-container.service >/dev/null 2>&1; then "
              "systemctl stop kolla-rabbitmq-container.service; else docker stop rabbitmq; fi"),
    "openstack-ansible": (f"{ATTACH} systemctl show -p", show("active", 4242),
                          show("active", 5000, 1), show("inactive", 0),
                          f"{ATTACH} sh -c 'kill -s KILL 4242'",
                          f"{ATTACH} systemctl start rabbitmq-server",
                          f"{ATTACH} systemctl stop rabbitmq-server"),
}


def scripted(tmp_path: Path, profile: str, answers: dict[str, list[str]]
             ) -> tuple[Target, ScriptedConnection]:
    inventory = parse_inventory({"hosts": HOSTS, "profile": profile}, tmp_path / "inv.yaml")
    connection = ScriptedConnection({
        "cat /etc/os-release": [(FIXTURES / "os-release-ubuntu").read_text()],
        "lxc-ls --fancy": [(FIXTURES / "lxc_ls_fancy.txt").read_text()],
        "systemctl show -p Id,TriggeredBy": [""], **answers})
    target = Target(inventory.host("controller"), connection, inventory,  # type: ignore[arg-type]
                    [])
    return target, connection


@pytest.mark.parametrize("profile", list(ACTIONS))
def test_kill_service_acts_through_the_profile(tmp_path: Path, profile: str) -> None:
    status, running, restarted, _, kill, start, _ = ACTIONS[profile]
    gone = f"{ATTACH} sh -c 'test ! -e /proc/4242'" if profile == "openstack-ansible" else \
        "test ! -e /proc/"
    target, connection = scripted(tmp_path, profile, {
        status: [running, restarted], kill: [""], gone: [""], start: [""]})
    fault = KillService(target, {"service": "rabbitmq"})
    facts = fault.prepare()
    fault.inject(facts)
    assert connection.ran[-1] == kill
    assert "main process" in str(fault.confirm(facts))
    fault.undo(facts)
    assert start in connection.ran


@pytest.mark.parametrize("profile", list(ACTIONS))
def test_stop_service_acts_through_the_profile(tmp_path: Path, profile: str) -> None:
    status, running, _, stopped, _, start, stop = ACTIONS[profile]
    target, connection = scripted(tmp_path, profile, {
        status: [running, stopped], stop: [""], start: [""]})
    fault = StopService(target, {"service": "rabbitmq"})
    facts = fault.prepare()
    assert (facts["stop"], facts["start"]) == (stop, start)
    fault.inject(facts)
    assert connection.ran[-1] == stop
    assert fault.confirm(facts) == "rabbitmq is stopped on controller"
    fault.undo(facts)
    assert connection.ran[-1] == start


def test_kill_service_kept_down_holds_the_restart_policy_and_confirms_only_while_down(
        tmp_path: Path) -> None:
    """systemd's Restart=on-failure brings a SIGKILLed unit back within a second: kept down,
    a runtime drop-in holds that off, the confirm fails while the unit runs again, and the undo
    removes the drop-in before starting it."""
    status, running, restarted, stopped, kill, start, _ = ACTIONS["packages"]
    hold = "/run/systemd/system/rabbitmq-server.service.d/stackdrill-keep-down.conf"
    target, connection = scripted(tmp_path, "packages", {
        status: [running, restarted, stopped, running], "mkdir -p": [""], "test ! -e /proc/": [""],
        "rm -f": [""], start: [""]})
    fault = KillService(target, {"service": "rabbitmq", "keep_down": "yes"})
    facts = fault.prepare()
    assert facts["restart_hold"] == hold
    fault.inject(facts)
    assert connection.ran[-1].startswith(
        "mkdir -p /run/systemd/system/rabbitmq-server.service.d && printf "
        "'[Service]\\nRestart=no\\n' > " + hold + " && systemctl daemon-reload && " + kill)
    assert fault.confirm(facts) is None  # restarted by systemd: not kept down
    assert "now inactive" in str(fault.confirm(facts))
    fault.undo(facts)
    released = connection.ran.index(f"rm -f {hold} && systemctl daemon-reload")
    assert released < connection.ran.index(start)


def test_kill_service_with_keep_down_refuses_a_container(tmp_path: Path) -> None:
    target, connection = scripted(tmp_path, "kolla", {})
    fault = KillService(target, {"service": "rabbitmq", "keep_down": "yes"})
    with pytest.raises(FaultError, match="keep_down: rabbitmq runs as docker container "
                                         "rabbitmq, which no socket keeps down"):
        fault.prepare()
    assert connection.ran == []


def test_holding_a_kolla_container_at_boot_goes_through_its_unit(tmp_path: Path) -> None:
    unit = "kolla-mariadb-container.service"
    target, connection = scripted(tmp_path, "kolla", {"echo tgt ": ["mariadb enabled\n"],
                                                      "if systemctl cat": [""]})
    fault = HoldServicesAtBoot(target, {"order": "ops-guide-table-11-1"})
    facts = fault.prepare()
    assert facts == {"services": ["mariadb"], "units": ["mariadb"]}
    assert (f'echo mariadb "$(if systemctl cat {unit} >/dev/null 2>&1; then systemctl '
            f"is-enabled {unit}; else docker container inspect") in connection.ran[-1]
    fault.inject(facts)
    assert connection.ran[-1] == (
        f"if systemctl cat {unit} >/dev/null 2>&1; then systemctl disable {unit}; "
        f"else docker update --restart no mariadb; fi")


def test_no_built_in_asks_a_target_for_a_systemd_unit_by_itself() -> None:
    """``target.unit()`` and ``target.systemctl()`` handle systemd units on the host only; the
    built-ins use ``target.service()``, which handles every placement."""
    found = []
    for folder in ("faults", "recovery", "probes", "steps", "stackdrill"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "lab" in path.relative_to(ROOT).parts or path.name == "target.py":
                continue  # the lab's own naming; the target that defines them
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr in ("unit", "systemctl")):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_a_kill_reaches_the_main_process_or_every_process(tmp_path: Path) -> None:
    target, connection = scripted(tmp_path, "devstack", {"systemctl kill": [""]})
    nova_compute = target.service("nova-compute")
    assert nova_compute.kill_command("SIGSEGV") == (
        "kill -s SEGV $(systemctl show -p MainPID --value devstack@n-cpu)")
    nova_compute.kill("SIGTERM", every=True)
    assert connection.ran == ["systemctl kill --kill-who=all --signal=SIGTERM devstack@n-cpu"]
    kolla, _ = scripted(tmp_path, "kolla", {})
    assert KillService(kolla, {"service": "rabbitmq"}).plan() == [
        "kill -s KILL $(docker container inspect --format '{{.State.Pid}}' rabbitmq)"]


def test_a_kill_journalled_before_service_handles_is_undone_on_its_unit(tmp_path: Path) -> None:
    target, connection = scripted(tmp_path, "kolla", {
        "systemctl start dbus": [""], "systemctl show -p ActiveState": [show("active", 7)]})
    KillService(target, {"service": "dbus"}).undo({"unit": "dbus", "main_pid": 41,
                                                   "sockets": []})
    assert connection.ran[0] == "systemctl start dbus"
