"""Secrets never reach a report or a log: the inventory's BMC passwords and the clouds.yaml
credentials (any ``auth`` key naming a password, a secret or a token) are registered with the
redactor, for pytest runs (the ``redactor`` fixture) and for ``stackdrill run``, ``plan``,
``recover --pending`` and ``discover``.

The end-to-end checks drive the fake cloud of :mod:`tests.unit.fake_cloud` with a fault whose
"tools" print both secrets, as an ``ipmitool -P`` command line or an openstack client's debug
output would, and then search every file the run wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar
from xml.etree import ElementTree

import pytest
import yaml

from stackdrill import cli
from stackdrill.api._fault import Fault, FaultError
from stackdrill.api._registry import Registries
from stackdrill.cloud.access import CloudAccess
from stackdrill.core.evidence import Evidence, Redactor
from stackdrill.core.params import Param
from stackdrill.engine.journal import Journal
from stackdrill.engine.lock import lock_name
from stackdrill.hosts.secrets import inventory_redactor, inventory_secrets
from stackdrill.inventory.discover import DiscoverError, run_discovery
from stackdrill.inventory.loader import load_inventory, parse_inventory
from stackdrill.inventory.secrets import auth_secrets
from tests.unit.fake_cloud import CONFTEST, HOSTS, fake_project, run_args

ROOT = Path(__file__).resolve().parents[2]
BMC_PASSWORD = "bmc-Pa55word-91"
APP_SECRET = "appcred-5ecret-7Hq2"
ENV_PASSWORD = "from-the-environment-3"
FILE_PASSWORD = "from-the-file-88"
URL_PASSWORD = "virsh-pw-1234"
SECRETS = (BMC_PASSWORD, APP_SECRET)


def inventory_data(**extra: Any) -> dict[str, Any]:
    """Two computes whose BMC password comes from the inventory's defaults."""
    return {"cloud": "unit",
            "defaults": {"power": {"driver": "ipmi", "address": "192.0.2.250",
                                   "username": "admin", "password": BMC_PASSWORD}},
            "hosts": HOSTS, **extra}


def clouds_yaml(directory: Path) -> Path:
    """A clouds.yaml whose cloud 'appcred' signs in with an application credential, against
    a closed port."""
    path = directory / "clouds.yaml"
    path.write_text(yaml.safe_dump({"clouds": {"appcred": {
        "auth_type": "v3applicationcredential",
        "auth": {"auth_url": "http://127.0.0.1:9/v3", "application_credential_id": "a1b2c3",
                 "application_credential_secret": APP_SECRET}}}}))
    return path


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} in {where}"


