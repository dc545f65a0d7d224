from __future__ import annotations

import json
from typing import Any

import pytest

from stackdrill.core.state import (
    Deviation,
    Rule,
    Snapshot,
    Tolerance,
    compare,
    render_diff,
)

UNIT = "host:compute1/unit:libvirtd/active"
PID = "host:compute1/unit:libvirtd/main_pid"
LOAD = "host:compute1/load"


def snap(values: dict[str, Any], errors: dict[str, str] | None = None) -> Snapshot:
    return Snapshot(taken_at=100.0, values=values, errors=errors or {})


def diff(
    baseline: dict[str, Any],
    current: dict[str, Any],
    *rules: str,
    errors: dict[str, str] | None = None,
) -> list[Deviation]:
    tolerance = Tolerance(Rule.parse(text) for text in rules)
    return compare(snap(baseline), snap(current, errors), tolerance)


# Snapshot


def test_snapshot_json_round_trip() -> None:
    original = Snapshot(
        taken_at=1700000000.5,
        values={UNIT: "active", PID: 4242, "host:compute1/domains": ["canary-1", "canary-2"]},
        errors={"host:compute2": "ssh: connection refused"},
    )
    data = original.to_json()
    restored = Snapshot.from_json(json.loads(json.dumps(data)))
    assert restored == original
    assert data == {
        "taken_at": 1700000000.5,
        "values": dict(original.values),
        "errors": {"host:compute2": "ssh: connection refused"},
    }


def test_snapshot_errors_default_to_empty() -> None:
    assert Snapshot(taken_at=1.0, values={}).errors == {}
    assert Snapshot.from_json({"taken_at": 1, "values": {"a": 1}}).errors == {}


