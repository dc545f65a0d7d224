"""The ``keystone_tokens`` probe against a fake Keystone on loopback: a new token issued to a
fresh authentication in every snapshot, the drill's first token validated, both false (with
Keystone's reason) while Keystone fails and true again once it is back; the inventory's
``keystone.tokens_survive``; and no token or password in any value, error, problem, snapshot or
log record."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from stackdrill.builtin.probes.keystone_tokens import KeystoneTokens

from stackdrill.api import CloudContext
from stackdrill.api._registry import load_registries
from stackdrill.cloud import keystone_tokens
from stackdrill.cloud.access import CloudAccess
from stackdrill.core.evidence import Redactor
from stackdrill.engine.snapshot import take_snapshot
from stackdrill.hosts.target import Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.inventory.model import InventoryError
from tests.unit.fake_openstack import PASSWORD, Behaviour, FakeCloud, fake_cloud

HEALTHY = {"keystone:new_token/issued": True, "keystone:earlier_token/validates": True}
HOSTS = {"controller": {"address": "192.0.2.10", "roles": ["controller"]}}


@pytest.fixture(autouse=True)
def every_snapshot_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each snapshot here asks Keystone anew (see test_a_new_token_is_asked_for_at_most_every_
    interval for the interval itself)."""
    monkeypatch.setattr(KeystoneTokens, "issue_interval", 0.0)


def inventory(directory: Path, **extra: Any) -> Targets:
    path = directory / "inventory.yaml"
    path.write_text(yaml.safe_dump({"cloud": "fake", "hosts": HOSTS, **extra}))
    return Targets(load_inventory(path))


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[tuple[FakeCloud, CloudContext]]:
    with fake_cloud() as found:
        access = CloudAccess("fake", Redactor(), [str(found.clouds_yaml(tmp_path))])
        yield found, CloudContext(access, inventory(tmp_path))


def secrets_of(fake: FakeCloud) -> list[str]:
    return [*fake.tokens, PASSWORD]


def assert_no_secret(fake: FakeCloud, *texts: object) -> None:
    text = json.dumps([str(item) for item in texts])
    for secret in secrets_of(fake):
        assert secret not in text


def test_it_is_registered_with_the_built_in_probes() -> None:
    assert load_registries().probes.get("keystone_tokens") is KeystoneTokens


def test_a_healthy_keystone_issues_and_validates(
        cloud: tuple[FakeCloud, CloudContext]) -> None:
    fake, context = cloud
    probe = KeystoneTokens()
    assert probe.observe_cloud(context) == HEALTHY
    assert probe.observe_cloud(context) == HEALTHY
    # a password authentication in each snapshot, never the first token reused
    assert len(fake.tokens) == 2
    assert probe.problems(HEALTHY) == []


def test_a_revoked_first_token_no_longer_validates(
        cloud: tuple[FakeCloud, CloudContext]) -> None:
    fake, context = cloud
    probe = KeystoneTokens()
    probe.observe_cloud(context)
    first = fake.tokens[0]
    with fake.lock:
        fake.tokens.remove(first)  # revoked, or its keys lost
    values = probe.observe_cloud(context)
    assert values == {"keystone:new_token/issued": True,
                      "keystone:earlier_token/validates": False,
                      "keystone:earlier_token/error": "HTTP 404: Not Found"}
    [problem] = probe.problems(values)
    assert problem == "Keystone no longer validates the drill's first token: HTTP 404: Not Found"
    # still the first token that is asked about, not one issued since
    assert probe.observe_cloud(context)["keystone:earlier_token/validates"] is False


