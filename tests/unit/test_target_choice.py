"""Hosts chosen the way operators choose them: ``on a random compute host`` (drawn with the run's
seed, printed and kept in the evidence; ``--seed`` replays it, and ``plan --seed`` shows it
first), ``on 2 compute hosts``, ``on the compute host running canary X``. A choice the inventory
cannot satisfy, an unknown role, and "the <role> host" after several were chosen are refused at
collection by run and plan alike: exit 2, one line. The runs go through ``stackdrill.cli.main``
in-process on the fake cloud of ``tests.unit.fake_cloud``."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from stackdrill.engine.choice import _pick, choice_key, choose, planned, planned_hosts
from stackdrill.engine.grammar import Choice, parse_choice, step_choice
from stackdrill.engine.verdicts import DrillError
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import parse_inventory
from stackdrill.inventory.model import Inventory
from tests.unit.fake_cloud import events, fake_project, run_args, stackdrill
from tests.unit.test_feature_input_refused import assert_refused, plan_args

RANDOM = """\
Feature: hosts chosen as operators choose them
  Scenario: a random compute host
    Given the cloud is in its verified state
    When the fault "fake_stop" is injected on a random compute host:
      | service | canary |
    Then the fault is confirmed within 5 seconds
    When the recovery "fake_start" runs on the compute host:
      | service | canary |
    Then the cloud is back to its verified state within 5 seconds
"""
NODEID = "test_drills.py::test_a_random_compute_host"
KEY = f"{NODEID}|fault fake_stop on a random compute host|1"


def _host_for(seed: int) -> str:
    return str(_pick(["compute1", "compute2"], Choice("compute", random=True), seed, KEY)[0])


def _seed_choosing(host: str) -> int:
    return next(seed for seed in range(100) if _host_for(seed) == host)


def test_choices_are_read_from_the_step() -> None:
    assert parse_choice("a random compute host") == Choice("compute", random=True)
    assert parse_choice("2 compute hosts") == Choice("compute", count=2)
    assert parse_choice("3 random storage hosts") == Choice("storage", count=3, random=True)
    assert parse_choice("the compute host running canary compute1") == Choice(
        "compute", server="compute1", kind="canary")
    assert parse_choice("the compute host") is None
    assert step_choice('the recovery "r" runs on the compute host running server web-1:') \
        == Choice("compute", server="web-1")
    assert step_choice('the fault "f" is injected on the compute host') is None


def test_the_same_seed_and_step_draw_the_same_hosts_and_seeds_vary_them() -> None:
    assert {_host_for(seed) for seed in range(20)} == {"compute1", "compute2"}
    assert all(_host_for(seed) == _host_for(seed) for seed in range(20))
    seen: dict[str, int] = {}
    choice = Choice("compute", random=True)
    first, second = (choice_key("n", "fault", "f", choice, seen) for _ in range(2))
    assert (first, second) == ("n|fault f on a random compute host|1",
                               "n|fault f on a random compute host|2")


def _run(tmp_path: Path, capfd: pytest.CaptureFixture[str], feature: str,
         *extra: str) -> tuple[Any, Path]:
    features, inventory = fake_project(tmp_path, feature)
    return stackdrill(run_args(tmp_path, features, inventory, *extra), tmp_path, capfd), features


def test_a_random_host_is_drawn_with_the_seed_given_and_recorded(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    seed = _seed_choosing("compute2")
    ran, features = _run(tmp_path, capfd, RANDOM, "--seed", str(seed))
    assert ran.code == 0, ran
    assert f"stackdrill: seed {seed} chooses the hosts taken at random (--seed {seed} " \
           f"chooses them again)" in ran.stdout
    assert events(features) == ["inject compute2/canary", "recover compute2/canary",
                                "undo compute2/canary"]
    note = (f"a random compute host: compute2, drawn from compute1, compute2 with seed {seed} "
            f"(--seed {seed} replays it)")
    [record] = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text()
                .splitlines()]
    assert note in json.dumps(record)
    results = next((tmp_path / "reports").glob("*/allure-results"))
    assert f"seed={seed}\n" in (results / "environment.properties").read_text()
    assert any(note in path.read_text() for path in results.glob("*-attachment*"))


def test_a_run_without_a_seed_prints_the_one_it_drew_and_that_seed_replays_it(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    first, features = _run(tmp_path / "first", capfd, RANDOM)
    assert first.code == 0, first
    line = next(line for line in first.stdout.splitlines() if line.startswith("stackdrill: seed"))
    seed = int(line.split()[2])
    chosen = events(features)[0]
    again, replayed = _run(tmp_path / "again", capfd, RANDOM, "--seed", str(seed))
    assert again.code == 0, again
    assert events(replayed)[0] == chosen == f"inject {_host_for(seed)}/canary"


@pytest.mark.parametrize("host", ["compute1", "compute2"])
def test_the_plan_with_a_seed_shows_the_host_the_run_with_it_chooses(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], host: str) -> None:
    seed = _seed_choosing(host)
    features, inventory = fake_project(tmp_path, RANDOM)
    ran = stackdrill([*plan_args(features, inventory)[:4], "--seed", str(seed),
                      *plan_args(features, inventory)[4:]], tmp_path, capfd)
    assert ran.code == 0, ran
    assert f"seed {seed}: the hosts chosen at random are those a run with --seed {seed} " \
           f"chooses" in ran.stdout
    assert (f"  fault fake_stop on a random compute host: {host} (seed {seed}) (line 4)\n"
            f"    on {host}:\n    $ stop canary\n"
            f"  recovery fake_start on {host} (compute host, line 7)") in ran.stdout
    unseeded = stackdrill(plan_args(features, inventory), tmp_path, capfd)
    assert ("fault fake_stop on a random compute host: drawn from compute1, compute2 with the "
            "run's seed (plan --seed N shows the choice of run --seed N) (line 4)\n"
            "    as on compute1:") in unseeded.stdout


TWO = """\
@allow_down_compute_2
Feature: two compute hosts
  Scenario: both computes
    Given the cloud is in its verified state
    When the fault "fake_stop" is injected on 2 compute hosts:
      | service | canary |
    Then the faults are confirmed within 5 seconds
    When the fault "fake_stop" ends
    Then the cloud is back to its verified state within 5 seconds