@pytest.mark.parametrize(
    "data",
    [
        {"values": {}},
        {"taken_at": "yesterday", "values": {}},
        {"taken_at": True, "values": {}},
        {"taken_at": 1.0},
        {"taken_at": 1.0, "values": [1, 2]},
        {"taken_at": 1.0, "values": {}, "errors": {"host:a": 3}},
    ],
)
def test_snapshot_from_json_rejects_bad_shapes(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Snapshot.from_json(data)


# Rule kinds


def test_no_rule_means_exact() -> None:
    deviations = diff({UNIT: "active"}, {UNIT: "failed"})
    assert deviations == [Deviation(UNIT, "active", "failed", "exact", "changed")]
    assert diff({UNIT: "active"}, {UNIT: "active"}) == []


def test_exact_rule_distinguishes_bool_from_number() -> None:
    assert diff({"p": True}, {"p": 1}, "p exact") == [Deviation("p", True, 1, "p exact", "changed")]
    assert diff({"p": [1, True]}, {"p": [1, True]}, "p exact") == []
    assert len(diff({"p": [1, True]}, {"p": [True, 1]}, "p exact")) == 1


def test_ignore_rule_hides_changes_missing_and_added() -> None:
    rule = "host:*/unit:*/main_pid ignore"
    assert diff({PID: 4242}, {PID: 5151}, rule) == []
    assert diff({PID: 4242}, {}, rule) == []
    assert diff({}, {PID: 5151}, rule) == []


def test_abs_rule() -> None:
    rule = "host:*/load abs 2.5"
    assert diff({LOAD: 1.0}, {LOAD: 3.5}, rule) == []
    assert diff({LOAD: 1.0}, {LOAD: -1.5}, rule) == []
    assert diff({LOAD: 1.0}, {LOAD: 3.6}, rule) == [
        Deviation(LOAD, 1.0, 3.6, "host:*/load abs 2.5", "changed")
    ]


def test_rel_rule() -> None:
    rule = "**/count rel 0.1"
    path = "host:c1/domains/count"
    assert diff({path: 100}, {path: 110}, rule) == []
    assert diff({path: 100}, {path: 90}, rule) == []
    assert diff({path: 100}, {path: 111}, rule) == [
        Deviation(path, 100, 111, "**/count rel 0.1", "changed")
    ]
    assert diff({path: 0}, {path: 0}, rule) == []
    assert len(diff({path: 0}, {path: 1}, rule)) == 1


def test_min_and_max_rules_look_only_at_current() -> None:
    assert diff({"free_gb": 1}, {"free_gb": 10}, "free_gb min 5") == []
    assert diff({"free_gb": 100}, {"free_gb": 5}, "free_gb min 5") == []
    assert diff({"free_gb": 100}, {"free_gb": 4.9}, "free_gb min 5") == [
        Deviation("free_gb", 100, 4.9, "free_gb min 5", "changed")
    ]
    assert diff({"lag": 0}, {"lag": 30}, "lag max 30") == []
    assert diff({"lag": 0}, {"lag": 31}, "lag max 30") == [
        Deviation("lag", 0, 31, "lag max 30", "changed")
    ]


def test_subset_rule() -> None:
    rule = "*/domains subset"
    path = "host:c1/domains"
    assert diff({path: ["a", "b", "c"]}, {path: ["c", "a"]}, rule) == []
    assert diff({path: ["a", "b"]}, {path: []}, rule) == []
    assert diff({path: ["a", "b"]}, {path: ["a", "z"]}, rule) == [
        Deviation(path, ["a", "b"], ["a", "z"], "*/domains subset", "changed")
    ]


def test_superset_rule() -> None:
    rule = "*/domains superset"
    path = "host:c1/domains"
    assert diff({path: ["a", "b"]}, {path: ["b", "a", "new"]}, rule) == []
    assert diff({path: ["a", "b"]}, {path: ["a"]}, rule) == [
        Deviation(path, ["a", "b"], ["a"], "*/domains superset", "changed")
    ]


def test_set_rules_compare_unhashable_items() -> None:
    base = [{"name": "a", "port": 1}, {"name": "b", "port": 2}]
    assert diff({"l": base}, {"l": [{"name": "b", "port": 2}]}, "l subset") == []
    assert len(diff({"l": base}, {"l": [{"name": "b", "port": 3}]}, "l subset")) == 1


def test_present_rule_accepts_any_value_but_not_absence() -> None:
    rule = "host:*/domain:*/qemu_pid present"
    path = "host:compute1/domain:canary-1/qemu_pid"
    assert diff({path: 4242}, {path: 9999}, rule) == []
    assert diff({path: 4242}, {path: None}, rule) == []
    assert diff({path: 4242}, {}, rule) == [
        Deviation(path, 4242, None, "host:*/domain:*/qemu_pid present", "missing")
    ]


@pytest.mark.parametrize(
    ("rule", "baseline", "current"),
    [
        ("x abs 1", 1, "1"),
        ("x abs 1", "1", 1),
        ("x abs 1", 1, None),
        ("x abs 1", 1, True),
        ("x rel 0.5", [1], 1),
        ("x rel 0.5", 1, float("nan")),
        ("x min 1", 5, "5"),
        ("x max 1", 0, [0]),
        ("x subset", ["a"], "a"),
        ("x superset", "a", ["a"]),
    ],
)
def test_type_mismatch_under_rules_is_a_deviation(rule: str, baseline: Any, current: Any) -> None:
    [deviation] = diff({"x": baseline}, {"x": current}, rule)
    assert deviation.kind == "changed"
    assert deviation.rule == rule


# Rule matching


def test_last_matching_rule_wins() -> None:
    rules = ["host:*/load ignore", "host:compute1/load abs 1"]
    assert diff({LOAD: 1.0}, {LOAD: 5.0}, *rules) == [
        Deviation(LOAD, 1.0, 5.0, "host:compute1/load abs 1", "changed")
    ]
    reversed_rules = list(reversed(rules))
    assert diff({LOAD: 1.0}, {LOAD: 5.0}, *reversed_rules) == []


def test_non_matching_rules_fall_back_to_exact() -> None:
    assert diff({UNIT: "active"}, {UNIT: "failed"}, "host:compute2/* ignore") == [
        Deviation(UNIT, "active", "failed", "exact", "changed")
    ]


def test_patterns_are_case_sensitive_globs() -> None:
    assert diff({"Host:A/x": 1}, {"Host:A/x": 2}, "host:* ignore") != []
    assert diff({"host:a/x": 1}, {"host:a/x": 2}, "host:? ignore") != []
    assert diff({"host:a/x": 1}, {"host:a/x": 2}, "host:?/x ignore") == []


def test_tolerance_extended_appends_rules_and_leaves_original() -> None:
    base = Tolerance([Rule("host:*/load", "ignore")])
    strict = base.extended([Rule("host:compute1/load", "max", 2.0)])
    baseline, current = snap({LOAD: 1.0}), snap({LOAD: 3.0})

    assert compare(baseline, current, base) == []
    assert compare(baseline, current, strict) == [
        Deviation(LOAD, 1.0, 3.0, "host:compute1/load max 2", "changed")
    ]
    assert len(base.rules) == 1


# compare


def test_every_deviation_is_reported_sorted_by_path() -> None:
    baseline = {
        "host:c1/unit:dbus/active": "active",
        "host:c1/unit:nova/active": "active",
        "host:c1/load": 0.5,
        "host:c2/unit:dbus/active": "active",
        "host:c3/disk": 10,
    }
    current = {
        "host:c3/disk": 10,
        "host:c2/unit:dbus/active": "failed",
        "host:c1/unit:nova/active": "inactive",
        "host:c1/load": 9.0,
        "host:c4/unit:dbus/active": "active",
    }
    deviations = diff(baseline, current, "host:*/load abs 1", errors={"host:c0": "ssh: timed out"})

    assert deviations == [
        Deviation("host:c0", None, "ssh: timed out", "exact", "unobserved"),
        Deviation("host:c1/load", 0.5, 9.0, "host:*/load abs 1", "changed"),
        Deviation("host:c1/unit:dbus/active", "active", None, "exact", "missing"),
        Deviation("host:c1/unit:nova/active", "active", "inactive", "exact", "changed"),
        Deviation("host:c2/unit:dbus/active", "active", "failed", "exact", "changed"),
        Deviation("host:c4/unit:dbus/active", None, "active", "exact", "added"),
    ]


def test_unobserved_errors_are_reported_alongside_missing_paths() -> None:
    deviations = diff(
        {UNIT: "active"}, {}, errors={"host:compute1": "probe systemd: connection reset"}
    )
    assert [(d.path, d.kind) for d in deviations] == [
        ("host:compute1", "unobserved"),
        (UNIT, "missing"),
    ]
    assert deviations[0].current == "probe systemd: connection reset"


def test_unobserved_error_is_reported_even_with_identical_values() -> None:
    deviations = diff({UNIT: "active"}, {UNIT: "active"}, errors={"probe:nova": "HTTP 503"})
    assert deviations == [Deviation("probe:nova", None, "HTTP 503", "exact", "unobserved")]


def test_ignore_rule_also_hides_unobserved_errors() -> None:
    assert diff({}, {}, "host:compute9* ignore", errors={"host:compute9": "down"}) == []


def test_baseline_errors_are_not_deviations() -> None:
    baseline = snap({UNIT: "active"}, errors={"host:compute2": "unreachable"})
    assert compare(baseline, snap({UNIT: "active"}), Tolerance()) == []


def test_identical_snapshots_have_no_deviations() -> None:
    values = {UNIT: "active", PID: 4242, "host:compute1/domains": ["a", "b"], "x": None}
    assert compare(snap(values), snap(dict(values)), Tolerance()) == []


# Rule.parse


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("host:*/unit:*/main_pid ignore", Rule("host:*/unit:*/main_pid", "ignore")),
        ("host:*/load abs 2.5", Rule("host:*/load", "abs", 2.5)),
        ("**/count rel 0.1", Rule("**/count", "rel", 0.1)),
        ("  disk min 10  ", Rule("disk", "min", 10.0)),
        ("lag max -1e3", Rule("lag", "max", -1000.0)),
        ("*/domains subset", Rule("*/domains", "subset")),
        ("*/domains superset", Rule("*/domains", "superset")),
        ("*/qemu_pid present", Rule("*/qemu_pid", "present")),
        ("host:a/unit:b/active exact", Rule("host:a/unit:b/active", "exact")),
        ("host:*/domain:my vm/state exact", Rule("host:*/domain:my vm/state", "exact")),
    ],
)
def test_rule_parse(text: str, rule: Rule) -> None:
    parsed = Rule.parse(text)
    assert parsed == rule
    assert Rule.parse(parsed.text) == parsed


