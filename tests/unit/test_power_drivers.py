"""Power drivers against real protocol peers on loopback: the IPMI driver against pyghmi's BMC
server over UDP, the Redfish driver against the virtual BMC's Redfish service over HTTP, both
backed by an in-memory power backend; the libvirt driver against a recorded ``virsh``."""

from __future__ import annotations

import logging
import stat
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackdrill.api._registry import Registries, load_registries
from stackdrill.core.errors import BadInput
from stackdrill.core.waiting import poll_until
from stackdrill.hosts.power import (
    PowerDriver,
    PowerDrivers,
    PowerError,
    power_secrets,
    pytest_stackdrill_register,
)
from stackdrill.inventory.loader import parse_inventory
from stackdrill.inventory.model import HostSpec
from stackdrill.lab.bmc import BmcProcess, FilePowerBackend

USERS = {"admin": "s3cret-bmc-pass"}
DRIVERS = load_registries().power_drivers
HOSTS = ("compute1", "compute2")


@pytest.fixture
def backend(tmp_path: Path) -> FilePowerBackend:
    return FilePowerBackend(tmp_path / "power.json", states={"compute1": True, "compute2": True})


@pytest.fixture
def bmc(backend: FilePowerBackend) -> Iterator[BmcProcess]:
    """The BMCs in a process of their own, as on a separate machine."""
    with BmcProcess(f"file:{backend.path}", HOSTS, USERS) as running:
        yield running


def host(name: str, power: dict[str, Any], tmp_path: Path) -> HostSpec:
    data = {"hosts": {name: {"address": "192.0.2.11", "roles": ["compute"], "power": power}}}
    return parse_inventory(data, tmp_path / "inventory.yaml").host(name)


def ipmi_host(bmc: BmcProcess, name: str, tmp_path: Path, **extra: Any) -> HostSpec:
    power = {"driver": "ipmi", "address": "127.0.0.1", "port": bmc.ipmi_ports[name],
             "username": "admin", "password": USERS["admin"], "timeout": 10, **extra}
    return host(name, power, tmp_path)


def redfish_host(bmc: BmcProcess, name: str, tmp_path: Path, **extra: Any) -> HostSpec:
    power = {"driver": "redfish", "url": bmc.redfish_url, "system": name, "username": "admin",
             "password_env": "STACKDRILL_TEST_BMC_PASSWORD", "timeout": 10, **extra}
    return host(name, power, tmp_path)


def power_driver(spec: HostSpec) -> PowerDriver:
    return DRIVERS.driver(spec)


def test_registered_drivers() -> None:
    """The built-in drivers and the lab's, each registered through the hook by its own
    plugin."""
    assert {"lab", "ipmi", "redfish", "libvirt"} <= set(DRIVERS)
    builtin = Registries()
    pytest_stackdrill_register(registries=builtin)
    assert set(builtin.power_drivers) == {"ipmi", "redfish", "libvirt"}


def test_an_unknown_or_missing_driver_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PowerError, match=r"^c1: unknown power driver 'nope' \(known: "
                                         r"ipmi, lab, libvirt, redfish"):
        power_driver(host("c1", {"driver": "nope"}, tmp_path))
    spec = parse_inventory({"hosts": {"c2": {"address": "192.0.2.12", "roles": ["compute"]}}},
                           tmp_path / "inventory.yaml").host("c2")
    with pytest.raises(PowerError, match=r"^c2: the inventory gives it no power driver$"):
        power_driver(spec)
    with pytest.raises(PowerError, match="known: none registered"):
        PowerDrivers().driver(host("c1", {"driver": "ipmi"}, tmp_path))


def test_a_name_registered_twice_is_refused() -> None:
    drivers = PowerDrivers()
    drivers.register("ipmi", DRIVERS.get("ipmi"))
    drivers.register("ipmi", DRIVERS.get("ipmi"))  # the same driver again: harmless
    with pytest.raises(BadInput, match="power driver 'ipmi' registered twice"):
        drivers.register("ipmi", DRIVERS.get("redfish"))


# --- IPMI ------------------------------------------------------------------------------------


def round_trip(driver: PowerDriver, backend: FilePowerBackend, name: str) -> None:
    """Off, on and reset through the protocol: the backend's state follows each action, and
    the driver reads it back through the protocol."""
    other = next(host for host in HOSTS if host != name)
    assert driver.is_on()

    driver.power_off()
    assert backend.states == {name: False, other: True}
    assert not driver.is_on()

    driver.power_on()
    assert backend.states[name] is True
    assert driver.is_on()

    driver.reset()
    # a BMC acknowledges a reset before it carries it out
    poll_until(lambda: len(backend.actions) == 3, timeout=10, description="the reset done")
    assert backend.actions == [(name, "power_off"), (name, "power_on"), (name, "reset")]
    assert backend.boots[name] == 2


