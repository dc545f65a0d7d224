"""Tenant expectations through ``stackdrill run`` on the fake cloud (``tests.unit.fake_cloud``):
an expectation naming an unknown API or a canary on no compute host is refused at collection
(exit 2, one line); the observers a conftest supplies are started with the verified state, their
figures judged by the steps, kept in the history and drawn in the report; without a cloud no
observer runs, and an expectation fails rather than passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackdrill import cli
from tests.unit.fake_cloud import CONFTEST, fake_project, run_args, stackdrill
from tests.unit.test_feature_input_refused import GOOD, assert_refused, plan_args

STEPS = ('pytest_plugins = ["stackdrill.builtin.steps.drill_steps"]',
         'pytest_plugins = ["stackdrill.builtin.steps.drill_steps", '
         '"stackdrill.builtin.steps.tenant_steps"]')
OBSERVER = '''

import time as _time

from stackdrill.cloud.tenant_view import Outage


class FakeTenants:
    """What a sampler and a heartbeat monitor would report: the compute API away for 2 s."""

    def __init__(self):
        self.started = None

    def start(self):
        self.started = _time.time()

    def stop(self):
        pass

    def subjects(self):
        return frozenset({"api:compute", "canary:compute1", "canary:compute2"})

    def figures(self):
        return {"api:compute/unavailable_s": 2.0, "api:compute/samples": 10.0,
                "canary:compute1/reboots": 0.0, "canary:compute2/reboots": 0.0,
                "canary:compute1/stall_s": 0.3, "canary:compute2/stall_s": 0.2}

    def outages(self):
        return [Outage("api:compute", "unavailable", self.started, self.started + 2.0,
                       "2 failed samples: 2 x HTTP 503")]


@pytest.fixture
def tenant_observers():
    return [FakeTenants()]
'''
EXPECT = ("    And the compute API was unavailable for at most {seconds} seconds\n"
          "    And no canary rebooted\n"
          "    And the canaries' heartbeats stalled for at most 5 seconds\n")


def project(tmp_path: Path, feature: str, observers: bool = True) -> tuple[Path, Path]:
    features, inventory = fake_project(tmp_path, feature)
    conftest = CONFTEST.replace(*STEPS) + (OBSERVER if observers else "")
    (features / "conftest.py").write_text(conftest)
    return features, inventory


def with_expectations(seconds: float = 90) -> str:
    return GOOD + EXPECT.format(seconds=f"{seconds:g}")


@pytest.mark.parametrize("command", ["run", "plan"])
@pytest.mark.parametrize(("step", "fragment"), [
    ("the network API was unavailable for at most 90 seconds",
     "unknown API 'network' (known: identity, compute, block storage, image, object storage)"),
    ("the canary on compute9 saw no reboot",
     "no canary on 'compute9': the canaries run on the compute hosts (compute1, compute2)"),
    ("each canary saw at most 3 bananas", "cannot read the claim 'at most 3 bananas'"),
])
def test_an_expectation_on_nothing_that_exists_is_refused_at_collection(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], command: str, step: str,
        fragment: str) -> None:
    features, inventory = project(tmp_path, GOOD + f"    And {step}\n")
    argv = run_args(tmp_path, features, inventory) if command == "run" \
        else plan_args(features, inventory)
    ran = stackdrill(argv, tmp_path, capfd)
    assert_refused(ran, tmp_path, features, "drills.feature:17:", fragment)


def history(tmp_path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]


def test_the_observers_figures_are_judged_kept_and_drawn(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = project(tmp_path, with_expectations(90))
    ran = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_OK, ran
    record = history(tmp_path)[-1]
    tenant = record["tenant"]
    assert isinstance(tenant, dict)
    assert tenant["figures"]["api:compute/unavailable_s"] == 2.0
    [outage] = tenant["outages"]
    assert outage["lane"] == "api:compute" and outage["duration"] == 2.0
    assert 0 <= outage["offset"] < 30
    kinds = [event["kind"] for event in record["events"]]  # type: ignore[attr-defined]
    assert kinds.index("baseline") < kinds.index("tenant-watch") < kinds.index(
        "tenant-watch-stopped")

    page = tmp_path / "drills.html"
    assert cli.main(["report", "--history", str(tmp_path / "history.jsonl"), "--output",
                     str(page)]) == 0
    html = page.read_text()
    assert "What the tenants felt" in html and "api:compute · 1 felt" in html
    assert "API unavailable 2.0 s (compute) · heartbeat stall 0.3 s (compute1) · reboots 0" \
        in html
    capfd.readouterr()
    assert cli.main(["report", "--markdown", "--history", str(tmp_path / "history.jsonl")]) == 0
    row = capfd.readouterr().out.splitlines()[-1]
    assert row.endswith("| 2.0 s (compute) | 0.3 s (compute1) | — | 0 | — |"), row


def test_a_broken_expectation_fails_the_drill_with_the_measured_figure(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = project(tmp_path, with_expectations(1))
    ran = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_FAILED, ran
    assert "the compute API was unavailable for 2.0 s, more than the 1 s expected (1 outage; " \
           "longest from " in ran.stdout
    record = history(tmp_path)[-1]
    assert record["result"] == "failed"
    assert str(record["reason"]).startswith("the compute API was unavailable for 2.0 s")


def test_without_a_cloud_no_observer_runs_and_an_expectation_fails(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    features, inventory = project(tmp_path, with_expectations(90), observers=False)
    ran = stackdrill(run_args(tmp_path, features, inventory), tmp_path, capfd)
    assert ran.code == cli.EXIT_FAILED, ran
    assert "nothing observed what the tenants felt: no tenant observer ran in this drill" \
        in ran.stdout
    assert "tenant" not in history(tmp_path)[-1]


CLOUD = '''

from pytest_bdd import then

from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.canary import CanaryWorkload
from tests.unit.fake_openstack import IMAGE, SERVER, VOLUME


@pytest.fixture(scope="session")
def cloud_access(redactor):
    return CloudAccess("fake", redactor, [str(HERE / "clouds.yaml")])


@pytest.fixture
def canaries():
    return CanaryWorkload(IMAGE, "flavor", {"compute1": SERVER, "compute2": SERVER},
                          {"compute1": VOLUME, "compute2": VOLUME})


@then("each API has been sampled a few times")
def sampled(drill):
    """This drill lasts a second; a real one lasts long after each API's first sample."""
    from stackdrill.core.waiting import poll

    def done():
        figures = drill.tenants.view().figures
        return all(figures.get(f"{s}/samples", 0) >= 3 for s in drill.tenants.view().subjects)

    poll(done, timeout=20, interval=0.1, description="three samples of each API")
