"""Generated bad input: malformed inventories, feature files and command lines each end in exit
code 2 with one line on stderr, no traceback on stdout or stderr, and nothing injected or
journalled.

Every run goes through ``stackdrill.cli.main`` in-process on a feature directory whose fault
records each injection (``tests.unit.fake_cloud``), so "nothing injected" is observed, not
assumed. Its output is captured at file descriptors 1 and 2 (``capfd``), so a traceback that
something prints past ``sys.stdout`` or ``sys.stderr`` is seen too. A handful of real processes
check the same from the outside.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackdrill import cli
from tests.unit.fake_cloud import HOSTS, Ran, events, fake_project, run_args, stackdrill

ROOT = Path(__file__).resolve().parents[2]
# in-process runs skip pytest's end-of-session garbage collection (a tenth of a second each)
FAST = ("-p", "no:unraisableexception", "-p", "no:threadexception")
EXAMPLES = settings(max_examples=100, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

VALID_FEATURE = """\
Feature: a drill on the fake cloud
  Scenario: the canary stops
    Given a compute host
    And the cloud is in its verified state
    When the fault "fake_stop" is injected on the compute host:
      | service | canary |
    Then the fault is confirmed within 5 seconds
    And the cloud is back to its verified state within 1 seconds
"""


def assert_refused(ran: Ran, directory: Path, features: Path | None = None) -> None:
    """Exit code 2, one line on stderr, no traceback on either stream, nothing injected or
    journalled."""
    lines = [line for line in ran.stderr.splitlines() if line.strip()]
    assert ran.code == cli.EXIT_BAD_INPUT, ran
    assert len(lines) == 1, ran
    # neither Python's "Traceback (most recent call last):" nor a pytest traceback section
    assert "Traceback" not in ran.stdout, ran
    assert "Traceback" not in ran.stderr, ran
    if features is not None:
        assert events(features) == []
    assert not (directory / "journal.jsonl").exists()
    assert not (directory / "state" / "stackdrill" / "journal.jsonl").exists()


@pytest.mark.parametrize("fd", [1, 2])
def test_a_traceback_that_bypasses_sys_is_seen(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch, fd: int) -> None:
    """The check the generated runs rely on: a traceback header written straight to file
    descriptor 1 (beside a proper one-line error) or 2 (as the one line) fails it."""
    def leaks(argv: list[str]) -> int:
        if fd == 1:
            print("stackdrill: error: bad input", file=sys.stderr)
        os.write(fd, b"Traceback (most recent call last):\n")
        return cli.EXIT_BAD_INPUT

    monkeypatch.setattr(cli, "main", leaks)
    ran = stackdrill(["report"], tmp_path, capfd)
    assert "Traceback (most recent call last):" in (ran.stdout if fd == 1 else ran.stderr)
    with pytest.raises(AssertionError):
        assert_refused(ran, tmp_path)
    assert_refused(Ran(ran.code, "", "stackdrill: error: bad input\n"), tmp_path)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A feature directory that would inject if the input were good (the first test proves
    it does), its inventory, and the directory of the run's files."""
    directory = tmp_path_factory.mktemp("fuzz")
    features, inventory = fake_project(directory, VALID_FEATURE)
    return directory, features, inventory


# -- inventories -------------------------------------------------------------------------------
BASE: dict[str, Any] = {"cloud": "unit", "hosts": HOSTS, "protected": ["compute2"],
                        "clusters": {"galera": ["compute1", "compute2"]}}

junk = st.one_of(st.integers(), st.floats(allow_nan=True), st.booleans(), st.none(),
                 st.lists(st.integers(), max_size=2), st.text(max_size=8).map(lambda t: t + " x"),
                 st.dictionaries(st.text(min_size=1, max_size=4), st.integers(), max_size=2))


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    copy = yaml.safe_load(yaml.safe_dump(data))
    node = copy
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return copy


