"""The benchmarks' scale lab is torn down completely between sizes: ``down`` deletes each veth
itself instead of leaving it to the kernel's deferred clean-up of a deleted namespace, so that
the next ``up`` can add ``sdb0`` again at once (``benchmarks/run --hosts 10,50,200``). Each size
is built only on an empty slate and its teardown checks what it removed; a leftover fails in
one line naming it, not as the next size's ``Command failed -:5``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import host_fanout
import scale_lab

# `ip -br link` on the development machine while the main lab and a 10-host scale lab were up.
LISTING = """\
lo               UNKNOWN        00:00:00:00:00:00 <LOOPBACK,UP,LOWER_UP>
eth0             UP             02:fc:00:00:00:01 <BROADCAST,MULTICAST,UP,LOWER_UP>
sdlab0           UP             06:f8:7e:84:61:8a <BROADCAST,MULTICAST,UP,LOWER_UP>
sdl-compute1@if2 UP             72:90:64:6a:97:ae <BROADCAST,MULTICAST,UP,LOWER_UP>
sdbench0         UP             e2:ba:ff:3f:b3:e1 <BROADCAST,MULTICAST,UP,LOWER_UP>
sdb0@if2         UP             e2:ba:ff:3f:b3:e1 <BROADCAST,MULTICAST,UP,LOWER_UP>
sdb17@if2        UP             02:9a:16:c8:dd:6f <BROADCAST,MULTICAST,UP,LOWER_UP>
"""


class FakeKernel:
    """The ``ip`` commands the scale lab issues, against a model of the root namespace's links
    and the named namespaces. As in the kernel, deleting a namespace does not remove the veth
    whose peer it held there and then: that happens when the kernel frees the namespace, later
    (measured: the host sides were still listed right after ``down``, gone 2 s later)."""

    def __init__(self) -> None:
        self.links: set[str] = {"lo", "eth0", "sdlab0", "sdl-compute1"}
        self.namespaces: set[str] = {"sdlab-compute1"}
        # Links the kernel's own clean-up removes between the teardown's listing and its batch.
        self.vanishing: set[str] = set()
        # Links whose deletion fails and that stay (a device the kernel keeps busy).
        self.stuck: set[str] = set()

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        out, rc = "", 0
        if args == ("netns", "list"):
            out = "".join(f"{name} (id: {i})\n" for i, name in enumerate(sorted(self.namespaces)))
        elif args[:2] == ("netns", "pids"):
            out = ""
        elif args == ("-br", "link"):
            out = "".join(f"{link}{self._peer(link)} UP 00:00:00:00:00:00 <UP>\n"
                          for link in sorted(self.links))
        elif args == ("-br", "-4", "addr"):
            out = "lo UNKNOWN 127.0.0.1/8\nsdlab0 UP 172.31.77.1/24\n"
        elif args[:2] == ("link", "show"):
            rc = 0 if args[2] in self.links else 1
        elif args[:2] == ("link", "delete"):
            rc = self._line(f"link delete {args[2]}")
        else:
            raise AssertionError(f"unexpected ip {args}")
        if check and rc:
            raise subprocess.CalledProcessError(rc, ["ip", *args])
        return subprocess.CompletedProcess(["ip", *args], rc, out, "")

    @staticmethod
    def _peer(link: str) -> str:
        return "@if2" if link != "sdbench0" and link.startswith(("sdb", "sdl-")) else ""

    def batch(self, lines: list[str], netns: str | None = None, *,
              force: bool = False) -> list[str]:
        """Like ``ip [-force] -batch -``: the same standard error, read by the same parser."""
        if netns is not None:
            assert netns in self.namespaces
            return []
        self.links -= self.vanishing
        stderr = ""
        for number, line in enumerate(lines, 1):
            said = self._said(line)
            if said:
                stderr += f"{said}\nCommand failed -:{number}\n"
                if not force:
                    break
        errors = scale_lab.batch_errors(lines, stderr)
        if errors and not force:
            raise scale_lab.LabError(f"ip -batch failed: {'; '.join(errors)}")
        return errors

    def _said(self, line: str) -> str:
        words = line.split()
        if words[:2] == ["link", "delete"] and words[2] in self.stuck:
            return "RTNETLINK answers: Device or resource busy"
        if self._line(line) == 0:
            return ""
        return ("Cannot find device" if words[1] == "delete" and words[0] == "link"
                else "RTNETLINK answers: File exists")

    def _line(self, line: str) -> int:
        words = line.split()
        if words[:2] == ["netns", "add"]:
            if words[2] in self.namespaces:
                return 1
            self.namespaces.add(words[2])
        elif words[:2] == ["netns", "delete"]:
            if words[2] not in self.namespaces:
                return 1
            self.namespaces.remove(words[2])
        elif words[:2] == ["link", "add"]:
            if words[2] in self.links or ("netns" in words and words[-1] not in self.namespaces):
                return 1
            self.links.add(words[2])
        elif words[:2] == ["link", "delete"]:
            if words[2] not in self.links:
                return 1
            self.links.remove(words[2])
        elif words[:2] in (["link", "set"], ["addr", "add"]):
            return 0 if words[-1] in self.links or words[2] in self.links else 1
        else:
            raise AssertionError(f"unexpected batch line {line!r}")
        return 0


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeKernel:
    fake = FakeKernel()
    monkeypatch.setattr(scale_lab, "_ip", fake.ip)
    monkeypatch.setattr(scale_lab, "_batch", fake.batch)
    monkeypatch.setattr(scale_lab, "WORK", tmp_path / "sdbench-lab")
    # The fake has no delay to wait for: what it still lists after the batch stays.
    monkeypatch.setattr(scale_lab, "TEARDOWN_TIMEOUT", 0.0)
    # A build that got past its checks must not start real processes or reach an address.
    for step in ("_keygen", "_start_sshd", "_wait_listening"):
        monkeypatch.setattr(scale_lab, step, _refuse(step))
    return fake


def _refuse(step: str) -> Any:
    def refuse(*args: object) -> None:
        raise AssertionError(f"a unit test reached scale_lab.{step}")

    return refuse


def _hosts(count: int) -> list[scale_lab.BenchHost]:
    return [scale_lab.BenchHost(f"{scale_lab.PREFIX}{i}", scale_lab.address(i))
            for i in range(count)]


def test_a_second_size_builds_after_down(kernel: FakeKernel) -> None:
    scale_lab._network(_hosts(10))
    scale_lab.WORK.mkdir()
    scale_lab.down()
    assert not any(scale_lab.VETH.fullmatch(link) for link in kernel.links)
    assert "sdbench0" not in kernel.links
    assert not scale_lab.WORK.exists()
    scale_lab._network(_hosts(50))  # raised "Command failed -:5" (link add sdb0) before
    assert {f"sdb{i}" for i in range(50)} <= kernel.links


def test_down_leaves_the_main_lab_alone(kernel: FakeKernel) -> None:
    scale_lab._network(_hosts(3))
    scale_lab.down()
    assert kernel.links == {"lo", "eth0", "sdlab0", "sdl-compute1"}
    assert kernel.namespaces == {"sdlab-compute1"}


def test_the_old_teardown_left_sdb0_so_line_5_of_the_next_build_failed(
        kernel: FakeKernel) -> None:
    """What ``down`` did before: ``netns delete`` and the bridge only. The host sides of the
    veths outlive their namespaces until the kernel frees them; lines 1-4 of the next build
    (the bridge, its address, ``netns add sdbench-0``) reuse freed names, line 5 adds sdb0."""
    scale_lab._network(_hosts(10))
    kernel.batch([f"netns delete {host.name}" for host in _hosts(10)]
                 + [f"link delete {scale_lab.BRIDGE}"])
    with pytest.raises(scale_lab.LabError) as failed:
        scale_lab._network(_hosts(50))
    assert str(failed.value) == ("ip -batch failed: line 5 `link add sdb0 type veth peer name "
                                 "eth0 netns sdbench-0`: RTNETLINK answers: File exists")


def test_a_build_on_leftovers_is_refused_in_one_line_before_it_adds_anything(
        kernel: FakeKernel) -> None:
    scale_lab._network(_hosts(10))
    kernel.batch([f"netns delete {host.name}" for host in _hosts(10)]
                 + [f"link delete {scale_lab.BRIDGE}"])
    before = (set(kernel.links), set(kernel.namespaces))
    with pytest.raises(scale_lab.LabError) as refused:
        scale_lab.up(50)
    message = str(refused.value)
    assert "\n" not in message
    assert message == ("the scale lab is not empty before building 50 hosts: veths sdb0, sdb1, "
                       "sdb2 and 7 more; `benchmarks/run --down` removes it")
    assert (kernel.links, kernel.namespaces) == before
    assert not scale_lab.WORK.exists()


def test_a_size_on_leftovers_is_refused_and_touches_nothing(kernel: FakeKernel) -> None:
    scale_lab._network(_hosts(2))
    before = (set(kernel.links), set(kernel.namespaces))
    with pytest.raises(scale_lab.LabError) as refused, scale_lab.lab(50):
        pytest.fail("built on leftovers")
    assert str(refused.value).startswith(
        "the scale lab is not empty before building 50 hosts: namespaces sdbench-0, sdbench-1; "
        "veths sdb0, sdb1; the bridge sdbench0;")
    assert (kernel.links, kernel.namespaces) == before


def test_down_returns_what_it_removed_and_leaves_nothing(kernel: FakeKernel) -> None:
    hosts = _hosts(10)
    scale_lab._network(hosts)
    scale_lab.WORK.mkdir()
    removed = scale_lab.down(hosts)
    assert removed.namespaces == tuple(host.name for host in hosts)
    assert removed.veths == tuple(f"sdb{i}" for i in range(10))
    assert removed.bridge and removed.files
    assert scale_lab.present().empty
    scale_lab.require_empty("after the teardown")  # nothing left: does not raise


def test_a_leftover_fails_the_teardown_in_one_line_naming_it(kernel: FakeKernel) -> None:
    hosts = _hosts(10)
    scale_lab._network(hosts)
    kernel.stuck = {"sdb3"}
    with pytest.raises(scale_lab.LabError) as failed:
        scale_lab.down(hosts)
    message = str(failed.value)
    assert "\n" not in message
    assert message == ("the scale lab is not torn down: veth sdb3 still listed 0 s after "
                       "deleting it; ip said: line 4 `link delete sdb3`: RTNETLINK answers: "
                       "Device or resource busy")
    # Every other line of the teardown still ran.
    assert {link for link in kernel.links if link.startswith("sdb")} == {"sdb3"}
    assert not any(name.startswith(scale_lab.PREFIX) for name in kernel.namespaces)


def test_a_veth_the_kernel_removed_first_does_not_fail_the_teardown(kernel: FakeKernel) -> None:
    hosts = _hosts(10)
    scale_lab._network(hosts)
    kernel.vanishing = {"sdb4"}
    scale_lab.down(hosts)
    assert scale_lab.present().empty


def test_the_teardown_checks_it_found_every_host_it_built(kernel: FakeKernel) -> None:
    hosts = _hosts(3)
    scale_lab._network(hosts)
    kernel.links.remove("sdb1")  # gone before the teardown, by some other hand
    with pytest.raises(scale_lab.LabError) as failed:
        scale_lab.down(hosts)
    assert str(failed.value) == ("the teardown of 3 hosts found no veth sdb1 to remove, though "
                                 "it built them")
    assert scale_lab.present().empty


def test_batch_errors_name_each_failed_line_and_what_ip_said() -> None:
    lines = ["link delete sdb0", "link delete sdb1", "netns delete sdbench-0"]
    stderr = ('Cannot find device "sdb0"\nCommand failed -:1\n'
              "RTNETLINK answers: Device or resource busy\nCommand failed -:2\n")
    assert scale_lab.batch_errors(lines, stderr) == [
        'line 1 `link delete sdb0`: Cannot find device "sdb0"',
        "line 2 `link delete sdb1`: RTNETLINK answers: Device or resource busy"]
    assert scale_lab.batch_errors(lines, "Command failed -:3\n") == [
        "line 3 `netns delete sdbench-0`: failed"]
    assert scale_lab.batch_errors(lines, "Error: an inet address is expected.\n") == [
        "Error: an inet address is expected."]


class Sizes:
    """Records the order of builds, measurements and teardowns; ``fail`` names steps that raise
    (``measure 50``, ``down 10``)."""

    def __init__(self, fail: Sequence[str] = ()) -> None:
        self.events: list[str] = []
        self.fail = set(fail)

    def _step(self, event: str, error: type[Exception] = scale_lab.LabError) -> None:
        self.events.append(event)
        if event in self.fail:
            raise error(f"{event} failed")

    def up(self, count: int) -> list[scale_lab.BenchHost]:
        self._step(f"up {count}")
        return _hosts(count)

    def down(self, built: Sequence[scale_lab.BenchHost] = ()) -> scale_lab.LabObjects:
        self._step(f"down {len(built)}" if built else "down")
        return scale_lab.LabObjects()

    def measure(self, count: int, workers: int,
                tools: tuple[str, ...] = ()) -> dict[str, Any]:
        self._step(f"measure {count}", RuntimeError)
        return {"hosts": count}


@pytest.fixture
def sizes(monkeypatch: pytest.MonkeyPatch) -> Sizes:
    fake = Sizes()
    monkeypatch.setattr(scale_lab, "up", fake.up)
    monkeypatch.setattr(scale_lab, "down", fake.down)
    # the sizes' slate is the fake's: this machine's own scale lab (a benchmark running) is
    # none of these tests' business
    monkeypatch.setattr(scale_lab, "require_empty", lambda when: None)
    monkeypatch.setattr(host_fanout, "measure", fake.measure)
    monkeypatch.setattr(host_fanout, "provenance", dict)
    return fake


def test_each_size_is_built_measured_and_torn_down_before_the_next(sizes: Sizes) -> None:
    results = host_fanout.run([10, 50, 200], workers=32)
    assert sizes.events == ["down", "up 10", "measure 10", "down 10", "up 50", "measure 50",
                            "down 50", "up 200", "measure 200", "down 200"]
    assert list(results["runs"]) == ["10", "50", "200"]


def test_a_failed_teardown_stops_the_run_before_the_next_size(sizes: Sizes) -> None:
    sizes.fail = {"down 10"}
    with pytest.raises(scale_lab.LabError, match="down 10 failed"):
        host_fanout.run([10, 50, 200], workers=32)
    assert sizes.events == ["down", "up 10", "measure 10", "down 10"]


def test_a_size_that_fails_is_still_torn_down(sizes: Sizes) -> None:
    sizes.fail = {"measure 50"}
    with pytest.raises(RuntimeError, match="measure 50 failed") as failed:
        host_fanout.run([10, 50, 200], workers=32)
    assert sizes.events[-3:] == ["up 50", "measure 50", "down 50"]
    assert not getattr(failed.value, "__notes__", [])


def test_a_build_that_fails_is_torn_down_without_hosts_to_check(sizes: Sizes) -> None:
    sizes.fail = {"up 50"}
    with pytest.raises(scale_lab.LabError, match="up 50 failed"):
        host_fanout.run([10, 50], workers=32)
    assert sizes.events[-2:] == ["up 50", "down"]


def test_the_first_error_wins_and_a_failed_teardown_after_it_is_one_line_more(
        sizes: Sizes, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sizes.fail = {"measure 10", "down 10"}
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert host_fanout.main(["--hosts", "10,50"]) == 1
    assert capsys.readouterr().err == ("host_fanout: measure 10 failed; then the teardown "
                                       "failed: down 10 failed\n")
    assert sizes.events == ["down", "up 10", "measure 10", "down 10"]


def test_teardown_deletes_every_veth_and_nothing_of_the_main_lab() -> None:
    links = scale_lab.veths(LISTING)
    assert links == ["sdb0", "sdb17"]
    lines = scale_lab.teardown_commands(["sdbench-0", "sdbench-17", "sdlab-compute1"],
                                        [*links, "sdlab0", "sdl-compute1"], bridge=True)
    assert lines == ["link delete sdb0", "link delete sdb17", "netns delete sdbench-0",
                     "netns delete sdbench-17", "link delete sdbench0"]


def test_a_tool_left_out_is_said_not_run_in_both_tables() -> None:
    row = {"stackdrill": {"cold": 2.0, "warm": 1.0},
           "ansible_forks50": {"cold": 20.0, "warm": 30.0}}
    results = {"runs": {"1000": row}}
    warm = host_fanout.kind_table(results, "warm")
    assert warm[2] == ("| 1000 | 1.00 s | not run | 30.0 s | not run | - | 30x | - |")
    assert host_fanout.kind_table(results, "cold")[2].startswith("| 1000 | 2.00 s | not run ")


def test_the_arp_table_gets_room_for_the_hosts_and_its_limits_come_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At the kernel's defaults a client of 1,000 hosts on one segment overflows its ARP table
    (the cold snapshot stalled after 513 connections); limits already higher are kept."""
    for name, value in (("gc_thresh1", 128), ("gc_thresh2", 512), ("gc_thresh3", 9000)):
        (tmp_path / name).write_text(f"{value}\n")
    monkeypatch.setattr(scale_lab, "NEIGHBOUR", tmp_path)
    with scale_lab.neighbour_room(1000):
        assert [(tmp_path / f"gc_thresh{i}").read_text() for i in (1, 2, 3)] == \
            ["2000", "4000", "9000"]
    assert [(tmp_path / f"gc_thresh{i}").read_text() for i in (1, 2, 3)] == \
        ["128", "512", "9000"]
