from __future__ import annotations

import pytest

from stackdrill.params import ParamError, parse_params, signal_name, table_params, word_list
from stackdrill.preflight import check_steps, one_line
from stackdrill.registry import load_registries
from tests.unit.gherkin_fakes import Step, Table


def test_params_are_typed_defaulted_and_checked() -> None:
    from faults.service_kill import KillService

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
