"""The soak (benchmarks/soak): what a host's state is read as, what counts as left behind against
the baseline (every iptables rule added or removed, mounts, held, masked and stopped units,
stackdrill's drop-ins, the processes faults start, fault files, pending journal entries), each
pass's drills joined with their history records and leak checks, the summary and its Markdown,
and the arguments (bad input is one line, exit 2). Fake host outputs; no lab."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import soak
import soak_plugin
import soak_result
import soak_state
from soak_state import DRILL_HOST, Leak

from stackdrill.engine.journal import Journal
from stackdrill.hosts.ssh import CommandResult, HostUnreachable

UNITS = """\
nova-compute.service loaded active running OpenStack Compute
libvirtd.service loaded inactive dead libvirt legacy monolithic daemon
libvirtd.socket loaded active listening libvirt legacy monolithic daemon socket
rabbitmq-server.service loaded active running RabbitMQ broker
ssh@3-172.31.77.11:22-172.31.77.1:40000.service loaded active running OpenBSD sshd (conn)
user@0.service loaded active running User Manager for UID 0
"""
UNIT_FILES = """\
nova-compute.service enabled enabled
libvirtd.service enabled enabled
libvirtd.socket enabled enabled
rabbitmq-server.service enabled enabled
ssh@.service static -
"""
MOUNTS = """\
/dev/sdb1 /srv/node/sdb1 xfs rw,relatime 0 0
tmpfs /run/user/0 tmpfs rw,nosuid 0 0
proc /proc proc rw 0 0
"""
IPTABLES = """\
filter -P INPUT ACCEPT
filter -A INPUT -s 10.0.0.5/32 -j ACCEPT
"""


def output(*, iptables: str = IPTABLES, mounts: str = MOUNTS, units: str = UNITS,
           files: str = UNIT_FILES, dropins: str = "", tagged: str = "", ps: str = "",
           fault_files: str = "") -> str:
    """A host's answer to the state command, section by section."""
    sections = {"iptables": iptables, "mounts": mounts, "units": units, "unit-files": files,
                "drop-ins": dropins, "tagged": tagged, "ps": ps, "files": fault_files}
    return "".join(f"{soak_state.MARK}{name}\n{text}" for name, text in sections.items())


def state(hosts: dict[str, str], local: list[str] | None = None,
          journal: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    return {"hosts": {name: soak_state.host_state(text) for name, text in hosts.items()},
            "local": local if local is not None else [], "journal": journal or {},
            "errors": []}


BASELINE = state({"compute1": output(), "controller": output()})


# -- reading a host ---------------------------------------------------------------------------
def test_the_state_command_prints_every_section_after_its_mark() -> None:
    command = soak_state.host_command(["/var/lib/nova/instances/.stackdrill-disk-fill-ab12"])
    for name in soak_state.SECTIONS:
        assert f"printf '\\n{soak_state.MARK}{name}\\n'" in command
    assert "iptables -t $t -S" in command and "/proc/mounts" in command
    assert "/run/systemd/system/*.d/stackdrill-*" in command
    assert "'^STACKDRILL_FAULT='" in command and "stress-ng" in command
    assert "for f in /var/lib/nova/instances/.stackdrill-disk-fill-ab12; do" in command
    assert "for f in '/srv/a b'; do" in soak_state.host_command(["/srv/a b"])
    assert command.endswith("; true")


def test_the_state_command_runs_in_a_posix_shell(tmp_path: Path) -> None:
    there = tmp_path / ".stackdrill-disk-fill-ab12"
    there.write_text("")
    command = soak_state.host_command(["/nonexistent/file", str(there)])
    text = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True,
                          timeout=60).stdout
    found = soak_state.host_state(text)
    assert found["files"] == [str(there)]
    assert set(found) == {"iptables", "mounts", "units", "drop-ins", "processes", "files"}


