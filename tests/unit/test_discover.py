"""``stackdrill discover`` with a fake openstacksdk connection: hosts, addresses and roles from
Keystone's endpoints, Nova's hypervisors and services and Cinder's services; a YAML inventory
that validates; an unusable cloud is one line and exit 2."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from stackdrill import cli
from stackdrill.inventory.discover import DiscoverError, discover, render, run_discovery
from stackdrill.inventory.loader import load_inventory

ADDRESSES = {"compute1": "10.0.0.11", "compute2": "10.0.0.12", "storage1": "10.0.0.21",
             "api.example.org": "10.0.0.5", "ctl1": "10.0.0.1"}


def ns(**values: Any) -> SimpleNamespace:
    return SimpleNamespace(**values)


class FakeConnection:
    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.config = ns(name="prod-eu")
        self.identity = ns(
            services=lambda: [ns(id="s1", type="compute"), ns(id="s2", type="identity"),
                              ns(id="s3", type="volumev3")],
            endpoints=self._endpoints)
        self.compute = ns(
            hypervisors=lambda details: [
                ns(name="compute1.example.org", host_ip="10.0.0.11",
                   service_details={"host": "compute1", "id": 1}),
                ns(name="compute2", host_ip="10.0.0.12", service_details=None)],
            services=lambda: [ns(binary="nova-compute", host="compute1"),
                              ns(binary="nova-compute", host="compute2"),
                              ns(binary="nova-compute", host="ctl1"),
                              ns(binary="nova-scheduler", host="ctl1"),
                              ns(binary="nova-conductor", host="ctl1")])
        self.block_storage = ns(services=lambda: [
            ns(binary="cinder-scheduler", host="ctl1"),
            ns(binary="cinder-volume", host="storage1@lvm#pool0"),
            ns(binary="cinder-volume", host="storage1@ceph")])

    def _endpoints(self) -> list[SimpleNamespace]:
        if self.fail is not None:
            raise self.fail
        return [ns(url="https://api.example.org:8774/v2.1", service_id="s1"),
                ns(url="https://api.example.org:5000/v3", service_id="s2"),
                ns(url="http://10.0.0.1:8776/v3/%(project_id)s", service_id="s3"),
                ns(url="http://10.0.0.99:9292", service_id="s9")]


def resolve(name: str) -> str | None:
    return ADDRESSES.get(name)


def reverse(address: str) -> str | None:
    return {"10.0.0.1": "ctl1"}.get(address)


def test_hosts_roles_and_addresses_come_from_the_apis() -> None:
    hosts = discover(FakeConnection(), resolve, reverse)
    found = {name: (host.address, sorted(host.roles)) for name, host in hosts.items()}
    assert found == {
        "compute1": ("10.0.0.11", ["compute"]),
        "compute2": ("10.0.0.12", ["compute"]),
        "ctl1": ("10.0.0.1", ["compute", "controller"]),  # an all-in-one controller
        "storage1": ("10.0.0.21", ["storage"]),           # two backends, one host
        "api.example.org": ("10.0.0.5", ["controller"]),
        "host-10-0-0-99": ("10.0.0.99", ["controller"]),  # no reverse name: named by address
    }
    assert hosts["ctl1"].sources == {"nova-compute service", "keystone endpoint (volumev3)"}


def test_the_inventory_validates_and_is_safe_until_edited(tmp_path: Path) -> None:
    text = run_discovery("prod-eu", FakeConnection(), resolve, reverse)
    assert text.startswith("# Discovered from cloud 'prod-eu' on ")
    assert "#   storage1: cinder-volume service" in text
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    inventory = load_inventory(path)
    assert inventory.cloud == "prod-eu"
    assert inventory.production is True
    assert inventory.hosts["compute2"].address == "10.0.0.12"
    assert inventory.hosts["compute2"].roles == ("compute",)
    assert inventory.hosts["ctl1"].ssh.user == "root"
    assert str(inventory.hosts["ctl1"].ssh.key).endswith(".ssh/stackdrill_ed25519")
    assert yaml.safe_load(text)["defaults"] == {"ssh": {"user": "root",
                                                        "key": "~/.ssh/stackdrill_ed25519"}}


def test_a_name_that_does_not_resolve_stays_as_the_address() -> None:
    hosts = discover(FakeConnection(), lambda name: None, lambda address: None)
    assert hosts["storage1"].address == "storage1"
    assert hosts["compute1"].address == "10.0.0.11"  # the hypervisor's host_ip


def test_an_empty_cloud_is_refused() -> None:
    with pytest.raises(DiscoverError, match="the APIs name no host"):
        render("empty", {})


@pytest.mark.parametrize("error", [RuntimeError("The request you have made requires "
                                                "authentication. (HTTP 401)\nRequest-ID: x"),
                                   ConnectionError("Unable to establish connection")])
def test_a_failing_cloud_is_one_line(error: Exception) -> None:
    with pytest.raises(DiscoverError) as failed:
        run_discovery("prod-eu", FakeConnection(fail=error), resolve, reverse)
    message = str(failed.value)
    assert message.startswith(f"cloud 'prod-eu': {type(error).__name__}: ")
    assert "\n" not in message


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                del os.environ[key]
            else:
                os.environ[key] = value


def discover_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def unreachable_clouds(directory: Path) -> Path:
    """A clouds.yaml whose cloud 'down' authenticates against a closed port."""
    clouds = directory / "clouds.yaml"
    clouds.write_text(yaml.safe_dump({"clouds": {"down": {"auth": {
        "auth_url": "http://127.0.0.1:9/v3", "username": "u", "password": "s3cr3t-pw",
        "project_name": "p", "user_domain_name": "Default",
        "project_domain_name": "Default"}}}}))
    return clouds


def test_an_unknown_or_unreachable_cloud_is_exit_2(tmp_path: Path) -> None:
    clouds = unreachable_clouds(tmp_path)
    with environment(OS_CLIENT_CONFIG_FILE=str(clouds)):
        code, out, err = discover_cli(["discover", "--os-cloud", "nosuch"])
        assert (code, out) == (cli.EXIT_BAD_INPUT, "")
        assert err.strip().splitlines() == [err.strip()]
        assert "nosuch" in err
        code, out, err = discover_cli(["discover", "--os-cloud", "down"])
    assert (code, out) == (cli.EXIT_BAD_INPUT, ""), err
    assert err.startswith("stackdrill: error: cloud 'down': ")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and "s3cr3t-pw" not in err


def test_the_command_writes_the_file_and_never_overwrites(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    import stackdrill.inventory.discover

    monkeypatch.setattr(stackdrill.inventory.discover, "connect", lambda cloud: FakeConnection())
    monkeypatch.setattr(stackdrill.inventory.discover, "resolve_name", resolve)
    monkeypatch.setattr(stackdrill.inventory.discover, "reverse_name", reverse)
    output = tmp_path / "inventory.yaml"
    code, out, err = discover_cli(["discover", "--os-cloud", "prod-eu", "-o", str(output)])
    assert (code, out, err) == (cli.EXIT_OK, f"inventory: {output}\n", "")
    assert load_inventory(output).cloud == "prod-eu"
    code, _, err = discover_cli(["discover", "--os-cloud", "prod-eu", "-o", str(output)])
    assert code == cli.EXIT_BAD_INPUT
    assert err == f"stackdrill: error: {output}: exists; discover does not overwrite an " \
                  f"inventory\n"


def test_a_real_process_says_an_unreachable_cloud_in_one_line(tmp_path: Path) -> None:
    """The client libraries' own warnings (retries, version discovery) stay quiet."""
    import subprocess
    import sys

    clouds = unreachable_clouds(tmp_path)
    result = subprocess.run([sys.executable, "-m", "stackdrill.cli", "discover"],
                            env={**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds),
                                 "OS_CLOUD": "down"},
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == cli.EXIT_BAD_INPUT
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stackdrill: error: cloud 'down': "), \
        result.stderr