def test_rule_text() -> None:
    assert Rule.parse("host:*/load abs 2.5").text == "host:*/load abs 2.5"
    assert Rule.parse("x min 10.0").text == "x min 10"
    assert str(Rule.parse("x ignore")) == "x ignore"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "expected '<pattern> <kind> [<number>]'"),
        ("host:*/load", "expected '<pattern> <kind> [<number>]'"),
        ("abs 2", "expected '<pattern> <kind> [<number>]'"),
        ("host:*/load fuzzy 2", "unknown kind"),
        ("host:*/load approx", "unknown kind"),
        ("host:*/load abs", "needs a number"),
        ("host:*/load abs two", "'two' is not a number"),
        ("host:*/load abs nan", "not a finite number"),
        ("host:*/load abs -1", "needs a value >= 0"),
        ("host:*/load ignore 3", "takes no value"),
    ],
)
def test_rule_parse_errors(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        Rule.parse(text)
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message


def test_rule_parse_error_message_is_one_line_for_multiline_text() -> None:
    with pytest.raises(ValueError) as caught:
        Rule.parse("a\nb\nc")
    assert "\n" not in str(caught.value)


def test_rule_constructor_validates() -> None:
    with pytest.raises(ValueError, match="needs a number"):
        Rule("x", "rel")
    with pytest.raises(ValueError, match="unknown rule kind"):
        Rule("x", "fuzzy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        Rule("", "ignore")


# rendering


def test_deviation_str() -> None:
    assert str(
        Deviation("host:compute1/unit:dbus/active", "active", "failed", "exact", "changed")
    ) == ("host:compute1/unit:dbus/active: 'active' -> 'failed' (exact)")
    assert str(Deviation("p", 1, None, "p present", "missing")) == "p: 1 -> <absent> (p present)"
    assert str(Deviation("p", None, 2, "exact", "added")) == "p: <absent> -> 2 (exact)"
    assert str(Deviation("host:c2", None, "ssh:\nrefused", "exact", "unobserved")) == (
        "host:c2: unobserved: ssh: refused (exact)"
    )


def test_render_diff() -> None:
    assert render_diff([]) == "no deviations"
    deviations = diff({"a": 1, "b": 2}, {"a": 3}, "b present")
    assert render_diff(deviations) == "a: 1 -> 3 (exact)\nb: 2 -> <absent> (b present)"


def test_a_path_whose_probe_failed_is_unknown_not_missing() -> None:
    path = "cloud/server:canary/status"
    baseline = Snapshot(0, {path: "ACTIVE", "host:c1/load": 1},
                        sources={path: "cloud/probe:cloud_api",
                                 "host:c1/load": "host:c1/probe:load"})
    failed = Snapshot(1, {}, {"cloud/probe:cloud_api": "no answer within 60 s",
                              "host:c1/ssh": "unreachable"})
    kinds = {(d.path, d.kind) for d in compare(baseline, failed, Tolerance())}
    assert kinds == {(path, "unknown"), ("host:c1/load", "unknown"),
                     ("cloud/probe:cloud_api", "unobserved"), ("host:c1/ssh", "unobserved")}
    assert str(compare(baseline, failed, Tolerance())[0]) == (
        "cloud/probe:cloud_api: unobserved: no answer within 60 s (exact)")
    observed = Snapshot(1, {"host:c1/load": 1}, sources={"host:c1/load": "host:c1/probe:load"})
    assert [(d.path, d.kind) for d in compare(baseline, observed, Tolerance())] == [
        (path, "missing")]