"""


def test_n_hosts_are_the_first_n_by_name_and_the_guards_judge_them_all(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    ran, features = _run(tmp_path / "raised", capfd, TWO)
    assert ran.code == 0, ran
    assert events(features) == ["inject compute1/canary", "inject compute2/canary",
                                "undo compute1/canary", "undo compute2/canary"]
    ran, features = _run(tmp_path / "limit", capfd, TWO.replace("@allow_down_compute_2\n", ""))
    assert ran.code == 1
    assert "it would put 2 compute hosts under faults at once (compute1, compute2)" in ran.stdout
    assert events(features) == []


@pytest.mark.parametrize(("feature", "line", "fragment"), [
    (TWO.replace("on 2 compute hosts", "on 3 compute hosts"), 5,
     "the fault 'fake_stop' acts on 3 compute hosts: the inventory has 2 compute hosts "
     "(compute1, compute2)"),
    (RANDOM.replace("a random compute host", "a random gpu host"), 4, "unknown role 'gpu'"),
    (RANDOM.replace("a random compute host", "a random storage host").replace(
        "runs on the compute host", "runs on the storage host"), 4,
     "the fault 'fake_stop' acts on a random storage host: the inventory has no storage host"),
    (TWO.replace('    When the fault "fake_stop" ends\n',
                 '    When the recovery "fake_start" runs on the compute host:\n'
                 '      | service | canary |\n'), 8,
     "the recovery 'fake_start' acts on the compute host, but an earlier step chose 2 compute "
     "hosts; name one"),
])
@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_choice_the_inventory_cannot_satisfy_is_refused_at_collection(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], feature: str, line: int,
        fragment: str, command: str) -> None:
    features, inventory = fake_project(tmp_path, feature)
    argv = run_args(tmp_path, features, inventory) if command == "run" \
        else plan_args(features, inventory)
    ran = stackdrill(argv, tmp_path, capfd)
    assert_refused(ran, tmp_path, features, f"drills.feature:{line}:", fragment)


# -- the host running a server ------------------------------------------------------------------

def _inventory(tmp_path: Path) -> Inventory:
    return parse_inventory({"hosts": {
        "compute1": {"address": "192.0.2.11", "roles": ["compute"]},
        "compute2": {"address": "192.0.2.12", "roles": ["compute"]},
        "ctl": {"address": "192.0.2.10", "roles": ["controller"]}}},
        tmp_path / "inventory.yaml")


class Hosts:
    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory

    def with_role(self, role: str) -> list[Any]:
        return [SimpleNamespace(name=spec.name) for spec in self.inventory.with_role(role)]


class Cloud:
    """Nova's answer: which host each server runs on."""

    def __init__(self, servers: dict[str, str]) -> None:
        self.asked: list[tuple[str, dict[str, Any]]] = []

        def find_server(name: str, **options: Any) -> Any:
            self.asked.append((name, options))
            host = servers.get(name)
            return None if host is None else SimpleNamespace(name=name, compute_host=host)

        self.compute = SimpleNamespace(find_server=find_server)

    def connection(self) -> Any:
        return self


