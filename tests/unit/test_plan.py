"""The dry run prints every fault and recovery, its target host and its exact commands, and
touches nothing; the guards' tags reach the drill through pytest marks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackdrill.api._registry import load_registries
from stackdrill.engine.plan import PlannedScenario, dry_run_target, render_plan
from stackdrill.inventory.loader import parse_inventory
from tests.unit.gherkin_fakes import Step, Table

ROOT = Path(__file__).resolve().parents[2]

# TEST-NET addresses: a plan that tried to connect would fail or hang
HOSTS: dict[str, Any] = {
    "compute2": {"address": "192.0.2.12", "roles": ["compute"]},
    "compute1": {"address": "192.0.2.11", "roles": ["compute"]},
    "zeta": {"address": "192.0.2.30", "roles": ["controller", "compute"]},
    "controller": {"address": "192.0.2.10", "roles": ["controller"]},
}




KILL_DBUS = Step('the fault "kill_service" is injected on the compute host:', 5,
                 Table([["service", "dbus"], ["signal", "SIGSEGV"], ["keep_down", "yes"]]))
START = Step('the recovery "start_services" runs on the compute host:', 9,
             Table([["services", "dbus, libvirtd"]]))


def test_the_plan_names_hosts_and_exact_commands(tmp_path: Path) -> None:
    inventory = parse_inventory({"cloud": "unit", "hosts": HOSTS, "protected": ["controller"]},
                                tmp_path / "inventory.yaml")
    scenario = PlannedScenario("features/x.feature:3", "dbus crashes",
                               [Step("a compute host", 4), KILL_DBUS, START])
    text = render_plan([scenario], inventory, load_registries())
    assert text.splitlines()[0] == (
        f"plan: 1 scenario against cloud 'unit' (inventory {tmp_path / 'inventory.yaml'})")
    assert "protected hosts (never touched): controller" in text
    block = text.split("\n\n", 1)[1]
    show = "systemctl show -p ActiveState,SubState,MainPID,Result,NRestarts,ExecMainStatus"
    dropin = "/run/systemd/system/dbus.service.d"
    hold = (f"mkdir -p {dropin} && printf '[Service]\\nRestart=no\\n' > "
            f"{dropin}/stackdrill-keep-down.conf && systemctl daemon-reload")
    assert block == textwrap.dedent(f"""\
        features/x.feature:3: dbus crashes
          fault kill_service on compute1 (compute host, line 5)
            $ {hold}
            $ kill -s SEGV $(systemctl show -p MainPID --value dbus)
            $ systemctl stop <the active sockets that would start dbus again>
          recovery start_services on compute1 (compute host, line 9)
            1. Start dbus on compute1
               $ systemctl start dbus
               $ {show} dbus
            2. Start libvirtd on compute1
               $ systemctl start libvirtd
               $ {show} libvirtd
        """)


def test_the_plan_shows_what_the_guards_would_refuse(tmp_path: Path) -> None:
    inventory = parse_inventory({"cloud": "prod", "production": True, "hosts": HOSTS,
                                 "protected": ["controller"]}, tmp_path / "inventory.yaml")
    on_controller = Step('the fault "kill_service" is injected on the controller host:', 7,
                         Table([["service", "rabbitmq"]]))
    steps = [KILL_DBUS, on_controller]
    # the controller host is "controller" (protected); "zeta" is chosen for nothing here
    text = render_plan([PlannedScenario("f.feature:1", "two", steps)], inventory,
                       load_registries())
    assert "! production cloud 'prod'" in text and "need --confirm prod" in text
    assert "! fault kill_service refused: controller is protected" in text
    confirmed = render_plan([PlannedScenario("f.feature:1", "two", steps)], inventory,
                            load_registries(), confirm="prod")
    assert "! production" not in confirmed

    unprotected = parse_inventory({"hosts": {k: v for k, v in HOSTS.items()
                                             if k != "controller"}}, tmp_path / "i.yaml")
    # the controller host is now "zeta", also compute: two compute hosts under faults
    text = render_plan([PlannedScenario("f.feature:1", "two", steps)], unprotected,
                       load_registries())
    assert ("! fault kill_service refused: it would put 2 compute hosts under faults at once "
            "(compute1, zeta), the limit is 1") in text
    raised = render_plan([PlannedScenario("f.feature:1", "two", steps, {"compute": 2})],
                         unprotected, load_registries())
    assert "refused" not in raised
    assert "(hosts under faults at once raised to: compute 2)" in raised


def test_a_dry_run_target_cannot_contact_its_host(tmp_path: Path) -> None:
    from stackdrill.hosts.ssh import HostError

    inventory = parse_inventory({"hosts": HOSTS}, tmp_path / "inventory.yaml")
    target = dry_run_target(inventory, "compute1")
    with pytest.raises(HostError, match=r"compute1 \(192.0.2.11:22\): a dry run does not"):
        target.run("true")
    with pytest.raises(HostError):
        target.connection.connect()


FEATURE = """\
@drill
Feature: dbus
  Background:
    Given a compute host running qemu domains
    And the cloud is in its verified state

  {tags}
  Scenario: dbus crashes
    When the fault "{fault}" is injected on the compute host:
      | service   | dbus    |
      | keep_down | yes     |
    Then the fault is confirmed within 10 seconds
    When the recovery "start_services" runs on the compute host:
      | services | dbus, libvirtd |