def test_a_failing_keystone_issues_nothing_and_says_why_without_a_token(
        cloud: tuple[FakeCloud, CloudContext], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake, context = cloud
    probe = KeystoneTokens()
    probe.observe_cloud(context)
    fake.behaviour["identity"] = Behaviour(status=503)
    fake.echo_token = True  # Keystone's answer quotes the token asked about
    values = probe.observe_cloud(context)
    assert values == {"keystone:new_token/issued": False,
                      "keystone:new_token/error": "ServiceUnavailable: unavailable (HTTP 503)",
                      "keystone:earlier_token/validates": False,
                      "keystone:earlier_token/error": "HTTP 503: unavailable ***"}
    problems = probe.problems(values)
    assert problems == ["Keystone issued no new token: ServiceUnavailable: unavailable (HTTP 503)"
                        "; Keystone no longer validates the drill's first token: HTTP 503: "
                        "unavailable ***"]
    assert_no_secret(fake, values, problems, [record.getMessage() for record in caplog.records])


def test_the_first_token_validates_again_once_keystone_is_back(
        cloud: tuple[FakeCloud, CloudContext]) -> None:
    """A Fernet token survives a Keystone that dropped every connection for a while."""
    fake, context = cloud
    probe = KeystoneTokens()
    probe.observe_cloud(context)
    fake.behaviour["identity"] = Behaviour(drop=True)
    down = probe.observe_cloud(context)
    assert (down["keystone:new_token/issued"], down["keystone:earlier_token/validates"]) == \
        (False, False)
    assert down["keystone:new_token/error"].startswith("ConnectFailure: ")
    fake.behaviour["identity"] = Behaviour()
    assert probe.observe_cloud(context) == HEALTHY


def test_a_keystone_slower_than_the_timeout_issues_nothing_within_it(
        cloud: tuple[FakeCloud, CloudContext], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keystone_tokens, "TIMEOUT", 0.3)
    fake, context = cloud
    probe = KeystoneTokens()
    probe.observe_cloud(context)
    fake.behaviour["identity"] = Behaviour(delay=1.5)
    started = time.monotonic()
    values = probe.observe_cloud(context)
    # the new token and the validation are asked at once, each within the timeout
    assert time.monotonic() - started < 1.2
    assert values["keystone:new_token/issued"] is False
    assert values["keystone:earlier_token/validates"] is False
    assert "Timeout" in values["keystone:new_token/error"]


def test_a_first_snapshot_without_keystone_records_no_first_token(
        cloud: tuple[FakeCloud, CloudContext]) -> None:
    fake, context = cloud
    fake.behaviour["identity"] = Behaviour(status=500)
    probe = KeystoneTokens()
    assert set(probe.observe_cloud(context)) == {"keystone:new_token/issued",
                                                 "keystone:new_token/error"}
    fake.behaviour["identity"] = Behaviour()
    assert probe.observe_cloud(context) == HEALTHY


def test_the_inventory_says_whether_earlier_tokens_must_survive(
        cloud: tuple[FakeCloud, CloudContext], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, context = cloud
    unchecked = CloudContext(context.access, inventory(
        tmp_path, keystone={"tokens_survive": False}))
    assert KeystoneTokens().observe_cloud(unchecked) == {"keystone:new_token/issued": True}
    # by default, as the token's format promises: a UUID token is not checked ...
    monkeypatch.setattr(keystone_tokens, "token_format", lambda secret: "other")
    assert KeystoneTokens().observe_cloud(context) == {"keystone:new_token/issued": True}
    # ... unless the inventory says that tokens survive
    checked = CloudContext(context.access, inventory(tmp_path, keystone={"tokens_survive": True}))
    assert KeystoneTokens().observe_cloud(checked) == HEALTHY


def test_the_inventory_key_is_checked(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="keystone"):
        inventory(tmp_path, keystone={"tokens_survive": "maybe"})
    with pytest.raises(InventoryError, match="keystone"):
        inventory(tmp_path, keystone={"fernet": True})
    assert inventory(tmp_path).inventory.keystone_tokens_survive is None


def test_token_formats() -> None:
    assert keystone_tokens.token_format("gAAAAABl0x") == "fernet"
    assert keystone_tokens.token_format("eyJhbGciOiJFUzI1NiJ9.e30.sig") == "jws"
    assert keystone_tokens.token_format("8c0f4e0e2b7a4b3f9f3c1d2e3f4a5b6c") == "other"
    token = keystone_tokens.Token("gAAAAAsecret", "fernet", 3600.0, 100.0)
    assert "gAAAAAsecret" not in repr(token)
    assert not token.aging(100.0 + 2699) and token.aging(100.0 + 2700)


def test_an_aging_first_token_is_renewed_only_while_it_validates(
        cloud: tuple[FakeCloud, CloudContext], monkeypatch: pytest.MonkeyPatch) -> None:
    """A drill longer than the token's lifetime checks a token renewed while the one before it
    still validated; one that stopped validating stays under watch."""
    fake, context = cloud
    monkeypatch.setattr(keystone_tokens, "RENEW_AFTER", 0.0)
    probe = KeystoneTokens()
    probe.observe_cloud(context)
    assert probe.observe_cloud(context) == HEALTHY
    with fake.lock:
        second = fake.tokens[1]
        fake.tokens.remove(fake.tokens[0])  # the first is gone: only the renewed one is asked
    assert probe.observe_cloud(context) == HEALTHY
    with fake.lock:
        fake.tokens.remove(second)
    assert probe.observe_cloud(context)["keystone:earlier_token/validates"] is True
    with fake.lock:
        fake.tokens.clear()
    fake.behaviour["identity"] = Behaviour(status=503)
    probe.observe_cloud(context)
    fake.behaviour["identity"] = Behaviour()
    # not renewed while it did not validate: the token Keystone lost is still the one asked
    assert probe.observe_cloud(context)["keystone:earlier_token/validates"] is False


def test_in_a_snapshot_its_paths_are_the_cloud_s_and_no_secret_is_recorded(
        cloud: tuple[FakeCloud, CloudContext]) -> None:
    fake, context = cloud
    probe = KeystoneTokens()
    health: dict[str, str] = {}
    snap = take_snapshot([], [probe], health, context)
    assert snap.values == {f"cloud/{path}": value for path, value in HEALTHY.items()}
    assert (snap.errors, health) == ({}, {})
    fake.behaviour["identity"] = Behaviour(status=401)
    fake.echo_token = True
    snap = take_snapshot([], [probe], health, context)
    assert snap.values["cloud/keystone:new_token/issued"] is False
    assert health["cloud/probe:keystone_tokens"].startswith("Keystone issued no new token")
    assert_no_secret(fake, snap.to_json(), health)
    # the first token is a registered secret: any report text that quoted it shows ***
    assert context.access.redactor(f"token {fake.tokens[0]}") == "token ***"


def test_credentials_that_issue_no_token_are_the_probe_s_error(tmp_path: Path) -> None:
    """A clouds.yaml entry without Keystone (auth_type none) cannot be observed: the probe's
    error key, and its values unknown."""
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(json.dumps({"clouds": {"fake": {
        "auth_type": "none", "auth": {"endpoint": "http://127.0.0.1:9/"}}}}))
    context = CloudContext(CloudAccess("fake", Redactor(), [str(clouds)]), inventory(tmp_path))
    snap = take_snapshot([], [KeystoneTokens()], {}, context)
    assert snap.values == {}
    assert "has Keystone issue no token" in snap.errors["cloud/probe:keystone_tokens"]


def test_a_new_token_is_asked_for_at_most_every_interval(
        cloud: tuple[FakeCloud, CloudContext], monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh authentication costs Keystone a bcrypt hash: within the interval the last answer
    stands, after it Keystone is asked again."""
    fake, context = cloud
    probe = KeystoneTokens()
    monkeypatch.setattr(probe, "issue_interval", 3600.0)
    assert probe.observe_cloud(context) == HEALTHY
    asked = len(fake.tokens)
    assert probe.observe_cloud(context) == HEALTHY
    assert len(fake.tokens) == asked
    monkeypatch.setattr(probe, "issue_interval", 0.0)
    assert probe.observe_cloud(context) == HEALTHY
    assert len(fake.tokens) == asked + 1
