"""The benchmarks' scale lab is torn down completely between sizes: ``down`` deletes each veth
itself instead of leaving it to the kernel's deferred clean-up of a deleted namespace, so that
the next ``up`` can add ``sdb0`` again at once (``benchmarks/run --hosts 10,50,200``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

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

    def batch(self, lines: list[str], netns: str | None = None) -> None:
        if netns is not None:
            assert netns in self.namespaces
            return
        for number, line in enumerate(lines, 1):
            if self._line(line):
                raise scale_lab.LabError(f"ip -batch failed: ['Command failed -:{number}']")

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
    return fake


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


def test_teardown_deletes_every_veth_and_nothing_of_the_main_lab() -> None:
    links = scale_lab.veths(LISTING)
    assert links == ["sdb0", "sdb17"]
    lines = scale_lab.teardown_commands(["sdbench-0", "sdbench-17", "sdlab-compute1"],
                                        [*links, "sdlab0", "sdl-compute1"], bridge=True)
    assert lines == ["link delete sdb0", "link delete sdb17", "netns delete sdbench-0",
                     "netns delete sdbench-17", "link delete sdbench0"]