def test_a_host_state_is_read_section_by_section() -> None:
    found = soak_state.host_state(output(
        tagged="4242 stress-ng stackdrill-cpu-pressure-ab12\n",
        ps="4242 Ss stress-ng\n4300 Tl nova-conductor\n"))
    assert found["mounts"] == ["/dev/sdb1 /srv/node/sdb1 xfs rw,relatime", "proc /proc proc rw"]
    assert found["units"]["libvirtd.socket"] == {"load": "loaded", "active": "active",
                                                 "sub": "listening", "file": "enabled"}
    assert found["units"]["ssh@.service"]["active"] == "inactive"  # only a unit file
    assert found["processes"] == {
        "4242": "stress-ng (pid 4242) running (Ss) tagged stackdrill-cpu-pressure-ab12",
        "4300": "nova-conductor (pid 4300) stopped (Tl)"}


def test_an_answer_without_a_section_is_refused() -> None:
    with pytest.raises(soak_state.SoakError, match="no section mounts, units, unit-files"):
        soak_state.host_state(f"{soak_state.MARK}iptables\n")


# -- what counts as left behind ---------------------------------------------------------------
def test_nothing_changed_is_no_leak() -> None:
    assert soak_state.leaks(BASELINE, state({"compute1": output(), "controller": output()})) \
        == []


def test_iptables_rules_added_or_removed_are_leaks_and_tagged_ones_say_so() -> None:
    rule = "filter -A INPUT -s 172.31.77.10/32 -m comment --comment stackdrill-partition-1a -j DROP"
    now = state({"compute1": output(iptables="filter -P INPUT ACCEPT\n" + rule + "\n"),
                 "controller": output()})
    assert soak_state.leaks(BASELINE, now) == [
        Leak("compute1", "iptables", f"added: {rule} (stackdrill's tag)"),
        Leak("compute1", "iptables", "removed: filter -A INPUT -s 10.0.0.5/32 -j ACCEPT")]


def test_a_rule_added_twice_is_two_leaks() -> None:
    twice = IPTABLES + "filter -A INPUT -j DROP\nfilter -A INPUT -j DROP\n"
    now = state({"compute1": output(iptables=twice), "controller": output()})
    assert [leak.what for leak in soak_state.leaks(BASELINE, now)] == [
        "added: filter -A INPUT -j DROP", "added: filter -A INPUT -j DROP"]


def test_mounts_added_removed_or_remounted_are_leaks_but_a_login_s_are_not() -> None:
    mounts = ("/dev/sdb1 /srv/node/sdb1 xfs ro,relatime 0 0\nproc /proc proc rw 0 0\n"
              "tmpfs /run/user/1000 tmpfs rw 0 0\n/dev/fuse /srv/eio fuse rw 0 0\n")
    now = state({"compute1": output(mounts=mounts), "controller": output()})
    assert soak_state.leaks(BASELINE, now) == [
        Leak("compute1", "mount", "mounted: /dev/fuse /srv/eio fuse rw"),
        Leak("compute1", "mount", "mounted: /dev/sdb1 /srv/node/sdb1 xfs ro,relatime"),
        Leak("compute1", "mount", "unmounted: /dev/sdb1 /srv/node/sdb1 xfs rw,relatime")]


def test_units_held_masked_or_stopped_are_leaks() -> None:
    units = UNITS.replace("nova-compute.service loaded active running",
                          "nova-compute.service loaded failed failed").replace(
        "rabbitmq-server.service loaded active running",
        "rabbitmq-server.service masked inactive dead")
    files = UNIT_FILES.replace("libvirtd.service enabled", "libvirtd.service disabled").replace(
        "rabbitmq-server.service enabled", "rabbitmq-server.service masked")
    now = state({"compute1": output(units=units, files=files), "controller": output()})
    assert [leak.what for leak in soak_state.leaks(BASELINE, now)] == [
        "libvirtd.service: unit file enabled -> disabled (held)",
        "nova-compute.service: stopped: active (running) -> failed (failed)",
        "rabbitmq-server.service: unit file enabled -> masked",
        "rabbitmq-server.service: stopped: active (running) -> inactive (dead)"]


def test_a_unit_gone_from_the_list_counts_as_stopped() -> None:
    units = "".join(line + "\n" for line in UNITS.splitlines() if "rabbitmq" not in line)
    now = state({"compute1": output(units=units), "controller": output()})
    assert soak_state.leaks(BASELINE, now) == [
        Leak("compute1", "unit",
             "rabbitmq-server.service: stopped: active (running) -> inactive (dead)")]


