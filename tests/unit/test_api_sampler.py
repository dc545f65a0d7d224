"""The API availability sampler: its arithmetic (an outage runs from the first failed sample to
the next successful one; one still open ends at the stop), its threads (a hung API starves no
other, and ``stop`` returns within its bound), its reasons (one line, no token, no password),
and its requests through openstacksdk against a fake cloud on loopback (a fresh token each
time, new connections after a failure)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stackdrill.cloud.access import CloudAccess
from stackdrill.cloud.api_requests import RENEW_AFTER, TenantResources, tenant_requests
from stackdrill.cloud.api_sampler import (
    API_NAMES,
    ApiSampler,
    Ledger,
    build_api_sampler,
    describe,
)
from stackdrill.cloud.canary import CanaryWorkload
from stackdrill.cloud.tenant_view import KeepsLog, TenantObserver
from stackdrill.core.errors import InvalidValue
from stackdrill.core.evidence import Redactor
from tests.unit.fake_openstack import (
    CONTAINER,
    IMAGE,
    OBJECT,
    PASSWORD,
    SERVER,
    VOLUME,
    Behaviour,
    FakeCloud,
    fake_cloud,
)

# -- arithmetic -------------------------------------------------------------------------------


def test_an_outage_runs_from_the_first_failed_sample_to_the_next_good_one() -> None:
    ledger = Ledger("api:compute")
    for at, reason in ((100.0, None), (101.0, "HTTP 503"), (102.0, "HTTP 503"),
                       (103.0, "no answer within 3 s"), (104.5, None), (105.5, None),
                       (106.5, "HTTP 500"), (107.5, None)):
        ledger.add(at, reason)
    outages = ledger.outages(now=200.0)
    assert [(o.start, o.end, o.kind, o.lane) for o in outages] == [
        (101.0, 104.5, "unavailable", "api:compute"), (106.5, 107.5, "unavailable",
                                                        "api:compute")]
    assert outages[0].detail == "3 failed samples: 2 x HTTP 503; 1 x no answer within 3 s"
    assert outages[1].detail == "1 failed sample: 1 x HTTP 500"
    assert ledger.figures(now=200.0) == {"api:compute/samples": 8.0,
                                         "api:compute/failures": 4.0,
                                         "api:compute/unavailable_s": 3.5}


def test_an_outage_still_open_ends_now_and_no_sample_reports_no_outage_figure() -> None:
    ledger = Ledger("api:image")
    assert ledger.figures(now=10.0) == {"api:image/samples": 0.0}
    ledger.add(10.0, None)
    assert ledger.figures(now=11.0)["api:image/unavailable_s"] == 0.0
    ledger.add(12.0, "HTTP 503")
    ledger.add(13.0, "HTTP 503")
    assert ledger.figures(now=42.0)["api:image/unavailable_s"] == 30.0
    assert ledger.outages(now=42.0)[0].end == 42.0


def test_many_reasons_are_counted_and_the_rest_summed_up() -> None:
    ledger = Ledger("api:identity")
    for number, reason in enumerate(["a", "b", "a", "c", "d", "e"]):
        ledger.add(float(number), reason)
    assert ledger.outages(now=9.0)[0].detail == (
        "6 failed samples: 2 x a; 1 x b; 1 x c; 2 other reason(s)")


# -- reasons ----------------------------------------------------------------------------------
class HttpFailure(Exception):
    def __init__(self, status: int, details: str) -> None:
        super().__init__(f"{status}: Server Error for url: http://ctl:8774/v2.1/servers/x")
        self.status_code = status
        self.details = details


class ConnectTimeout(Exception):
    pass


TOKEN = "gAAAAAB" + "x" * 170


@pytest.mark.parametrize(("error", "reason"), [
    (HttpFailure(503, "Service Unavailable"), "HTTP 503 from ctl:8774: Service Unavailable"),
    (ConnectTimeout("Request to http://ctl:8776/v3/p/volumes/v timed out"),
     "no answer within 3 s from ctl:8776"),
    (Exception("Unable to establish connection to http://ctl:9292/v2/images/i: "
               "HTTPConnectionPool(host='ctl', port=9292): Max retries exceeded (Caused by "
               "NewConnectionError('<...>: Failed to establish a new connection: [Errno 111] "
               "Connection refused'))"),
     "connection failed to ctl:9292: Connection refused"),
    (ValueError(f"token {TOKEN} was\nrefused"), "ValueError: token *** was refused"),
    (HttpFailure(401, f"bad token {TOKEN}"), "HTTP 401 from ctl:8774: bad token ***"),
])
def test_a_failure_is_one_line_with_its_cause_and_no_token(error: Exception,
                                                           reason: str) -> None:
    assert describe(error, 3.0) == reason


def test_a_long_reason_is_cut() -> None:
    assert len(describe(RuntimeError("words " * 100), 3.0)) == 200


# -- threads ----------------------------------------------------------------------------------
class ScriptedRequest:
    """Fails while ``failing`` is set; while ``hanging`` is set, blocks until ``release``."""

    def __init__(self, subject: str, fail_with: str | None = None) -> None:
        self.subject = subject
        self.failing = threading.Event()
        self.hanging = threading.Event()
        self.release = threading.Event()
        self.fail_with = fail_with or "HTTP 503"
        self.sent = 0
        self.resets = 0
        self.closed = False

    def send(self) -> None:
        self.sent += 1
        if self.hanging.is_set():
            self.release.wait(30)
        if self.failing.is_set():
            raise RuntimeError(self.fail_with)

    def reset(self) -> None:
        self.resets += 1

    def close(self) -> None:
        self.closed = True


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never came true"
        time.sleep(0.01)


@pytest.fixture
def sampler() -> Iterator[tuple[ApiSampler, ScriptedRequest, ScriptedRequest]]:
    compute, image = ScriptedRequest("api:compute"), ScriptedRequest("api:image")
    found = ApiSampler([compute, image], interval=0.02, timeout=1.0, stop_wait=0.5)
    yield found, compute, image
    compute.release.set()
    image.release.set()
    found.stop()


def samples(observer: TenantObserver, subject: str) -> float:
    return observer.figures()[f"{subject}/samples"]


def test_the_sampler_is_a_tenant_observer_that_keeps_a_log(
        sampler: tuple[ApiSampler, ScriptedRequest, ScriptedRequest]) -> None:
    found, _, _ = sampler
    observer: TenantObserver = found
    assert isinstance(observer, KeepsLog)
    assert found.subjects() == frozenset({"api:compute", "api:image"})


def test_a_hung_api_starves_no_other_and_stop_returns_within_its_bound(
        sampler: tuple[ApiSampler, ScriptedRequest, ScriptedRequest]) -> None:
    found, compute, image = sampler
    image.hanging.set()
    found.start()
    wait_for(lambda: samples(found, "api:compute") >= 20)
    assert samples(found, "api:image") == 0  # its one request is still in flight
    compute.failing.set()
    wait_for(lambda: found.figures().get("api:compute/failures", 0) >= 3)
    started = time.monotonic()
    found.stop()
    assert time.monotonic() - started < 1.0  # image's request still hangs
    assert compute.closed and not image.closed
    frozen = found.figures()
    time.sleep(0.1)
    assert found.figures() == frozen  # figures are those at the stop
    outage = found.outages()[-1]
    assert outage.lane == "api:compute"
    assert outage.end == pytest.approx(found._stopped_at)  # still open at the stop
    assert frozen["api:compute/unavailable_s"] == pytest.approx(outage.seconds)
    assert 0 <= compute.resets - frozen["api:compute/failures"] <= 1  # one may be in flight
    image.release.set()
    wait_for(lambda: image.closed)
    assert found.figures() == frozen  # a sample that came back after the stop is left out


def test_an_outage_ends_with_the_next_good_sample(
        sampler: tuple[ApiSampler, ScriptedRequest, ScriptedRequest]) -> None:
    found, compute, _ = sampler
    found.start()
    wait_for(lambda: samples(found, "api:compute") >= 3)
    compute.failing.set()
    wait_for(lambda: found.figures().get("api:compute/failures", 0) >= 5)
    compute.failing.clear()
    sent = samples(found, "api:compute")
    wait_for(lambda: samples(found, "api:compute") >= sent + 3)
    before = found.figures()["api:compute/unavailable_s"]
    time.sleep(0.2)
    assert found.figures()["api:compute/unavailable_s"] == before  # it ended: nothing grows
    found.stop()
    assert len(found.outages()) == 1
    assert 0.05 < before < 2.0
    log = found.log()
    assert len(log) == found.figures()["api:compute/failures"]
    assert all(line.endswith("UTC api:compute: RuntimeError: HTTP 503") for line in log)


def test_no_secret_reaches_a_figure_an_outage_or_the_log() -> None:
    redactor = Redactor()
    redactor.add(PASSWORD)
    request = ScriptedRequest("api:identity",
                              fail_with=f"auth with {PASSWORD} gave token {TOKEN}")
    request.failing.set()
    found = ApiSampler([request], interval=0.01, redact=redactor, stop_wait=0.5)
    found.start()
    wait_for(lambda: found.figures().get("api:identity/failures", 0) >= 2)
    found.stop()
    text = repr(found.figures()) + repr(found.outages()) + "\n".join(found.log())
    assert PASSWORD not in text and TOKEN not in text and TOKEN[:20] not in text
    assert "auth with *** gave token ***" in found.log()[0]


def test_bad_settings_and_a_doubled_api_are_refused() -> None:
    with pytest.raises(InvalidValue, match="must be positive"):
        ApiSampler([], interval=0)
    with pytest.raises(InvalidValue, match="sampled twice"):
        ApiSampler([ScriptedRequest("api:image"), ScriptedRequest("api:image")])


# -- through openstacksdk, against a fake cloud -----------------------------------------------
ALL = TenantResources(SERVER, VOLUME, IMAGE, (CONTAINER, OBJECT))


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[tuple[FakeCloud, CloudAccess]]:
    with fake_cloud() as found:
        access = CloudAccess("fake", Redactor(), [str(found.clouds_yaml(tmp_path))])
        yield found, access


def test_each_api_is_asked_what_a_tenant_asks(cloud: tuple[FakeCloud, CloudAccess]) -> None:
    fake, access = cloud
    requests = tenant_requests(access, ALL, timeout=2.0)
    assert [r.subject for r in requests] == [f"api:{name}" for name in API_NAMES]
    for request in requests:
        request.send()
        request.send()
        request.close()
    paths = [path for _, path, _ in fake.requests]
    assert paths.count("/identity/v3/auth/tokens") == 2 + 4  # a fresh token at each sample
    assert len(fake.tokens) == len(set(fake.tokens)) == 6
    for resource in (f"/servers/{SERVER}", f"/volumes/{VOLUME}", f"/images/{IMAGE}",
                     f"/{CONTAINER}/{OBJECT}"):
        assert sum(path.endswith(resource) for path in paths) == 2, resource


def test_after_a_failure_the_next_request_opens_a_new_connection(
        cloud: tuple[FakeCloud, CloudAccess]) -> None:
    fake, access = cloud
    compute = tenant_requests(access, ALL, timeout=0.5)[1]
    compute.send()
    compute.send()
    assert len(set(fake.ports("compute"))) == 1  # kept alive between good samples
    fake.behaviour["compute"] = Behaviour(delay=1.0)  # a half-open connection, as after a reset
    with pytest.raises(Exception, match="timed out"):
        compute.send()
    compute.reset()
    fake.behaviour["compute"] = Behaviour()
    compute.send()
    ports = fake.ports("compute")
    assert ports[-1] not in ports[:-1]
    tokens = len(fake.tokens)
    for _ in range(RENEW_AFTER):
        compute.reset()
    compute.send()  # a new connection altogether, with a new token
    assert len(fake.tokens) == tokens + 1
    compute.close()


def test_a_sampler_over_a_fake_cloud_reports_each_outage_with_its_reason(
        cloud: tuple[FakeCloud, CloudAccess]) -> None:
    fake, access = cloud
    fake.echo_token = True
    canaries = CanaryWorkload(IMAGE, "flavor", {"compute1": SERVER}, {"compute1": VOLUME})
    found = build_api_sampler(access, TenantResources.of_canaries(canaries, object_store=True),
                              interval=0.05, timeout=0.5)
    assert found.subjects() == {f"api:{name}" for name in API_NAMES}
    found.start()
    try:
        wait_for(lambda: all(found.figures().get(f"api:{n}/samples", 0) >= 2
                             for n in API_NAMES))
        fake.behaviour["compute"] = Behaviour(status=503)
        fake.behaviour["image"] = Behaviour(delay=1.0)
        wait_for(lambda: found.figures().get("api:compute/failures", 0) >= 3
                 and found.figures().get("api:image/failures", 0) >= 1)
        fake.behaviour["compute"] = Behaviour()
        fake.behaviour["image"] = Behaviour()
        wait_for(lambda: len([o for o in found.outages() if o.lane == "api:compute"]) == 1
                 and all(o.end < time.time() - 0.2 for o in found.outages()))  # both over
    finally:
        found.stop()
    figures = found.figures()
    for quiet in ("identity", "block-storage", "object-store"):
        assert figures[f"api:{quiet}/failures"] == 0, quiet
    details = {o.lane: o.detail for o in found.outages()}
    assert "HTTP 503 from 127.0.0.1:" in details["api:compute"]
    assert "no answer within 0.5 s" in details["api:image"]
    text = "\n".join(found.log()) + repr(found.outages())
    assert not any(token in text for token in fake.tokens)
    assert PASSWORD not in text


def test_no_canary_leaves_the_identity_api_alone() -> None:
    assert TenantResources.of_canaries(None, object_store=True) == TenantResources()
    access = CloudAccess("nowhere", config_files=[])
    assert [r.subject for r in tenant_requests(access, TenantResources(), 1.0)] == [
        "api:identity"]


# -- the cost benchmark -----------------------------------------------------------------------
def test_the_cost_benchmark_measures_a_cloud_and_states_it(
        cloud: tuple[FakeCloud, CloudAccess]) -> None:
    """benchmarks/api_sampler.py against the fake cloud, over a short window: the CPU, each
    API's samples and request times, and the Markdown that states them."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import api_sampler as bench

    from tests.unit.test_benchmark_fairness import PROVENANCE

    _, access = cloud
    access.connection()  # the credentials registered, as the benchmark's look-up does
    run = bench.measure(access, ALL, window=0.5, interval=0.1, timeout=1.0)
    assert set(run["apis"]) == {f"api:{name}" for name in API_NAMES}
    assert all(api["samples"] >= 2 and api["failures"] == 0 for api in run["apis"].values())
    assert run["cpu_per_second"] >= 0 and run["cpu_ms_per_sample"] is not None
    results = {**PROVENANCE, "note": "", "cloud": "stackdrill-lab", "versions": {},
               "interval_s": 0.1, "timeout_s": 1.0, "window_s": 0.5,
               "notes": ["no object-store endpoint: object storage left out"], "run": run}
    text = bench.markdown(results)
    assert "# API availability sampler: its cost" in text
    assert f"- CPU: {run['cpu_per_second'] * 100:.2f} % of one CPU while sampling" in text
    assert "- left out: no object-store endpoint: object storage left out" in text
    assert "| api:compute | " in text
    assert "`.venv/bin/python benchmarks/api_sampler.py --lab --window 0.5`" in text