"""


def project(tmp_path: Path, fault: str = "kill_service", tags: str = "") -> tuple[Path, Path]:
    features = tmp_path / "features"
    features.mkdir()
    (features / "dbus.feature").write_text(FEATURE.format(fault=fault, tags=tags))
    (features / "conftest.py").write_text(
        'pytest_plugins = ["stackdrill.builtin.steps.drill_steps"]\n')
    (features / "test_dbus.py").write_text(
        "from pytest_bdd import scenarios\n\nscenarios('dbus.feature')\n")
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"cloud": "unit", "hosts": HOSTS,
                                         "defaults": {"ssh": {"connect_timeout": 30}}}))
    return features, inventory


def stackdrill(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    return subprocess.run([sys.executable, "-m", "stackdrill.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_stackdrill_plan_collects_the_features_and_touches_nothing(tmp_path: Path) -> None:
    features, inventory = project(tmp_path, tags="@allow_down_compute_2")
    result = stackdrill(tmp_path, "plan", str(features), "--inventory", str(inventory),
                        "--", "-c", "/dev/null", "--rootdir", str(features))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == f"plan: 1 scenario against cloud 'unit' (inventory {inventory})"
    assert "dbus.feature:8: dbus crashes (hosts under faults at once raised to: compute 2)" \
        in result.stdout
    assert "  fault kill_service on compute1 (compute host, line 9)" in lines
    assert "    $ kill -s KILL $(systemctl show -p MainPID --value dbus)" in lines
    assert "       $ systemctl start libvirtd" in lines
    assert not (tmp_path / "state").exists()  # no journal, no lock
    assert sorted(p.name for p in features.iterdir() if p.name != "__pycache__") == [
        "conftest.py", "dbus.feature", "test_dbus.py"]


@pytest.mark.parametrize(("fault", "tags", "fragment"), [
    ("melt", "", "dbus.feature:9: unknown fault 'melt' (known: "),
    ("kill_service", "@allow_down_compute_x",
     "tag @allow_down_compute_x: expected @allow_down_<role>_<count>"),
])
def test_stackdrill_plan_refuses_bad_features(tmp_path: Path, fault: str, tags: str,
                                              fragment: str) -> None:
    features, inventory = project(tmp_path, fault=fault, tags=tags)
    result = stackdrill(tmp_path, "plan", str(features), "--inventory", str(inventory),
                        "--", "-c", "/dev/null", "--rootdir", str(features))
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and fragment in errors[0], result.stderr


GUARDED_CONFTEST = '''
from collections.abc import Mapping
from typing import Any

import pytest
from pytest_bdd import given, parsers, when

from stackdrill.api import Fault
from stackdrill.inventory.loader import load_inventory
from stackdrill.builtin.steps.drill_steps import attempt, verified_state


class Touch(Fault):
    name = "touch"
    description = "does nothing"

    def plan(self) -> list[str]:
        return []

    def inject(self, facts: Mapping[str, Any]) -> None:
        print(f"touched {self.target.name}")

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        return "touched"

    def undo(self, facts: Mapping[str, Any]) -> None:
        pass


def pytest_stackdrill_register(registries):
    registries.faults.register(Touch)


class FakeTarget:
    def __init__(self, spec):
        self.name = spec.name
        self.spec = spec


class FakeTargets:
    def __init__(self, inventory):
        self.inventory = inventory
        self.listeners = []

    def get(self, name):
        return FakeTarget(self.inventory.host(name))

    def __iter__(self):  # no host to observe: the verified state is empty
        return iter(())


@pytest.fixture(scope="session")
def targets(pytestconfig):
    return FakeTargets(load_inventory(pytestconfig.getoption("inventory")))


given("the cloud is in its verified state")(verified_state)


@when(parsers.parse('the fault "{fault}" is injected on host {name}'))
def inject(drill, targets, fault, name):
    attempt(drill.inject, fault, targets.get(name), {})
'''

GUARDED_FEATURE = """\
Feature: guards
  Background:
    Given the cloud is in its verified state

  @allow_down_compute_2
  Scenario: two compute hosts with the tag
    When the fault "touch" is injected on host compute1
    And the fault "touch" is injected on host compute2

  Scenario: two compute hosts without the tag
    When the fault "touch" is injected on host compute1
    And the fault "touch" is injected on host compute2

  Scenario: the protected controller
    When the fault "touch" is injected on host controller