MUTATIONS = st.one_of(
    st.builds(lambda v: _set(BASE, ("hosts", "compute1", "address"), v),
              junk.filter(lambda v: not (isinstance(v, str) and v.strip() and " " not in v))),
    st.builds(lambda v: _set(BASE, ("hosts", "compute1", "roles"), v),
              st.one_of(st.just([]), st.lists(st.sampled_from(["gpu", "db", "Compute", ""]),
                                              min_size=1, max_size=3), junk)),
    st.builds(lambda v: _set(BASE, ("hosts", "compute1", "ssh"), {"port": v}),
              st.one_of(st.integers(max_value=0), st.integers(min_value=65536),
                        st.text(max_size=5),
                        st.floats().filter(lambda f: not f.is_integer() or not 0 < f < 65536))),
    st.builds(lambda k: _set(BASE, (k,), 1), st.text(min_size=1, max_size=10).filter(
        lambda k: k not in {"cloud", "production", "deployment", "profile", "defaults",
                            "hosts", "services", "protected", "clusters"})),
    st.builds(lambda v: _set(BASE, ("protected",), [v]),
              st.text(min_size=1, max_size=8).filter(lambda v: v not in HOSTS)),
    st.builds(lambda v: _set(BASE, ("clusters", "galera"), ["compute1", v]),
              st.text(min_size=1, max_size=8).filter(lambda v: v not in HOSTS)),
    st.builds(lambda v: _set(BASE, ("hosts", "compute2", "ssh"), {"jump": v}),
              st.sampled_from(["compute2", "nowhere", ""])),
    st.builds(lambda v: _set(BASE, ("hosts",), v), st.one_of(st.just({}), junk)),
    st.builds(lambda v: _set(BASE, ("production",), v), junk.filter(
        lambda v: not isinstance(v, bool))),
)

TEXTS = st.one_of(
    MUTATIONS.map(lambda data: yaml.safe_dump(data).encode()),
    st.sampled_from([b"", b"hosts: [", b"hosts:\n  a: {address: 1\n", b"\xff\xfehosts: {}",
                     b"- just\n- a list\n", b"hosts:\n  a: 1\n  a: 2\n", b"\x00\x01\x02",
                     b"plain text", b"hosts: {c1: {address: x, roles: [compute]}}\nhosts: {}"]),
    st.binary(max_size=40).filter(lambda b: b"hosts" not in b),
)


def test_the_project_injects_when_the_input_is_good(project: tuple[Path, Path, Path]) -> None:
    """Without this, 'nothing injected' below would prove nothing. (The drill then fails:
    nothing recovers the fake canary within its budget.)"""
    directory, features, inventory = project
    run = directory / "good"
    code = subprocess.run(
        [sys.executable, "-m", "stackdrill.cli", *run_args(run, features, inventory)],
        cwd=ROOT, env={**os.environ, "XDG_STATE_HOME": str(run / "state")},
        capture_output=True, text=True, timeout=120, check=False).returncode
    assert code == cli.EXIT_FAILED
    assert events(features) == ["inject compute1/canary", "undo compute1/canary"]
    (features / "events.log").unlink()
    (features / "state.json").write_text(
        '{"compute1/canary": "running", "compute1/other": "running", '
        '"compute2/canary": "running"}')


@EXAMPLES
@given(text=TEXTS)
def test_a_malformed_inventory_is_refused(project: tuple[Path, Path, Path],
                                          capfd: pytest.CaptureFixture[str], text: bytes) -> None:
    directory, features, _ = project
    inventory = directory / "bad-inventory.yaml"
    inventory.write_bytes(text)
    ran = stackdrill(run_args(directory, features, inventory, pytest_args=FAST), directory,
                     capfd)
    assert_refused(ran, directory, features)
    assert str(inventory) in ran.stderr


# -- feature files -----------------------------------------------------------------------------
def _replace(old: str, new: str) -> Any:
    return lambda text: VALID_FEATURE.replace(old, text.join(new.split("{}")) if "{}" in new
                                              else new)


word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10)
# a tolerance table goes before the scenario's When (Given) or before its Then (When)
TOLERANCE_STEPS = {"    When": "    And the verified state tolerates:",
                   "    Then": "    And the verified state from now on tolerates:"}


def _tolerating(before: str, rule: str) -> str:
    return VALID_FEATURE.replace(before, f"{TOLERANCE_STEPS[before]}\n      | {rule} |\n{before}",
                                 1)


FEATURES = st.one_of(
    word.filter(lambda w: w != "fake_stop").map(
        lambda w: VALID_FEATURE.replace('"fake_stop"', f'"{w}"')),
    word.filter(lambda w: w != "service").map(
        lambda w: VALID_FEATURE.replace("| service |", f"| {w} |")),
    word.map(lambda w: VALID_FEATURE.replace("  Scenario:", f"  @allow_down_{w}\n  Scenario:")),
    st.sampled_from(["x", "0", "-1", "two"]).map(
        lambda n: VALID_FEATURE.replace("  Scenario:", f"  @allow_down_compute_{n}\n  Scenario:")),
    word.map(lambda w: VALID_FEATURE.replace("    Given a compute host",
                                             f"    Given the operator does {w}")),
    st.sampled_from(["Givn", "Whenn", "Scenaryo:", "Feature:", "|", "Rule", "@tag"]).map(
        lambda junk_line: VALID_FEATURE.replace("    Then", f"    {junk_line} junk\n    Then")),
    st.tuples(word, st.sampled_from(["exact", "max", "ignore", "melt"]),
              st.sampled_from(["0", "-1", "soon", ""])).filter(
        lambda t: t[1] != "exact" or t[2] not in ("0",)).map(
        lambda t: VALID_FEATURE.replace(
            "    When", f"    And the safeguards:\n      | path | check | grace |\n"
                       f"      | host:*/{t[0]} | {t[1]} | {t[2]} |\n    When")),
    st.just(VALID_FEATURE.replace("      | service | canary |\n", "")),
    st.tuples(st.sampled_from(sorted(TOLERANCE_STEPS)), word,
              st.sampled_from(["melt", "abs -1", "rel soon", "ignore 2", ""])).map(
        lambda t: _tolerating(t[0], f"host:*/{t[1]} {t[2]}")),
    st.sampled_from(["storage", "controller", "gpu"]).map(
        lambda role: VALID_FEATURE.replace("on the compute host", f"on the {role} host")),
    st.binary(min_size=1, max_size=30).map(lambda b: b"\xff" + b),
    st.sampled_from(["", "Feature:", "Scenario: lost\n  Given a compute host\n",
                     "Feature: f\n  Scenario: s\n    | a | b |\n"]),
)