def _choose(tmp_path: Path, text: str, cloud: Cloud | None) -> Any:
    choice = parse_choice(text)
    assert choice is not None
    return choose(choice, cast(Targets, Hosts(_inventory(tmp_path))), seed=1, key="k",
                  cloud=cloud)  # type: ignore[arg-type]


def test_the_host_running_a_canary_is_the_one_nova_names(tmp_path: Path) -> None:
    cloud = Cloud({"stackdrill-canary-compute1": "compute2", "web-1": "compute1"})
    found = _choose(tmp_path, "the compute host running canary compute1", cloud)
    assert [host.name for host in found.hosts] == ["compute2"]
    assert found.note == ("the compute host running canary compute1: compute2, where Nova "
                          "runs stackdrill-canary-compute1")
    assert cloud.asked == [("stackdrill-canary-compute1",
                            {"ignore_missing": True, "all_projects": True})]
    found = _choose(tmp_path, "the compute host running server web-1", cloud)
    assert [host.name for host in found.hosts] == ["compute1"]


@pytest.mark.parametrize(("text", "servers", "why"), [
    ("the compute host running server gone", {}, "the compute host running server gone: the "
                                                 "cloud has no server named gone"),
    ("the compute host running server web-1", {"web-1": "ctl"},
     "the compute host running server web-1: web-1 runs on ctl, which is not a compute host of "
     "the inventory (compute1, compute2)"),
    ("the compute host running server web-1", None,
     "the compute host running server web-1: finding where web-1 runs needs the cloud's APIs "
     "(clouds.yaml / --os-cloud)"),
])
def test_a_server_nowhere_to_be_found_fails_the_step_in_one_line(
        tmp_path: Path, text: str, servers: dict[str, str] | None, why: str) -> None:
    with pytest.raises(DrillError) as failed:
        _choose(tmp_path, text, None if servers is None else Cloud(servers))
    assert str(failed.value) == why


def test_the_plan_says_how_a_server_host_will_be_found(tmp_path: Path) -> None:
    inventory = _inventory(tmp_path)
    choice = Choice("compute", server="compute2", kind="canary")
    assert planned(choice, inventory, 5, "k") == (
        "the compute host running canary compute2: where Nova runs stackdrill-canary-compute2 "
        "when the drill runs (one of compute1, compute2)")
    assert planned_hosts(choice, inventory, 5, "k") is None
    assert [h.name for h in planned_hosts(Choice("compute", count=2), inventory, None, "k")
            or []] == ["compute1", "compute2"]
