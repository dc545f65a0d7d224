from __future__ import annotations

import pytest

from stackdrill.api._registry import load_registries
from stackdrill.core.params import ParamError, parse_params, signal_name, table_params, word_list
from stackdrill.engine.preflight import check_steps, one_line
from tests.unit.gherkin_fakes import Step, Table


def test_params_are_typed_defaulted_and_checked() -> None:
    from stackdrill.builtin.faults.kill_service import KillService

    values = parse_params("fault 'kill_service'", KillService.params,
                          {"service": "dbus", "signal": "segv", "keep_down": "yes"})
    assert values == {"service": "dbus", "signal": "SIGSEGV", "keep_down": True}
    assert parse_params("f", KillService.params, {"service": "x"})["signal"] == "SIGKILL"
    with pytest.raises(ParamError, match=r"unknown parameter 'sgnal' \(allowed: keep_down, "):
        parse_params("fault 'kill_service'", KillService.params, {"service": "x", "sgnal": "1"})
    with pytest.raises(ParamError, match="missing required parameter 'service'"):
        parse_params("fault 'kill_service'", KillService.params, {})
    with pytest.raises(ParamError, match="parameter 'signal': not a signal name: 'SIGFOO'"):
        parse_params("fault 'kill_service'", KillService.params,
                     {"service": "x", "signal": "SIGFOO"})


def test_parsers() -> None:
    assert signal_name("kill") == "SIGKILL"
    assert word_list("dbus, libvirtd") == ["dbus", "libvirtd"]
    with pytest.raises(ValueError):
        word_list("dbus,,libvirtd")
    with pytest.raises(ParamError, match="two columns"):
        table_params([["a", "b", "c"]])




def test_scenarios_are_checked_for_names_and_parameters_before_they_run() -> None:
    registries = load_registries()
    steps = [
        Step("a compute host", 3),
        Step('the fault "kill_service" is injected on the compute host:', 5,
             Table([["service", "dbus"]])),
        Step('the fault "melt" is injected on the compute host:', 9),
        Step("the faults are confirmed within 10 seconds", 11),
        Step('the recovery "start_services" runs on the compute host:', 12,
             Table([["servces", "dbus"]])),
    ]
    problems = check_steps("compute/x.feature", steps, registries)
    assert problems == [
        f"compute/x.feature:9: unknown fault 'melt' (known: {', '.join(registries.faults)})",
        "compute/x.feature:12: recovery 'start_services': unknown parameter 'servces' "
        "(allowed: services, timeout)",
    ]
    assert one_line(problems).endswith("(and 1 more)")


def test_a_malformed_tolerance_row_is_named_by_its_line() -> None:
    """Given or When, a tolerance table is read at collection as the step reads it: the first
    column, the header row left out."""
    registries = load_registries()
    steps = [
        Step("the verified state tolerates:", 4,
             Table([["rule"], ["host:*/domain:*/qemu_pid ignore"], ["host:*/x melt"]])),
        Step("the verified state from now on tolerates:", 9,
             Table([["rule", "why"], ["host:*/load abs -1", "noise"]])),
    ]
    assert check_steps("compute/x.feature", steps, registries) == [
        "compute/x.feature:7: bad rule 'host:*/x melt': unknown kind; expected one of exact, "
        "ignore, abs, rel, min, max, subset, superset, present",
        "compute/x.feature:11: bad rule 'host:*/load abs -1': rule kind 'abs' needs a value "
        ">= 0, got -1.0",
    ]


def test_a_step_on_a_role_needs_an_earlier_given_of_that_role() -> None:
    registries = load_registries()
    steps = [
        Step("a compute host running qemu domains", 3),
        Step('the recovery "start_services" runs on the compute host:', 5,
             Table([["services", "dbus"]])),
        Step('the recovery "start_services" runs on the storage host:', 7,
             Table([["services", "dbus"]])),
        Step("a storage host", 9),
        Step('the fault "power_off_host" is injected on every gpu host', 10),
        Step('the fault "power_off_host" is injected on the storage host', 11),
        Step("the faults are confirmed within 60 seconds", 12),
    ]
    assert check_steps("x.feature", steps, registries) == [
        "x.feature:7: the recovery 'start_services' acts on the storage host, but no earlier "
        "step 'Given a storage host' chooses one",
        "x.feature:10: unknown role 'gpu' (known: controller, compute, storage, network, "
        "database, messaging, object-storage, block-storage)",
    ]