# -- what is registered -------------------------------------------------------------------------
def test_every_power_password_of_the_inventory_is_registered(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKDRILL_TEST_BMC_PASSWORD", ENV_PASSWORD)
    (tmp_path / "bmc-password").write_text(f"{FILE_PASSWORD}\n")
    hosts = {
        "compute1": {**HOSTS["compute1"]},  # the defaults' password
        "compute2": {**HOSTS["compute2"], "power": {
            "driver": "redfish", "url": "https://192.0.2.251", "username": "admin",
            "password_env": "STACKDRILL_TEST_BMC_PASSWORD"}},
        "storage1": {"address": "192.0.2.21", "roles": ["storage"], "power": {
            "driver": "ipmi", "address": "192.0.2.252", "username": "admin",
            "password_file": str(tmp_path / "bmc-password")}},
        "storage2": {"address": "192.0.2.22", "roles": ["storage"], "power": {
            "driver": "libvirt", "uri": f"qemu+ssh://root:{URL_PASSWORD}@192.0.2.1/system"}},
        # a password is a secret even where the driver's other options are incomplete
        "controller1": {"address": "192.0.2.10", "roles": ["controller"], "power": {
            "driver": "ipmi", "password": "no-username-given"}},
    }
    inventory = parse_inventory(inventory_data(hosts=hosts), tmp_path / "inventory.yaml")
    found = inventory_secrets(inventory.hosts.values())
    assert sorted(found) == sorted([BMC_PASSWORD, ENV_PASSWORD, FILE_PASSWORD, URL_PASSWORD,
                                    "no-username-given"])
    assert "STACKDRILL_TEST_BMC_PASSWORD" not in found  # where a secret is, not the secret
    redact = inventory_redactor(inventory)
    text = (f"ipmitool -P {BMC_PASSWORD}; X-Auth: {ENV_PASSWORD}; {FILE_PASSWORD}; "
            f"qemu+ssh://root:{URL_PASSWORD}@192.0.2.1/system; no-username-given")
    assert redact(text) == ("ipmitool -P ***; X-Auth: ***; ***; "
                            "qemu+ssh://root:***@192.0.2.1/system; ***")


def test_every_secret_of_the_clouds_yaml_auth_is_registered() -> None:
    auth = {"auth_url": "https://keystone:5000/v3", "username": "drill", "password": "pw-one1",
            "application_credential_id": "id-not-secret",
            "application_credential_secret": APP_SECRET, "token": "gAAAAAtoken",
            "passcode": "123456", "user_domain_name": "Default",
            "oidc": {"client_secret": "nested-secret"}}
    assert auth_secrets(auth) == ["pw-one1", APP_SECRET, "gAAAAAtoken", "123456",
                                  "nested-secret"]
    assert auth_secrets(None) == []


def test_cloud_access_registers_the_application_credential_secret(tmp_path: Path) -> None:
    clouds = clouds_yaml(tmp_path)
    redactor = Redactor()
    access = CloudAccess("appcred", redactor, config_files=[str(clouds)])
    assert redactor(APP_SECRET) == APP_SECRET
    assert access.register_secrets()  # read from clouds.yaml, nothing contacted
    assert redactor(f"X-Secret: {APP_SECRET}") == "X-Secret: ***"
    fresh = Redactor()
    connected = CloudAccess("appcred", fresh, config_files=[str(clouds)])
    connected.connection()  # openstacksdk authenticates lazily: still nothing contacted
    connected.close()
    assert fresh(APP_SECRET) == "***"
    assert not CloudAccess("nosuch", Redactor(), config_files=[str(clouds)]).register_secrets()


def test_secrets_are_removed_as_json_and_urls_hold_them_too() -> None:
    secret = 'p"w/with\\odd&chars'
    redactor = Redactor()
    redactor.add(secret)
    evidence = Evidence(redactor)
    evidence.attach_json("config", {"password": secret})
    evidence.attach_text("url", "mysql://nova:p%22w%2Fwith%5Codd%26chars@db/nova")
    texts = [text for _, text in evidence.attachments]
    assert texts == ['{\n  "password": "***"\n}', "mysql://nova:***@db/nova"]


def registering(fault: str) -> str:
    """The conftest lines that register ``fault`` (and the fake cloud's probe) with stackdrill,
    through the hook and through the session's registries."""
    return f'''

def pytest_stackdrill_register(registries):
    registries.faults.register({fault})


@pytest.fixture(scope="session")
def stackdrill_registries():
    found = Registries()
    found.faults.register({fault})
    found.probes.register(FakeState)
    return found
'''


# -- stackdrill run and plan: every file they write -------------------------------------------
LEAKY = f'''

BMC_PASSWORD = {BMC_PASSWORD!r}
APP_SECRET = {APP_SECRET!r}


class LeakyStop(FakeStop):
    """Its tools print the host's BMC password and the cloud's application credential."""

    name = "leaky_stop"

    def plan(self):
        return [f"ipmitool -H bmc -U admin -P {{self.target.spec.power['password']}} power off"]

    def confirm(self, facts):
        found = super().confirm(facts)
        return found and (f"{{found}} (ipmitool -P {{self.target.spec.power['password']}}; "
                          f"OS_APPLICATION_CREDENTIAL_SECRET={{APP_SECRET}})")
''' + registering("LeakyStop")

NO_CLOUD_OVERRIDE = '''

@pytest.fixture(scope="session")
def cloud_access():
    return None
'''

LEAKY_FEATURE = """\
Feature: a drill whose tools print secrets
  Scenario: the canary stops
    Given a compute host
    And the cloud is in its verified state
    When the fault "leaky_stop" is injected on the compute host:
      | service | canary |
    Then the fault is confirmed within 5 seconds
    And the state deviates from the verified state within 5 seconds at:
      | path                   |
      | host:*/svc:canary      |
"""


@pytest.fixture(scope="module")
def leaky_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A feature directory whose fault prints both secrets, its inventory, and the directory of
    the run's files. The real ``cloud_access`` fixture reads the clouds.yaml entry."""
    directory = tmp_path_factory.mktemp("leaky")
    features, inventory = fake_project(directory, LEAKY_FEATURE, inventory=inventory_data())
    conftest = features / "conftest.py"
    assert NO_CLOUD_OVERRIDE in CONFTEST
    conftest.write_text(CONFTEST.replace(NO_CLOUD_OVERRIDE, "\n") + LEAKY)
    clouds_yaml(directory)
    return directory, features, inventory


def stackdrill(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A real process, as in test_safeguards: in-process runs would share this session's Allure
    listener."""
    env = {**os.environ, "XDG_STATE_HOME": str(directory / "state"),
           "OS_CLIENT_CONFIG_FILE": str(directory / "clouds.yaml")}
    env.pop("OS_CLOUD", None)
    return subprocess.run([sys.executable, "-m", "stackdrill.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_no_secret_reaches_any_file_a_run_writes(leaky_project: tuple[Path, Path, Path]
                                                ) -> None:
    directory, features, inventory = leaky_project
    result = stackdrill(directory, *run_args(directory, features, inventory, "--os-cloud",
                                             "appcred"))
    output = result.stdout + result.stderr
    assert result.returncode == cli.EXIT_OK, output
    assert_no_secret(output, "the run's output")
    reports = (directory / "reports" / "latest").resolve()  # the run's own directory
    written = sorted(path for path in [*reports.rglob("*"), directory / "history.jsonl",
                                       directory / "journal.jsonl"] if path.is_file())
    names = {path.relative_to(directory).as_posix() for path in written}
    run = reports.relative_to(directory).as_posix()
    assert {f"{run}/junit.xml", f"{run}/drills.html", "history.jsonl",
            "journal.jsonl"} <= names
    for path in written:
        assert_no_secret(path.read_text(errors="replace"), str(path.relative_to(directory)))
    # the secrets did reach the evidence, and were replaced there
    attachments = [path.read_text() for path in (reports / "allure-results").glob("*-attachment*")]
    confirmed = [text.splitlines()[0] for text in attachments
                 if text.startswith("stopped (ipmitool -P ")]
    assert confirmed == ["stopped (ipmitool -P ***; OS_APPLICATION_CREDENTIAL_SECRET=***)"]
    records = [json.loads(line) for line in (directory / "history.jsonl").read_text()
               .splitlines()]
    assert [record["result"] for record in records] == ["passed"]
    assert "OS_APPLICATION_CREDENTIAL_SECRET=***" in json.dumps(records)


# -- pytest's own failure text: terminal, junit.xml, Allure results ----------------------------
FAILING = f'''

BMC_PASSWORD = {BMC_PASSWORD!r}
APP_SECRET = {APP_SECRET!r}


class BmcRefusal(FakeStop):
    """Fails to inject with the error an ipmitool that is refused would give, command line and
    environment included."""

    name = "bmc_refusal"

    def inject(self, facts):
        password = self.target.spec.power["password"]
        print(f"$ ipmitool -H bmc -U admin -P {{password}} power off")
        raise FaultError(f"ipmitool -H bmc -U admin -P {{password}} power off: unable to "
                         f"establish an IPMI session (OS_APPLICATION_CREDENTIAL_SECRET="
                         f"{{APP_SECRET}})")
''' + registering("BmcRefusal") + '''


@then("the BMC of compute1 accepts the password the cloud expects")
def bmc_accepts(inventory, cloud_access):
    password = inventory.host("compute1").power["password"]
    print(f"trying {password}")
    assert password == "the-expected-one", f"refused, with the cloud's secret {APP_SECRET}"
'''

FAILING_FEATURE = """\
Feature: scenarios whose failures quote secrets
  Scenario: the fault cannot be injected
    Given a compute host
    And the cloud is in its verified state
    When the fault "bmc_refusal" is injected on the compute host:
      | service | canary |
    Then the fault is confirmed within 5 seconds

  Scenario: an assertion compares the BMC password
    Then the BMC of compute1 accepts the password the cloud expects
"""


def test_no_secret_reaches_pytests_own_failure_reports(tmp_path: Path) -> None:
    """A failure's message and traceback, and the output captured with it, name both secrets;
    pytest prints them, junit.xml holds them and allure-pytest reads them from the exception
    itself. Each holds ``***`` in their place."""
    features, inventory = fake_project(tmp_path, FAILING_FEATURE, inventory=inventory_data())
    conftest = features / "conftest.py"
    conftest.write_text(CONFTEST.replace(NO_CLOUD_OVERRIDE, "\n")
                        .replace("from stackdrill.api import Fault, ",
                                 "from pytest_bdd import then\n"
                                 "from stackdrill.api import Fault, FaultError, ") + FAILING)
    clouds_yaml(tmp_path)
    result = stackdrill(tmp_path, *run_args(tmp_path, features, inventory, "--os-cloud",
                                            "appcred", ))
    output = result.stdout + result.stderr
    assert result.returncode == cli.EXIT_FAILED, output
    assert_no_secret(output, "the run's output")
    assert "2 failed" in result.stdout, output
    assert ("failed to inject: ipmitool -H bmc -U admin -P *** power off: unable to establish "
            "an IPMI session (OS_APPLICATION_CREDENTIAL_SECRET=***)") in result.stdout
    assert "AssertionError: refused, with the cloud's secret ***" in result.stdout
    assert "assert '***' == 'the-expected-one'" in result.stdout
    assert "$ ipmitool -H bmc -U admin -P *** power off" in result.stdout  # captured output

    junit = tmp_path / "reports" / "latest" / "junit.xml"
    assert_no_secret(junit.read_text(), "junit.xml")
    failures = {case.get("name"): case.find("failure")
                for case in ElementTree.parse(junit).getroot().iter("testcase")}
    assert sorted(failures) == ["test_an_assertion_compares_the_bmc_password",
                                "test_the_fault_cannot_be_injected"]
    injected = failures["test_the_fault_cannot_be_injected"]
    compared = failures["test_an_assertion_compares_the_bmc_password"]
    assert injected is not None and compared is not None
    assert "-P *** power off" in injected.get("message", "")
    assert "OS_APPLICATION_CREDENTIAL_SECRET=***" in injected.get("message", "")
    assert "refused, with the cloud's secret ***" in compared.get("message", "")
    assert "assert '***' == 'the-expected-one'" in (compared.text or "")

    allure = sorted((tmp_path / "reports" / "latest" / "allure-results").iterdir())
    for path in allure:
        text = path.read_text(errors="replace")
        assert_no_secret(text, path.name)
        if path.suffix == ".json":
            json.loads(text)  # still valid
    results = [json.loads(path.read_text()) for path in allure
               if path.name.endswith("-result.json")]
    details = {result["name"]: result["statusDetails"] for result in results}
    assert sorted(details) == ["an assertion compares the BMC password",
                               "the fault cannot be injected"]
    assert [r["status"] for r in results] == ["failed", "failed"]
    message = details["the fault cannot be injected"]["message"]
    assert "-P *** power off" in message and "OS_APPLICATION_CREDENTIAL_SECRET=***" in message
    compared_details = details["an assertion compares the BMC password"]
    assert "refused, with the cloud's secret ***" in compared_details["message"]
    assert "assert '***' == 'the-expected-one'" in compared_details["trace"]
    captured = [path.read_text() for path in allure if "-attachment" in path.name]
    assert "$ ipmitool -H bmc -U admin -P *** power off\n" in captured
    assert "trying ***\n" in captured


def test_the_plan_never_prints_a_bmc_password(leaky_project: tuple[Path, Path, Path]) -> None:
    directory, features, inventory = leaky_project
    result = stackdrill(directory, "plan", str(features), "--inventory", str(inventory), "--",
                        "-c", "/dev/null", "--rootdir", str(features), "-p", "no:cacheprovider")
    assert result.returncode == cli.EXIT_OK, result.stdout + result.stderr
    assert_no_secret(result.stdout + result.stderr, "the plan")
    assert "$ ipmitool -H bmc -U admin -P *** power off" in result.stdout


# -- stackdrill recover --pending and discover ----------------------------------------------------
class LeakyUndo(Fault):
    name = "leaky_undo"
    description = "an undo whose error message quotes the secrets"
    params: ClassVar[Mapping[str, Param]] = {}

    def plan(self) -> list[str]:
        return []

    def prepare(self) -> dict[str, Any]:
        return {}

    def inject(self, facts: Mapping[str, Any]) -> None:
        pass

    def confirm(self, facts: Mapping[str, Any]) -> str | None:
        return "injected"

    def undo(self, facts: Mapping[str, Any]) -> None:
        raise FaultError(f"ipmitool -P {BMC_PASSWORD} failed; token {APP_SECRET} refused")


def test_recover_pending_prints_and_journals_no_secret(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import stackdrill.api._registry

    inventory_file = tmp_path / "inventory.yaml"
    inventory_file.write_text(yaml.safe_dump(inventory_data()))
    journal_file = tmp_path / "journal.jsonl"
    Journal(journal_file, cloud=lock_name(load_inventory(inventory_file))).arm(
        "leaky_undo", "compute1", {}, {})
    registries = Registries()
    registries.faults.register(LeakyUndo)
    monkeypatch.setattr(stackdrill.api._registry, "load_registries", lambda: registries)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_yaml(tmp_path)))
    code = cli.main(["recover", "--pending", "--inventory", str(inventory_file), "--journal",
                     str(journal_file), "--os-cloud", "appcred"])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_FAILED, out + err
    assert_no_secret(out + err, "recover's output")
    assert "FAILED leaky_undo on compute1" in out
    assert "ipmitool -P *** failed; token *** refused" in out
    journal = journal_file.read_text()
    assert_no_secret(journal, "the journal")
    assert "ipmitool -P *** failed; token *** refused" in journal


def test_discover_says_a_failure_without_the_secret() -> None:
    class Failing:
        config = type("Region", (), {"name": "appcred", "config": {"auth": {
            "application_credential_id": "a1b2c3",
            "application_credential_secret": APP_SECRET}}})()

        @property
        def compute(self) -> Any:
            raise RuntimeError(f"auth failed for secret {APP_SECRET}")

    with pytest.raises(DiscoverError) as failed:
        run_discovery("appcred", Failing(), lambda name: None, lambda address: None)
    assert str(failed.value) == "cloud 'appcred': RuntimeError: auth failed for secret ***"