def test_ipmi_round_trip(bmc: BmcProcess, backend: FilePowerBackend, tmp_path: Path) -> None:
    round_trip(power_driver(ipmi_host(bmc, "compute1", tmp_path)), backend, "compute1")


def test_ipmi_each_host_has_its_own_bmc(bmc: BmcProcess, backend: FilePowerBackend,
                                        tmp_path: Path) -> None:
    power_driver(ipmi_host(bmc, "compute2", tmp_path)).power_off()
    assert backend.states == {"compute1": True, "compute2": False}


def test_ipmi_wrong_password_is_one_line_without_secrets(
        bmc: BmcProcess, backend: FilePowerBackend, tmp_path: Path,
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    driver = power_driver(ipmi_host(bmc, "compute1", tmp_path, password="wrong-password-1"))
    with pytest.raises(PowerError) as info:
        driver.power_off()
    message = str(info.value)
    assert message.startswith("compute1: ipmi 127.0.0.1:")
    assert "password" in message.lower()
    assert "wrong-password-1" not in message
    assert "\n" not in message
    assert backend.actions == []
    captured = capsys.readouterr()
    for text in (caplog.text, captured.out, captured.err, repr(driver)):
        assert "wrong-password-1" not in text
        assert USERS["admin"] not in text


# --- Redfish ---------------------------------------------------------------------------------


def test_redfish_round_trip(bmc: BmcProcess, backend: FilePowerBackend, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch,
                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("STACKDRILL_TEST_BMC_PASSWORD", USERS["admin"])
    round_trip(power_driver(redfish_host(bmc, "compute2", tmp_path)), backend, "compute2")
    assert USERS["admin"] not in caplog.text


def test_redfish_wrong_password(bmc: BmcProcess, backend: FilePowerBackend, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKDRILL_TEST_BMC_PASSWORD", "not-the-password")
    driver = power_driver(redfish_host(bmc, "compute1", tmp_path))
    with pytest.raises(PowerError) as info:
        driver.power_off()
    assert str(info.value).startswith(f"compute1: redfish {bmc.redfish_url}: reset ForceOff: ")
    assert "not-the-password" not in str(info.value)
    assert backend.actions == []


def test_redfish_needs_a_system_when_the_bmc_has_several(
        bmc: BmcProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKDRILL_TEST_BMC_PASSWORD", USERS["admin"])
    spec = redfish_host(bmc, "compute1", tmp_path)
    options = {k: v for k, v in dict(spec.power or {}).items() if k != "system"}
    driver = DRIVERS.get("redfish")(spec, options)
    with pytest.raises(PowerError, match=r"2 systems .*name one with the 'system' option"):
        driver.is_on()


def test_redfish_unknown_system(bmc: BmcProcess, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKDRILL_TEST_BMC_PASSWORD", USERS["admin"])
    spec = redfish_host(bmc, "compute1", tmp_path)
    driver = DRIVERS.get("redfish")(spec, {**dict(spec.power or {}), "system": "compute9"})
    with pytest.raises(PowerError, match=r"compute1: redfish .*: power state: "):
        driver.is_on()


# --- credentials -----------------------------------------------------------------------------


def test_password_from_a_file_and_secrets_listed(tmp_path: Path) -> None:
    secret_file = tmp_path / "bmc-password"
    secret_file.write_text("from-the-file\n")
    spec = host("c1", {"driver": "ipmi", "address": "192.0.2.99", "username": "admin",
                       "password_file": str(secret_file)}, tmp_path)
    driver = power_driver(spec)
    assert "from-the-file" not in repr(driver)
    assert power_secrets([spec]) == ["from-the-file"]


@pytest.mark.parametrize(("power", "message"), [
    ({"driver": "ipmi", "username": "admin", "password": "x"}, "missing option 'address'"),
    ({"driver": "ipmi", "address": "h", "password": "x"}, "missing option 'username'"),
    ({"driver": "ipmi", "address": "h", "username": "a"}, "exactly one of password"),
    ({"driver": "ipmi", "address": "h", "username": "a", "password": "x", "port": "623"},
     "option 'port': expected int, got str"),
    ({"driver": "redfish", "url": "https://h", "username": "a",
      "password_env": "STACKDRILL_UNSET_VARIABLE"}, "STACKDRILL_UNSET_VARIABLE is not set"),
    ({"driver": "redfish", "url": "https://h", "username": "a", "password": "x", "verify": 1},
     "option 'verify'"),
    ({"driver": "ipmi", "address": "h", "username": "a", "password_file": "/nonexistent/pw"},
     "password_file /nonexistent/pw: No such file"),
])
def test_bad_options_are_one_line(power: dict[str, Any], message: str, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STACKDRILL_UNSET_VARIABLE", raising=False)
    with pytest.raises(PowerError, match=message) as info:
        power_driver(host("c1", power, tmp_path))
    assert str(info.value).startswith("c1: power driver ")
    assert "\n" not in str(info.value)


# --- libvirt ---------------------------------------------------------------------------------

FAKE_VIRSH = """\
#!{python}
# Records each call; keeps the domain's state in a file, answering as virsh does.
import sys
from pathlib import Path
here = Path(__file__).parent
args = sys.argv[1:]
with open(here / "calls", "a") as calls:
    calls.write(" ".join(args) + "\\n")
assert args[:3] == ["--quiet", "-c", "qemu+ssh://root@hv1/system"], args
verb, domain = args[3], args[4]
state_file = here / "state"
if domain != "devstack1":
    sys.stderr.write("error: failed to get domain '%s'\\n" % domain)
    sys.exit(1)
state = state_file.read_text() if state_file.exists() else "running"
if verb == "domstate":
    print(state)
elif verb == "destroy":
    state_file.write_text("shut off")
    print("Domain '%s' destroyed" % domain)
elif verb == "start":
    if state == "running":
        sys.stderr.write("error: Requested operation is not valid: domain is already active\\n")
        sys.exit(1)
    state_file.write_text("running")
elif verb == "reset":
    print("Domain '%s' was reset" % domain)
"""


@pytest.fixture
def virsh(tmp_path: Path) -> Path:
    script = tmp_path / "virsh"
    script.write_text(textwrap.dedent(FAKE_VIRSH).replace("{python}", sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def libvirt_host(tmp_path: Path, virsh: Path, domain: str = "devstack1") -> HostSpec:
    return host("devstack1", {"driver": "libvirt", "uri": "qemu+ssh://root@hv1/system",
                              "domain": domain, "virsh": str(virsh), "timeout": 10}, tmp_path)


def test_libvirt_driver(tmp_path: Path, virsh: Path) -> None:
    driver = power_driver(libvirt_host(tmp_path, virsh))
    assert driver.is_on()
    driver.power_off()
    assert (tmp_path / "state").read_text() == "shut off"
    assert not driver.is_on()
    driver.power_on()
    assert driver.is_on()
    driver.reset()
    verbs = [line.split()[3] for line in (tmp_path / "calls").read_text().splitlines()]
    assert [v for v in verbs if v != "domstate"] == ["destroy", "start", "reset"]


def test_libvirt_unknown_domain(tmp_path: Path, virsh: Path) -> None:
    driver = power_driver(libvirt_host(tmp_path, virsh, domain="nope"))
    with pytest.raises(PowerError, match="devstack1: libvirt qemu\\+ssh://root@hv1/system domain "
                                         "nope: virsh domstate: error: failed to get domain"):
        driver.is_on()


@pytest.mark.skipif(not Path("/usr/bin/virsh").exists(), reason="virsh not installed")
def test_libvirt_driver_reads_libvirts_test_driver(tmp_path: Path) -> None:
    # libvirt's built-in test hypervisor: a domain "test", running, in every new connection
    spec = host("test", {"driver": "libvirt", "uri": "test:///default"}, tmp_path)
    assert power_driver(spec).is_on()


def test_ipmi_gives_up_on_a_bmc_that_never_answers(tmp_path: Path) -> None:
    """A BMC that swallows every packet: the driver fails with one line in its deadline,
    instead of waiting with pyghmi forever."""
    import socket
    import time

    from stackdrill.hosts.power import ipmi

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]
    try:
        host = parse_inventory({"hosts": {"compute1": {
            "address": "192.0.2.11", "roles": ["compute"],
            "power": {"driver": "ipmi", "address": "127.0.0.1", "port": port,
                      "username": "admin", "password": "x-secret-x", "timeout": 1}}}},
            tmp_path / "inventory.yaml").host("compute1")
        started = time.monotonic()
        with pytest.raises(PowerError) as info:
            power_driver(host).is_on()
        assert time.monotonic() - started < 1 + ipmi.DEADLINE_MARGIN + 5
        assert "\n" not in str(info.value)
        assert "x-secret-x" not in str(info.value)
    finally:
        sink.close()