"""


def test_tags_and_inventory_reach_the_drill_fixture(tmp_path: Path) -> None:
    features = tmp_path / "features"
    features.mkdir()
    (features / "conftest.py").write_text(GUARDED_CONFTEST)
    (features / "guards.feature").write_text(GUARDED_FEATURE)
    (features / "test_guards.py").write_text(
        "from pytest_bdd import scenarios\n\nscenarios('guards.feature')\n")
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"cloud": "unit", "hosts": HOSTS,
                                         "protected": ["controller"]}))
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(features), "-c", "/dev/null", "--rootdir",
         str(features), "-p", "no:cacheprovider", "--strict-markers", "-rA", "-vv",
         "--inventory", str(inventory)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    outcomes = {line.split("::")[-1].split(" - ")[0]: line.split(" ")[0]
                for line in out.splitlines() if line.startswith(("PASSED", "FAILED"))}
    assert outcomes == {"test_two_compute_hosts_with_the_tag": "PASSED",
                        "test_two_compute_hosts_without_the_tag": "FAILED",
                        "test_the_protected_controller": "FAILED"}, out
    assert ("test_two_compute_hosts_without_the_tag - Failed: fault touch refused: it would "
            "put 2 compute hosts under faults at once (compute1, compute2), the limit is 1") in out
    assert "test_the_protected_controller - Failed: fault touch refused: controller is " \
           "protected in" in out


def test_the_plan_shows_faults_on_every_host_their_end_and_procedures(tmp_path: Path) -> None:
    inventory = parse_inventory({"cloud": "unit", "hosts": HOSTS}, tmp_path / "inventory.yaml")
    scenario = PlannedScenario("features/y.feature:3", "a backup, then power loss", [
        Step("a controller host", 4),
        Step('the procedure "back_up_control_plane" runs on the controller host:', 5,
             Table([["configs", "glance"]])),
        Step('the fault "power_off_host" is injected on every compute host', 6),
        Step('the fault "power_off_host" ends', 7),
    ])
    block = render_plan([scenario], inventory, load_registries()).split("\n\n", 1)[1]
    assert block.splitlines()[1:] == [
        "  procedure back_up_control_plane on controller (controller host, line 5)",
        "    1. Dump every database (mysqldump --opt --all-databases)",
        "       $ mysqldump --opt --all-databases > /var/backups/openstack/openstack.sql",
        "    2. Dump each OpenStack database on its own",
        "       $ mysqldump --opt <database> > /var/backups/openstack/<database>.sql",
        "    3. Copy the configuration directories of every host",
        "       $ cp -a /etc/glance /var/backups/openstack/etc/",
        "  fault power_off_host on every compute host (line 6): compute1, compute2, zeta",
        "  fault power_off_host ends (line 7): its undo runs on each host it was injected on",
    ]


def test_stopping_a_systemd_service_plans_to_stop_the_sockets_that_would_restart_it(
        tmp_path: Path) -> None:
    stop = Step('the fault "stop_service" is injected on the compute host:', 5,
                Table([["service", "libvirtd"]]))
    scenario = [PlannedScenario("f.feature:1", "libvirtd down", [stop])]
    systemd = parse_inventory({"hosts": HOSTS}, tmp_path / "inventory.yaml")
    text = render_plan(scenario, systemd, load_registries())
    assert "$ systemctl stop <the active sockets that would start libvirtd again>\n" in text
    assert "$ systemctl stop libvirtd\n" in text
    kolla = parse_inventory({"hosts": HOSTS, "profile": "kolla"}, tmp_path / "kolla.yaml")
    text = render_plan(scenario, kolla, load_registries())
    assert "TriggeredBy" not in text
    assert ("$ if systemctl cat kolla-nova_libvirt-container.service >/dev/null 2>&1; "
            "then systemctl stop kolla-nova_libvirt-container.service; "
            "else docker stop nova_libvirt; fi\n") in text