def test_units_that_stop_by_themselves_are_no_leak() -> None:
    """A socket-activated service idle behind its listening socket, a login's user manager, a
    per-connection instance."""
    before = soak_state.host_state(output(units=UNITS.replace(
        "libvirtd.service loaded inactive dead", "libvirtd.service loaded active running")))
    units = "".join(line + "\n" for line in UNITS.splitlines()
                    if not line.startswith(("ssh@3", "user@0")))
    after = soak_state.host_state(output(units=units))
    assert soak_state.host_leaks("compute1", before, after) == []
    socket_down = soak_state.host_state(output(units=units.replace(
        "libvirtd.socket loaded active listening", "libvirtd.socket loaded inactive dead")))
    assert [leak.what for leak in soak_state.host_leaks("compute1", before, socket_down)] == [
        "libvirtd.service: stopped: active (running) -> inactive (dead)",
        "libvirtd.socket: stopped: active (listening) -> inactive (dead)"]


def test_a_new_masked_unit_is_a_leak() -> None:
    now = state({"compute1": output(files=UNIT_FILES + "nova-api.service masked enabled\n"),
                 "controller": output()})
    assert soak_state.leaks(BASELINE, now) == [Leak("compute1", "unit", "nova-api.service: masked")]


def test_drop_ins_processes_and_fault_files_are_leaks() -> None:
    dropin = "/run/systemd/system/libvirtd.service.d/stackdrill-keep-down.conf"
    fill = "/var/lib/nova/instances/.stackdrill-disk-fill-ab12"
    now = state({"compute1": output(
        dropins=dropin + "\n", tagged="77 stress-ng stackdrill-memory-pressure-cd34\n",
        ps="77 S stress-ng\n78 T nova-api\n", fault_files=fill + "\n"), "controller": output()})
    assert soak_state.leaks(BASELINE, now) == [
        Leak("compute1", "drop-in", dropin),
        Leak("compute1", "process",
             "stress-ng (pid 77) running (S) tagged stackdrill-memory-pressure-cd34"),
        Leak("compute1", "process", "nova-api (pid 78) stopped (T)"),
        Leak("compute1", "file", f"still there: {fill}")]


def test_the_drill_host_s_rules_and_pending_journal_entries_are_leaks() -> None:
    cut = "filter -A OUTPUT -d 172.31.77.11/32 -o sdlab0 -j DROP"
    pending = {"e1": {"host": "compute1", "what": "fault partition pending since x (run ab)"}}
    now = state({"compute1": output(), "controller": output()}, local=[cut], journal=pending)
    assert soak_state.leaks(BASELINE, now) == [
        Leak(DRILL_HOST, "iptables", f"added: {cut}"),
        Leak("compute1", "journal", "fault partition pending since x (run ab)")]
    # an entry already pending in the baseline is not one more
    assert soak_state.leaks({**BASELINE, "journal": pending}, now) == [
        Leak(DRILL_HOST, "iptables", f"added: {cut}")]


def test_a_host_unread_after_a_drill_is_no_leak() -> None:
    now = state({"controller": output()})
    now["errors"] = ["compute1: unreachable"]
    assert soak_state.leaks(BASELINE, now) == []


def test_the_drill_host_keeps_only_the_lab_s_rules() -> None:
    listings = {"filter": "-P INPUT ACCEPT\n-A FORWARD -i sdlab0 -j ACCEPT\n"
                          "-A INPUT -m comment --comment stackdrill-reconnect-lab -j DROP\n"
                          "-A INPUT -s 192.0.2.1/32 -j DROP\n",
                "nat": "-A POSTROUTING -s 172.31.77.0/24 -j MASQUERADE\n"}
    assert soak_state.local_rules(listings, "sdlab0", "172.31.77.") == [
        "filter -A FORWARD -i sdlab0 -j ACCEPT",
        "filter -A INPUT -m comment --comment stackdrill-reconnect-lab -j DROP",
        "nat -A POSTROUTING -s 172.31.77.0/24 -j MASQUERADE"]
    tables = []

    def iptables(argv: list[str]) -> str:
        tables.append(argv[2])
        return "-A FORWARD -o sdlab0 -j ACCEPT\n"

    assert len(soak_state.read_local("sdlab0", "172.31.77.", iptables)) == 4
    assert tables == list(soak_state.TABLES)