@EXAMPLES
@given(feature=FEATURES)
def test_a_malformed_feature_file_is_refused(project: tuple[Path, Path, Path],
                                             capfd: pytest.CaptureFixture[str],
                                             feature: str | bytes) -> None:
    directory, features, inventory = project
    path = features / "drills.feature"
    if isinstance(feature, bytes):
        path.write_bytes(feature)
    else:
        path.write_text(feature)
    try:
        ran = stackdrill(run_args(directory, features, inventory, pytest_args=FAST), directory,
                         capfd)
    finally:
        path.write_text(VALID_FEATURE)
    assert_refused(ran, directory, features)
    assert "drills.feature" in ran.stderr


# -- command lines -----------------------------------------------------------------------------
flag = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12).map(
    lambda t: "--x" + t)
ARGUMENTS = st.one_of(
    st.lists(st.text(min_size=1, max_size=8).filter(
        lambda w: not w.startswith("-") and w not in {"lab", "run", "plan", "recover", "report"}),
        min_size=1, max_size=3),
    st.tuples(st.sampled_from(["run", "plan", "recover --pending", "report", "lab status"]),
              flag).map(lambda t: [*t[0].split(), t[1]]),
    st.sampled_from(["--budget-scale", "--last"]).flatmap(
        lambda option: st.text(alphabet="abcxyz-.", min_size=1, max_size=5).map(
            lambda value: ["run" if option == "--budget-scale" else "report",
                           f"{option}={value}"])),
    st.integers(max_value=0).map(lambda n: ["report", "--last", str(n)]),
    st.sampled_from(["up", "down", "status"]).map(lambda a: ["lab", a + "x"]),
    st.just(["recover"]),
    st.just(["plan", "--inventory", "x.yaml", "--lab"]),
    st.sampled_from(["recover --pending", "report", "lab status"]).map(
        lambda c: [*c.split(), "--", "-x"]),
    st.text(alphabet="abc/._", min_size=1, max_size=10).map(
        lambda name: ["recover", "--pending", "--inventory", f"/nonexistent/{name}.yaml"]),
    st.just([]),
)


@EXAMPLES
@given(argv=ARGUMENTS)
def test_malformed_command_lines_are_refused(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                             argv: list[str]) -> None:
    ran = stackdrill(argv, tmp_path, capfd)
    assert_refused(ran, tmp_path)
    assert ran.stderr.startswith("stackdrill: ")


# -- a few real processes ----------------------------------------------------------------------
@pytest.mark.parametrize("case", ["inventory", "feature", "arguments"])
def test_a_real_process_refuses_bad_input_with_one_line(project: tuple[Path, Path, Path],
                                                        tmp_path: Path, case: str) -> None:
    _, features, inventory = project
    argv = run_args(tmp_path, features, inventory)
    feature = features / "drills.feature"
    if case == "inventory":
        bad = tmp_path / "inventory.yaml"
        bad.write_text("hosts:\n  compute1: {address: 192.0.2.1, roles: [gpu]}\n")
        argv = run_args(tmp_path, features, bad)
    elif case == "feature":
        feature.write_text(VALID_FEATURE.replace("    Then", "    Thenn\n    Then"))
    else:
        argv = ["run", "--budget-scale", "fast"]
    try:
        result = subprocess.run([sys.executable, "-m", "stackdrill.cli", *argv], cwd=ROOT,
                                env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
                                capture_output=True, text=True, timeout=120, check=False)
    finally:
        feature.write_text(VALID_FEATURE)
    assert_refused(Ran(result.returncode, result.stdout, result.stderr), tmp_path, features)
