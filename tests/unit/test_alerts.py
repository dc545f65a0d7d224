"""The alert steps' pure logic, with fakes: Alertmanager's answer read, the rules' names, the
sampler's sightings, and each expectation (fires, clears, no other critical alert) judged,
with its one-line failure."""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from stackdrill.cloud.alerts import AlertError
from stackdrill.cloud.alerts.alertmanager import Alertmanager, parse_alerts, parse_time
from stackdrill.cloud.alerts.rules import (
    RuleNames,
    names_in_file,
    names_in_rules,
    prometheus_rule_names,
)
from stackdrill.cloud.alerts.sampler import AlertSampler
from stackdrill.cloud.alerts.vocabulary import is_alert_step, named_alert, named_alerts
from stackdrill.core.errors import DrillError
from stackdrill.core.evidence import Evidence, Timeline
from stackdrill.engine.alert_check import alert_steps, check_alerts
from stackdrill.engine.alert_watch import AlertWatch, Moment, others_message, recovery_end
from stackdrill.inventory.model import AlertsSpec
from tests.unit.alert_fakes import FakeClock, FakeSource, alert

AM_ANSWER = json.dumps([{
    "labels": {"alertname": "NovaComputeDown", "severity": "critical", "hostname": "compute1"},
    "fingerprint": "abc", "startsAt": "2026-12-07T12:00:05.123456789Z",
    "endsAt": "2026-12-07T12:01:05Z", "status": {"state": "active"}}])


def test_the_steps_name_their_alerts() -> None:
    assert named_alert('the alert "NovaComputeDown" fires within 120 seconds') == \
        "NovaComputeDown"
    assert named_alert('the alert "X" clears within 60 seconds of the recovery') == "X"
    assert named_alert("it clears within 60 seconds of the recovery") is None
    assert is_alert_step("it clears within 60 seconds of the recovery")
    assert is_alert_step("no other critical alert fires")
    assert not is_alert_step("the cloud is back to its verified state within 5 seconds")
    assert named_alerts(['the alert "A" fires within 1 second', 'the alert "B" fires within '
                         '2 seconds', 'the alert "A" clears within 3 seconds of the recovery']
                        ) == ["A", "B"]


def test_alertmanagers_answer_is_read() -> None:
    [found] = parse_alerts(AM_ANSWER)
    assert (found.name, found.state, found.severity, found.fingerprint) == \
        ("NovaComputeDown", "active", "critical", "abc")
    assert found.starts_at == pytest.approx(parse_time("2026-12-07T12:00:05.123456Z"))
    assert found.label_text() == '{hostname="compute1"}'
    assert parse_time("2026-12-07T13:00:05+01:00") == parse_time("2026-12-07T12:00:05Z")


@pytest.mark.parametrize(("body", "line"), [
    ("<html>", "Alertmanager: the answer is not JSON"),
    ('{"data": []}', "Alertmanager: expected a list of alerts"),
    ('[{"startsAt": "x"}]', "Alertmanager: an alert without labels"),
    ('[{"labels": {}, "startsAt": "yesterday"}]', "Alertmanager: cannot read the time"),
])
def test_an_answer_that_is_not_alerts_is_one_line(body: str, line: str) -> None:
    with pytest.raises(AlertError, match=line):
        parse_alerts(body)


def test_alertmanager_is_asked_for_every_alert_it_holds() -> None:
    asked: list[str] = []

    def fetch(url: str, timeout: float) -> bytes:
        asked.append(url)
        return AM_ANSWER.encode()

    assert [a.name for a in Alertmanager("http://am:9093/", fetch=fetch).alerts()] == \
        ["NovaComputeDown"]
    assert asked == ["http://am:9093/api/v2/alerts?active=true&silenced=true&inhibited=true"
                     "&unprocessed=true"]


def test_an_alertmanager_that_does_not_answer_is_one_line() -> None:
    def refused(url: str, timeout: float) -> bytes:
        raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))

    with pytest.raises(AlertError) as caught:
        Alertmanager("http://am:9093", fetch=refused).alerts()
    assert str(caught.value) == ("Alertmanager at http://am:9093 did not answer: "
                                 "[Errno 111] Connection refused")


RULES = {"groups": [{"name": "g", "rules": [
    {"alert": "NovaComputeDown", "expr": "x == 0"}, {"record": "job:up", "expr": "up"}]}]}


def test_the_rules_name_the_alerts(tmp_path: Path) -> None:
    assert names_in_rules(RULES, "f") == {"NovaComputeDown"}
    path = tmp_path / "rules.yml"
    path.write_text(json.dumps(RULES))
    assert names_in_file(path) == {"NovaComputeDown"}
    names = RuleNames(frozenset({"A", "B"}), "rules.yml")
    assert names.problem("A") is None
    assert names.problem("C") == ('no alerting rule defines the alert "C" (2 alerts in '
                                  "rules.yml: A, B)")