'''
CANARY_STEPS = ('"stackdrill.builtin.steps.tenant_steps"]',
                '"stackdrill.builtin.steps.tenant_steps", "stackdrill.builtin.steps.cloud_steps"]')
SAMPLED = GOOD.replace("    Given a compute host\n",
                       "    Given a compute host\n    And the canary workload is running\n") + \
    "    And each API has been sampled a few times\n" + \
    "    And every API was unavailable for at most 0.1 seconds\n"


def test_the_api_sampler_watches_a_drill_from_its_verified_state(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """The real sampler, built by the plugin's fixtures from the scenario's canaries, samples a
    fake OpenStack on loopback through the whole drill; with an API down from the start, the
    expectation fails on it and only on it."""
    from tests.unit.fake_openstack import PASSWORD, Behaviour, fake_cloud

    features, inventory = fake_project(tmp_path, SAMPLED)
    conftest = CONFTEST.replace(*STEPS).replace(*CANARY_STEPS) + CLOUD
    (features / "conftest.py").write_text(conftest)
    with fake_cloud() as cloud:
        cloud.clouds_yaml(features)
        ran = stackdrill(run_args(tmp_path, features, inventory,
                                  pytest_args=("--api-sample-interval", "0.2")), tmp_path, capfd)
        assert ran.code == cli.EXIT_OK, ran.stdout
        figures = history(tmp_path)[-1]["tenant"]["figures"]  # type: ignore[index]
        for api in ("identity", "compute", "block-storage", "image", "object-store"):
            assert figures[f"api:{api}/samples"] >= 1, api
            assert figures[f"api:{api}/failures"] == 0, api
        cloud.behaviour["image"] = Behaviour(status=503)
        ran = stackdrill(run_args(tmp_path, features, inventory,
                                  pytest_args=("--api-sample-interval", "0.2")), tmp_path, capfd)
    assert ran.code == cli.EXIT_FAILED, ran
    failed = [line for line in ran.stdout.splitlines() if "the image API was unavailable" in line]
    # a Glance down from the start fails openstacksdk's version discovery of the image API
    assert failed and "failed sample" in failed[0] and "image service" in failed[0], ran.stdout
    assert "the compute API" not in ran.stdout
    assert PASSWORD not in (tmp_path / "history.jsonl").read_text()