def test_the_baseline_s_own_stackdrill_marks_are_named() -> None:
    marked = state({"compute1": output(
        iptables=IPTABLES + "filter -A INPUT -m comment --comment stackdrill-partition-1 -j DROP\n",
        dropins="/run/systemd/system/x.service.d/stackdrill-keep-down.conf\n")},
        journal={"e1": {"host": "compute1", "what": "fault kill_service pending"}})
    assert [(leak.kind, leak.what) for leak in soak_state.baseline_leftovers(marked)] == [
        ("iptables",
         "added: filter -A INPUT -m comment --comment stackdrill-partition-1 -j DROP "
         "(stackdrill's tag)"),
        ("drop-in", "/run/systemd/system/x.service.d/stackdrill-keep-down.conf"),
        ("journal", "fault kill_service pending")]
    assert soak_state.baseline_leftovers(BASELINE) == []


# -- reading the lab through the library ------------------------------------------------------
def test_fault_files_come_from_the_run_s_journal(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    records = [{"event": "armed", "target": "compute1", "undo": {"file": "/var/x/.f1"}},
               {"event": "armed", "target": "compute2", "undo": {"tag": "t"}},
               {"event": "undone", "id": "1"}]
    journal.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"event": "arm')
    assert soak_state.fault_files(journal) == {"compute1": ["/var/x/.f1"]}
    assert soak_state.fault_files(tmp_path / "none.jsonl") == {}


def test_pending_entries_are_read_from_the_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl", run_id="0123456789abcdef")
    kept = journal.arm("partition", "compute1", {}, {"tag": "t"})
    done = journal.arm("kill_service", "controller", {}, {})
    journal.mark_undone(done.id)
    found = soak_state.pending_entries(journal)
    assert list(found) == [kept.id]
    assert found[kept.id]["host"] == "compute1"
    assert found[kept.id]["what"].startswith("fault partition pending since 20")
    assert found[kept.id]["what"].endswith("(run 01234567, the run journal)")


class FakeTarget:
    def __init__(self, name: str, answer: str | None) -> None:
        self.name = name
        self.answer = answer
        self.commands: list[str] = []

    def run(self, command: str, **options: Any) -> CommandResult:
        self.commands.append(command)
        assert options["record"] is False
        if self.answer is None:
            raise HostUnreachable(f"{self.name} (172.31.77.11:22): unreachable: No route to host")
        return CommandResult(self.name, command, 0, self.answer, "", 0.0, 0.1)


def test_read_state_reads_every_host_and_names_what_it_could_not_read() -> None:
    hosts = [FakeTarget("compute1", None), FakeTarget("controller", output())]

    def local() -> list[str]:
        raise OSError("iptables: not found")

    found = soak_state.read_state(hosts, None, files={"controller": ["/x/.f"]},  # type: ignore[arg-type]
                                  local=local)
    assert list(found["hosts"]) == ["controller"]
    assert found["errors"] == [
        "compute1: compute1 (172.31.77.11:22): unreachable: No route to host",
        "drill host: iptables: iptables: not found"]
    assert "for f in /x/.f;" in hosts[1].commands[0] and "/x/.f" not in hosts[0].commands[0]


# -- a pass and the summary -------------------------------------------------------------------
LEAK = {"host": "compute1", "kind": "iptables", "what": "added: filter -A INPUT -j DROP"}


def history(drill: str, result: str = "passed", ttr: float | None = 12.34,
            reason: str = "") -> dict[str, Any]:
    return {"drill": drill, "result": result, "time_to_recover": ttr, "budget": 180,
            "reason": reason}


def check(drill: str, leaks: list[dict[str, str]] | None = None, outcome: str = "passed",
          errors: list[str] | None = None) -> dict[str, Any]:
    return {"node": drill, "drill": drill, "outcome": outcome, "leaks": leaks or [],
            "errors": errors or []}


def test_a_pass_joins_history_and_checks_and_counts_each_leak_once() -> None:
    records = [history("a: one"), history("a: two", "failed", None, "not recovered in 60 s")]
    checks = [check("a: one", [LEAK]), check("a: two", [LEAK]), check("a: three", [],
                                                                          "skipped")]
    one, left = soak_result.pass_record(1, 1, 600.04, records, checks, set())
    assert one["exit"] == 1 and one["seconds"] == 600.0
    first, second, third = one["drills"]
    assert first["result"] == "passed" and first["time_to_recover"] == 12.34
    assert first["leaks"] == [LEAK] and first["still_left"] == 0
    assert second["result"] == "failed" and second["reason"] == "not recovered in 60 s"
    assert second["leaks"] == [] and second["still_left"] == 1
    assert third["result"] == "skipped" and third["time_to_recover"] is None
    assert third["leaks"] == [] and third["still_left"] == 0  # the leak went away
    assert left == set()


def test_a_drill_recorded_and_never_checked_is_kept() -> None:
    one, _ = soak_result.pass_record(2, 1, 1.0, [history("a: one")], [], set())
    assert one["drills"][0]["checked"] is False and one["drills"][0]["result"] == "passed"


def test_a_skipped_scenario_s_record_is_a_skip() -> None:
    record = history("a: one", "aborted", None, "skipped: no second compute")
    assert soak_result.drill_result(record, "passed") == ("skipped",
                                                          "skipped: no second compute")
    assert soak_result.drill_result(None, "error") == ("error", "")


def passes() -> list[dict[str, Any]]:
    first, left = soak_result.pass_record(1, 0, 3000.0, [history("a: one"), history("a: two")],
                                          [check("a: one"), check("a: two", [LEAK])], set())
    second, _ = soak_result.pass_record(
        2, 1, 2940.0, [history("a: one", "error", None, "undo failed | twice"),
                       history("a: two", ttr=8.0)],
        [check("a: one", [LEAK]), check("a: two", [LEAK], errors=["controller: timeout"])],
        left)
    return [first, second]


def test_the_summary_has_the_failure_rate_and_the_leak_count() -> None:
    figures = soak_result.summary(passes(), 3)
    assert figures == {"passes_asked": 3, "passes_run": 2, "passes_broken": [],
                       "drills_run": 4, "drills_failed": 1, "failure_rate": 0.25, "leaks": 1,
                       "left_at_end": 1, "check_errors": 1, "drills_unchecked": 0,
                       "clean": False}


def test_a_clean_soak_is_every_pass_through_without_failure_or_leak() -> None:
    clean, _ = soak_result.pass_record(1, 0, 60.0, [history("a: one")], [check("a: one")],
                                       set())
    assert soak_result.summary([clean], 1)["clean"] is True
    assert soak_result.summary([clean], 2)["clean"] is False  # a pass missing
    refused = {**clean, "exit": 2}
    assert soak_result.summary([refused], 1)["passes_broken"] == [1]
    assert soak_result.summary([refused], 1)["clean"] is False
    assert soak_result.summary([], 1)["failure_rate"] is None


def results() -> dict[str, Any]:
    run = passes()
    return {"date": "2026-12-07T04:00:00+00:00", "commit": "0123456789abcdef0123",
            "uncommitted_changes": False, "note": "",
            "machine": {"cpus": 2, "memory_bytes": 24 * 2**30, "processor": "x86_64",
                        "kernel": "6.1", "python": "3.11.7"},
            "lab": {"inventory": "/var/lib/stackdrill-lab/inventory.yaml",
                    "hosts": ["compute1", "controller"]},
            "marker": "not long", "selected": "(not long) and not wip",
            "baseline": {"taken": "2026-12-07T04:00:00+00:00", "leftovers": []},
            "passes": run, "summary": soak_result.summary(run, 3)}


def test_the_markdown_quotes_the_result_file_s_figures() -> None:
    text = soak.render(results())
    assert text.startswith("# Soak: the drill suite run again and again on the lab\n")
    assert "- date: 2026-12-07T04:00:00+00:00" in text and "- commit: 0123456789ab" in text
    assert "`-m \"(not long) and not wip\"` on the lab (2 hosts), 3 passes asked, 2 run." in text
    assert "- drills run: 4, failed: 1 (failure rate 25.0 %)" in text
    assert "- leaks: 1 (1 still there after the last drill)" in text
    assert "- clean (every pass ran through, no failure, no leak): no" in text
    assert "| 1 | 0 | 2 | 0 | 1 | 50.0 |" in text and "| 2 | 1 | 2 | 1 | 0 | 49.0 |" in text
    assert "| a: one | passed, 12.3 s | error |" in text
    assert "| a: two | passed, 12.3 s | passed, 8.0 s |" in text
    assert "| 2 | a: one | error | undo failed \\| twice |" in text
    assert "| 1 | a: two | compute1 | iptables | added: filter -A INPUT -j DROP |" in text
    assert "| 2 | a: two | controller: timeout |" in text
    assert text.endswith("Reproduce: `benchmarks/soak --lab --passes 3 -m \"not long\"`\n")


def test_the_markdown_of_a_clean_soak_says_none_found() -> None:
    clean, _ = soak_result.pass_record(1, 0, 60.0, [history("a: one")], [check("a: one")],
                                       set())
    text = soak.render({**results(), "passes": [clean],
                        "summary": soak_result.summary([clean], 1),
                        "baseline": {"taken": "x", "leftovers": [LEAK]}})
    assert "## Leaks\n\nNone found.\n" in text and "## Failures\n\nNone.\n" in text
    assert "- clean (every pass ran through, no failure, no leak): yes" in text
    assert "Already in the baseline (a soak cannot see these come back): compute1 iptables " \
           "added: filter -A INPUT -j DROP" in text


def test_read_lines_skips_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "leaks.jsonl"
    path.write_text('{"drill": "a"}\n[1]\n{"dri')
    assert soak_result.read_lines(path) == [{"drill": "a"}]
    assert soak_result.read_lines(tmp_path / "none") == []


# -- the command line -------------------------------------------------------------------------
@pytest.mark.parametrize(("argv", "message"), [
    (["--lab", "--passes", "0"], "argument --passes: expected at least 1, got 0"),
    (["--lab", "--passes", "three"], "argument --passes: expected a whole number, got 'three'"),
    (["--lab", "-m", "not long and"], "argument -m/--tags: not a marker expression"),
    (["--lab", "-m", " "], "expected a marker expression, got an empty one"),
    ([], "--lab is required"),
    (["--lab", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert soak.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("soak: ")
    assert message in captured.err and "Traceback" not in captured.err


def test_the_arguments_default_to_three_passes_of_the_non_long_drills() -> None:
    args = soak.parse_args(["--lab"])
    assert (args.passes, args.tags, args.dir) == (3, "not long", None)
    assert soak.selected(args.tags) == "(not long) and not wip"
    assert soak.selected("wip") == "wip"


def test_a_soak_without_the_lab_is_refused_in_one_line(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STACKDRILL_LAB_DIR", str(tmp_path / "no-lab"))
    assert soak.main(["--lab", "--dir", str(tmp_path / "soak")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("soak: the lab is not up (no inventory at ") and err.count("\n") == 1


def test_render_without_a_result_file_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(soak, "RESULTS", tmp_path)
    assert soak.main(["--render"]) == 2
    assert "no result file at" in capsys.readouterr().err
    (tmp_path / "soak.json").write_text(json.dumps(results()))
    assert soak.main(["--render"]) == 0
    assert (tmp_path / "soak.md").read_text() == soak.render(results())


def test_a_pass_is_a_stackdrill_run_with_its_own_files_and_the_plugin(tmp_path: Path) -> None:
    command = soak.run_command("(compute) and not long", tmp_path)
    assert command[1:6] == ["-m", "stackdrill.cli", "run", "--lab", "--tags"]
    assert command[6] == "(compute) and not long"
    for option, name in (("--reports", "reports"), ("--history", "history.jsonl"),
                         ("--journal", "journal.jsonl")):
        assert command[command.index(option) + 1] == str(tmp_path / name)
    assert command[command.index("--"):] == ["--", "-p", "soak_plugin", "-p", "no:randomly"]
    env = soak.run_environment({"PYTHONPATH": "/x", "HOME": "/root"}, tmp_path,
                               tmp_path / "baseline.json", tmp_path / "inventory.yaml")
    assert env["PYTHONPATH"] == f"{soak.BENCHMARKS}:/x" and env["HOME"] == "/root"
    assert env["STACKDRILL_SOAK_LEAKS"] == str(tmp_path / "leaks.jsonl")
    assert env["STACKDRILL_SOAK_JOURNAL"] == str(tmp_path / "journal.jsonl")
    assert set(soak_state.ENVIRONMENT.values()) <= set(env)


def test_a_soak_directory_must_be_new_or_empty(tmp_path: Path) -> None:
    assert soak.soak_directory(tmp_path / "new") == tmp_path / "new"
    (tmp_path / "new" / "pass-1").mkdir()
    with pytest.raises(soak_state.SoakError, match="is not empty"):
        soak.soak_directory(tmp_path / "new")


def test_ctrl_c_waits_for_the_run_to_undo_its_faults(capsys: pytest.CaptureFixture[str]) -> None:
    waits: list[int | None] = [None, None, 130]  # None: Ctrl-C while waiting

    def wait() -> int:
        step = waits.pop(0)
        if step is None:
            raise KeyboardInterrupt
        return step

    process = SimpleNamespace(wait=wait)
    assert soak._wait(process) == (130, True)  # type: ignore[arg-type]
    assert capsys.readouterr().err.count("waiting for the run to undo its faults") == 1


# -- the plugin -------------------------------------------------------------------------------
def test_a_drill_s_outcome_is_the_worst_of_its_phases() -> None:
    outcome = "passed"
    for when, phase in (("setup", "passed"), ("call", "failed"), ("teardown", "failed")):
        outcome = soak_plugin.worse(outcome, soak_plugin.phase_outcome(when, phase))
    assert outcome == "error"
    assert soak_plugin.worse("passed", soak_plugin.phase_outcome("setup", "skipped")) == \
        "skipped"
    assert soak_plugin.worse("failed", "skipped") == "failed"


def test_the_plugin_writes_one_line_per_drill(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    paths = {"baseline": tmp_path / "baseline.json", "leaks": tmp_path / "leaks.jsonl",
             "inventory": tmp_path / "inventory.yaml", "journal": tmp_path / "journal.jsonl"}
    paths["baseline"].write_text(json.dumps(BASELINE))
    checks = soak_plugin.SoakChecks(paths)
    checks._targets = SimpleNamespace(inventory=None)  # type: ignore[assignment]
    after = state({"compute1": output(dropins="/run/systemd/system/a.d/stackdrill-x.conf\n"),
                   "controller": output()})
    after["errors"] = ["journal: cannot read"]
    monkeypatch.setattr(soak_plugin, "journal_for", lambda *args: None)
    monkeypatch.setattr(soak_plugin, "read_state", lambda *args, **kwargs: after)
    checks.names["f.py::t"] = "features/x.feature: a drill"
    report = SimpleNamespace(nodeid="f.py::t", when="call", outcome="failed")
    checks.pytest_runtest_logreport(report)  # type: ignore[arg-type]
    checks.pytest_runtest_logfinish("f.py::t")
    line = json.loads(paths["leaks"].read_text())
    assert line["drill"] == "features/x.feature: a drill" and line["outcome"] == "failed"
    assert line["leaks"] == [{"host": "compute1", "kind": "drop-in",
                              "what": "/run/systemd/system/a.d/stackdrill-x.conf"}]
    assert line["errors"] == ["journal: cannot read"]


def test_the_plugin_refuses_to_run_without_its_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in soak_state.ENVIRONMENT.values():
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(pytest.UsageError, match="STACKDRILL_SOAK_BASELINE"):
        soak_plugin.pytest_configure(SimpleNamespace())  # type: ignore[arg-type]


def test_a_check_that_cannot_start_is_an_error_not_a_crash(tmp_path: Path) -> None:
    paths = {"baseline": tmp_path / "baseline.json", "leaks": tmp_path / "leaks.jsonl",
             "inventory": tmp_path / "missing.yaml", "journal": tmp_path / "journal.jsonl"}
    paths["baseline"].write_text(json.dumps(BASELINE))
    checks = soak_plugin.SoakChecks(paths)
    checks.pytest_runtest_logfinish("f.py::t")
    line = json.loads(paths["leaks"].read_text())
    assert line["leaks"] == [] and len(line["errors"]) == 1
    assert line["errors"][0].startswith("check: ") and "missing.yaml" in line["errors"][0]