@pytest.mark.parametrize(("text", "line"), [
    ("groups: {", "not YAML"),
    ("- a\n- b\n", "not a Prometheus rule file"),
    ("groups:\n  - name: g\n", "a group without a list of rules"),
])
def test_a_rule_file_that_cannot_be_read_is_one_line(tmp_path: Path, text: str,
                                                     line: str) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(text)
    with pytest.raises(AlertError, match=line):
        names_in_file(path)
    with pytest.raises(AlertError, match="cannot be read"):
        names_in_file(tmp_path / "missing.yml")


def test_prometheus_says_which_rules_it_loaded() -> None:
    answer = {"status": "success", "data": {"groups": [{"rules": [
        {"name": "RabbitMQNodeDown", "type": "alerting"}, {"name": "x", "type": "recording"}]}]}}

    def fetch(url: str, timeout: float) -> bytes:
        assert url == "http://prom:9090/api/v1/rules?type=alert"
        return json.dumps(answer).encode()

    found = prometheus_rule_names("http://prom:9090/", fetch=fetch)
    assert found.names == {"RabbitMQNodeDown"}


def test_the_sampler_keeps_each_alert_from_first_to_last_seen() -> None:
    source, clock = FakeSource(), FakeClock()
    sampler = AlertSampler(source, now=clock.time)
    down = alert("NovaComputeDown", clock.now - 3, hostname="compute1")
    source.listed = [down]
    sampler.sample()
    clock.sleep(2)
    sampler.sample()
    clock.sleep(2)
    source.listed = []
    sampler.sample()
    clock.sleep(2)
    source.listed = [down]  # fires again: a sighting of its own
    sampler.sample()
    source.failing = True
    with pytest.raises(AlertError):
        sampler.sample()
    first, second = sampler.snapshot()
    assert (first.first_seen, first.last_seen, first.gone_at) == (1e6, 1e6 + 2, 1e6 + 4)
    assert (second.first_seen, second.gone_at) == (1e6 + 6, None)
    assert (sampler.samples, sampler.failures) == (5, 1)
    assert 'NovaComputeDown{hostname="compute1"} critical, firing since' in sampler.render()
    assert "5 samples of Alertmanager at http://am:9093, 1 failed" in sampler.render()


def watch_of(source: FakeSource, clock: FakeClock, *expected: str) -> AlertWatch:
    return AlertWatch(AlertSampler(source, now=clock.time), Timeline(), Evidence(),
                      expected=list(expected), now=clock.time, clock=clock)


class FiresLater(FakeSource):
    """Lists the alert from the ``after``-th call on."""

    def __init__(self, clock: FakeClock, after: int, **fields: Any) -> None:
        super().__init__()
        self.clock, self.after, self.fields = clock, after, fields

    def alerts(self) -> list[Any]:
        if self.calls + 1 >= self.after and not self.listed:
            self.listed = [alert(starts_at=self.clock.now - 1, **self.fields)]
        return super().alerts()


def test_an_alert_that_fires_in_time_passes_and_goes_on_the_timeline() -> None:
    clock = FakeClock()
    source = FiresLater(clock, 4, name="NovaComputeDown", hostname="compute1")
    watch = watch_of(source, clock, "NovaComputeDown")
    window = Moment(clock.now, "the injection of fault stop_service on compute1")
    found = watch.fires("NovaComputeDown", 120, window)
    assert found.name == "NovaComputeDown" and found.first_seen <= clock.now
    [event] = [e for e in watch.timeline.events if e.kind == "alert-firing"]
    assert event.title == 'NovaComputeDown{hostname="compute1"} firing (critical, active)'


@pytest.mark.parametrize(("listed", "why"), [
    ([], "never listed by Alertmanager at http://am:9093"),
    ([alert("NovaComputeDown", 1e6 - 300)], "listed only since 13:41:40 UTC, before it"),
    ([alert("NovaComputeDown", 1e6 + 1, state="suppressed")],
     "listed only suppressed (silenced or inhibited)"),
])
def test_an_alert_that_never_fires_fails_with_one_line(listed: list[Any], why: str) -> None:
    clock, source = FakeClock(), FakeSource()
    source.listed = listed
    watch = watch_of(source, clock)
    with pytest.raises(DrillError) as caught:
        watch.fires("NovaComputeDown", 30, Moment(clock.now, "the injection of fault f on h"))
    message = str(caught.value)
    assert message.startswith('the alert "NovaComputeDown" did not fire within 30 s of the '
                              "injection of fault f on h: " + why), message
    assert "\n" not in message
    assert clock.now == pytest.approx(1e6 + 30)  # polled to the deadline, no longer


def test_an_alert_clears_within_its_time_of_the_recovery() -> None:
    clock, source = FakeClock(), FakeSource()
    source.listed = [alert("SwiftDiskUnmounted", clock.now + 1, device="d1")]
    watch = watch_of(source, clock)
    window = Moment(clock.now, "the injection")
    clock.sleep(5)
    watch.fires("SwiftDiskUnmounted", 60, window)
    recovery = Moment(clock.now + 10, "the end of the recovery")
    clock.sleep(20)
    source.listed = []
    after = watch.clears(None, 60, recovery)  # "it": the alert named last
    assert after == pytest.approx(10)
    assert [e.kind for e in watch.timeline.events] == ["alert-firing", "alert-cleared"]


