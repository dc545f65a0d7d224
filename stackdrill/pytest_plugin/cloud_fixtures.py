"""pytest fixtures for the cloud: API access, the shared redactor, and the canary workload."""

from __future__ import annotations

import shlex
from collections.abc import Callable

import pytest

from stackdrill.cloud.access import CloudAccess, CloudError
from stackdrill.cloud.canary import CanaryWorkload, ensure_canaries
from stackdrill.cloud.guest_image import GuestFiles
from stackdrill.core.evidence import Redactor
from stackdrill.hosts.secrets import inventory_redactor
from stackdrill.hosts.ssh import HostError
from stackdrill.hosts.target import Targets
from stackdrill.inventory.model import Inventory, InventoryError
from stackdrill.reporting.redacted import REDACTOR


def session_redactor(config: pytest.Config) -> Redactor:
    """The session's one redactor, created on first use."""
    return config.stash.setdefault(REDACTOR, Redactor())


@pytest.fixture(scope="session")
def redactor(pytestconfig: pytest.Config, inventory: Inventory) -> Redactor:
    """Every secret the harness learns is registered here: the inventory's power passwords and
    the values of its ``secrets_files`` (the lab's ``secrets.json``) from the start, the
    clouds.yaml credentials when the cloud is first reached, and database passwords, with the
    other secrets of the config file they are read from, when a DSN is read."""
    return inventory_redactor(inventory, session_redactor(pytestconfig))


def _lab_clouds_yaml(config: pytest.Config) -> list[str] | None:
    if not config.getoption("lab"):
        return None
    from stackdrill.lab.topology import LabPaths

    path = LabPaths.default().root / "clouds.yaml"
    return [str(path)] if path.exists() else []


@pytest.fixture(scope="session")
def cloud_access(pytestconfig: pytest.Config, inventory: Inventory,
                 redactor: Redactor) -> CloudAccess | None:
    """The cloud's APIs, or None when the inventory describes hosts without a cloud."""
    explicit = pytestconfig.getoption("os_cloud")
    name = explicit or inventory.cloud
    files = _lab_clouds_yaml(pytestconfig)
    if not name or files == []:
        return None
    access = CloudAccess(name, redactor, config_files=files)
    try:
        access.connection()
    except CloudError as exc:
        if explicit:
            pytest.fail(str(exc), pytrace=False)
        return None
    return access


def domain_runner(targets: Targets) -> Callable[[str, str], bool]:
    """Whether a libvirt domain runs on a compute, as ``virsh domstate`` there says."""
    def running(host: str, domain: str) -> bool:
        try:
            result = targets.get(host).run(f"virsh domstate {shlex.quote(domain)}",
                                           record=False, timeout=30)
        except (HostError, InventoryError):
            return False
        return result.ok and result.stdout.strip() == "running"

    return running


@pytest.fixture(scope="session")
def canary_guest() -> GuestFiles | None:
    """The heartbeat guest the canaries boot, built once from the Debian or Ubuntu packages that
    ``stackdrill lab fetch-guest`` (or a checkout's ``scripts/setup``) downloads; None where they
    are not on this machine, and the canaries then boot a blank image and report no heartbeat."""
    from stackdrill.engine.state_dir import default_state_dir
    from stackdrill.lab.guest.builder import build_guest
    from stackdrill.lab.guest.debs import GuestBuildError

    try:
        built = build_guest(default_state_dir() / "guest")
    except GuestBuildError:
        return None
    return GuestFiles(built.kernel, built.initrd, built.command_line, built.key)


@pytest.fixture
def canaries(cloud_access: CloudAccess | None, targets: Targets,
             canary_guest: GuestFiles | None) -> CanaryWorkload:
    """Checked before each scenario: a drill may have moved, stopped or replaced a canary.
    Healthy canaries are reused, so this costs a few API calls and one virsh per compute."""
    if cloud_access is None:
        pytest.fail("the canary workload needs a cloud: no clouds.yaml entry for this "
                    "inventory", pytrace=False)
    hosts = [t.name for t in targets.with_role("compute")]
    try:
        return ensure_canaries(cloud_access, hosts, domain_running=domain_runner(targets),
                               guest=canary_guest)
    except CloudError as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)


__all__ = ["REDACTOR", "canaries", "canary_guest", "cloud_access", "redactor", "session_redactor"]
