"""``Given a <role> host`` chooses the first host of the role; ``... running qemu domains``
requires that host to run at least one, as the ``libvirt_domains`` probe observes it; a step on
a role no Given chose fails with one line. The steps are called as pytest-bdd calls them, with
fake targets and probes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, ClassVar, cast

import pytest
from stackdrill.builtin.probes.libvirt_domains import LibvirtDomains
from stackdrill.builtin.steps.drill_steps import choose_host, inject, recover

from stackdrill.api._registry import Registries
from stackdrill.engine.drill import Drill
from stackdrill.engine.preflight import check_running_domains
from stackdrill.hosts.ssh import HostUnreachable
from stackdrill.hosts.target import Target, Targets

RUNNING = {"libvirt/answering": True, "domain:instance-1/qemu_pid": 41,
           "domain:instance-1/qemu_alive": True, "domain:instance-1/state": "running"}


class Domains(LibvirtDomains):
    """The ``libvirt_domains`` probe, observing what each test says."""

    name = "libvirt_domains"
    description = "the domains each test says"
    seen: ClassVar[dict[str, Any] | Exception] = {}

    def observe(self, target: Target) -> dict[str, Any]:
        if isinstance(self.seen, Exception):
            raise self.seen
        return dict(self.seen)


def registries(seen: dict[str, Any] | Exception) -> Registries:
    Domains.seen = seen
    found = Registries()
    found.probes.register(Domains)
    return found


class Hosts:
    def __init__(self, **roles: list[str]) -> None:
        self.roles = roles

    def with_role(self, role: str) -> list[Target]:
        if role == "gpu":
            raise ValueError("unknown role 'gpu' (known: controller, compute, storage)")
        return [cast(Target, SimpleNamespace(name=name)) for name in self.roles.get(role, [])]


def choose(role: str, seen: dict[str, Any] | Exception, domains: str | None,
           chosen: dict[str, Target] | None = None) -> dict[str, Target]:
    chosen = {} if chosen is None else chosen
    targets = cast(Targets, Hosts(compute=["compute1", "compute2"], storage=["storage1"]))
    choose_host(role, targets, chosen, registries(seen), domains)
    return chosen


@pytest.mark.parametrize(("seen", "why"), [
    ({}, "compute1 runs no qemu domain (libvirtd is not answering)"),
    ({**RUNNING, "domain:instance-1/state": "paused"}, "compute1 runs no qemu domain"),
    ({**RUNNING, "domain:instance-1/qemu_alive": False}, "compute1 runs no qemu domain"),
    (HostUnreachable("compute1 (192.0.2.11:22): unreachable: Connection refused"),
     "compute1: cannot list its qemu domains: compute1 (192.0.2.11:22): unreachable: "
     "Connection refused"),
])
def test_a_compute_host_running_no_qemu_domain_is_refused(seen: dict[str, Any] | Exception,
                                                          why: str) -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        choose("compute", seen, " running qemu domains")
    assert str(failed.value) == why


def test_a_compute_host_running_a_qemu_domain_is_chosen() -> None:
    assert [t.name for t in choose("compute", RUNNING, " running qemu domains").values()] == [
        "compute1"]
    assert check_running_domains(cast(Target, SimpleNamespace(name="c1")),
                                 registries(RUNNING)) is None


def test_a_plain_role_host_is_not_asked_for_domains() -> None:
    chosen = choose("compute", {}, None)
    assert chosen["compute"].name == "compute1"


def test_each_given_adds_its_role_to_the_hosts_chosen() -> None:
    chosen = choose("storage", {}, None, choose("compute", RUNNING, " running qemu domains"))
    assert {role: t.name for role, t in chosen.items()} == {"compute": "compute1",
                                                             "storage": "storage1"}


@pytest.mark.parametrize(("role", "why"), [
    ("controller", "the inventory has no controller host"),
    ("gpu", "unknown role 'gpu' (known: controller, compute, storage)"),
])
def test_a_role_the_inventory_lacks_fails_in_one_line(role: str, why: str) -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        choose(role, {}, None)
    assert str(failed.value) == why


def test_a_step_on_a_role_no_given_chose_fails_in_one_line() -> None:
    """Collection refuses such a scenario; should one still run, the step says why instead of
    raising a KeyError, and nothing is injected or run."""
    drill = cast(Drill, SimpleNamespace(inject=None, recover=None))
    chosen = choose("compute", {}, None)
    for step, name in ((inject, "kill_service"), (recover, "start_services")):
        with pytest.raises(pytest.fail.Exception) as failed:
            step(drill, chosen, name, "storage", [])
        assert str(failed.value) == ("no earlier step 'Given a storage host' chose the "
                                     "storage host")
        assert failed.value.pytrace is False