def test_an_alert_that_does_not_clear_fails_with_one_line() -> None:
    clock, source = FakeClock(), FakeSource()
    source.listed = [alert("SwiftDiskUnmounted", clock.now + 1, device="d1")]
    watch = watch_of(source, clock)
    watch.fires("SwiftDiskUnmounted", 60, Moment(clock.now, "the injection"))
    with pytest.raises(DrillError, match=r'the alert "SwiftDiskUnmounted" did not clear within '
                                         r"60 s of the end of the recovery: "
                                         r"SwiftDiskUnmounted\{device=\"d1\"\} critical"):
        watch.clears("SwiftDiskUnmounted", 60, Moment(clock.now, "the end of the recovery"))
    with pytest.raises(DrillError, match='the alert "Other" never fired during the drill'):
        watch.clears("Other", 60, Moment(clock.now, "the end of the recovery"))


def test_no_other_critical_alert_counts_only_unnamed_critical_alerts_that_paged() -> None:
    clock, source = FakeClock(), FakeSource()
    window = Moment(clock.now, "the injection of fault stop_service on controller")
    source.listed = [
        alert("RabbitMQNodeDown", clock.now + 5),
        alert("NovaComputeDown", clock.now + 9, hostname="compute1"),
        alert("MariaDBDown", clock.now + 7, state="suppressed"),
        alert("DiskFilling", clock.now + 7, severity="warning"),
        alert("SwiftDiskUnmounted", clock.now - 600),  # firing before the drill
    ]
    clock.sleep(20)
    watch = watch_of(source, clock, "RabbitMQNodeDown")
    others = watch.no_other_critical(window)
    assert [s.name for s in others] == ["NovaComputeDown"]
    line = others_message(others, window, 0)
    assert line.startswith('1 other critical alert(s) fired during the drill: NovaComputeDown'
                           '{hostname="compute1"} critical, firing since')
    assert line.endswith("+9.0 s after the injection of fault stop_service on controller")
    watch.expected.append("NovaComputeDown")
    assert watch.no_other_critical(window) == []


def test_no_other_critical_alert_fails_when_alertmanager_was_never_asked() -> None:
    clock, source = FakeClock(), FakeSource()
    source.failing = True
    watch = watch_of(source, clock)
    with pytest.raises(DrillError, match="Alertmanager at http://am:9093 was not asked since "
                                         r"the injection \(1 samples, 1 failed\)"):
        watch.no_other_critical(Moment(clock.now, "the injection"))


def test_the_recovery_ends_with_its_last_step() -> None:
    timeline = Timeline()
    timeline.add("fault-injected", "f on h", at=10.0)
    timeline.add("recovery-step", "start nova-compute", at=20.0)
    timeline.add("verified", "back", at=30.0)
    assert recovery_end(SimpleNamespace(timeline=timeline)).at == 20.0  # type: ignore[arg-type]
    with pytest.raises(DrillError, match="no recovery ran"):
        recovery_end(SimpleNamespace(timeline=Timeline()))  # type: ignore[arg-type]


def steps(*texts: str) -> list[Any]:
    return [SimpleNamespace(name=text, line_number=number)
            for number, text in enumerate(texts, 10)]


SCENARIOS = [("f.feature", steps("the cloud is in its verified state",
                                 'the alert "NovaComputeDown" fires within 120 seconds',
                                 "it clears within 60 seconds of the recovery",
                                 'the alert "Nope" fires within 5 seconds'))]


def test_the_alert_steps_are_found() -> None:
    assert alert_steps(SCENARIOS) == [("f.feature:11", "NovaComputeDown"),
                                      ("f.feature:12", None), ("f.feature:13", "Nope")]
    assert check_alerts([("f.feature", steps("no alert here"))], AlertsSpec(), True) == []


def test_a_run_without_alertmanager_is_refused_and_a_plan_is_not() -> None:
    assert check_alerts(SCENARIOS, AlertsSpec(), running=True) == [
        "f.feature:11: the alert steps need the cloud's Alertmanager: the inventory names "
        "none (alerts: {alertmanager: URL})"]
    assert check_alerts(SCENARIOS, AlertsSpec(), running=False) == []


def test_an_alert_no_rule_defines_is_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(json.dumps(RULES))
    spec = AlertsSpec(alertmanager="http://am:9093", rule_files=(rules,), declared=True)
    assert check_alerts(SCENARIOS, spec, running=False) == [
        f'f.feature:13: no alerting rule defines the alert "Nope" (1 alerts in {rules}: '
        f"NovaComputeDown)"]
    rules.write_text("groups: {")
    [problem] = check_alerts(SCENARIOS, spec, running=True)
    assert problem.startswith(f"f.feature:11: {rules}: not YAML")
    # without rule files nor a Prometheus, the names cannot be checked
    assert check_alerts(SCENARIOS, AlertsSpec(alertmanager="http://am:9093"), True) == []
