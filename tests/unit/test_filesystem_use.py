"""The ``filesystem_use`` probe: the paths each role cares about, read with ``df`` in one
fragment (run here by the machine's own shell against its own filesystems), an absent path left
out, the use in percent as ``df`` reckons it, a default tolerance a filled disk goes beyond, and
a nearly full filesystem ruling out a healthy start."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from stackdrill.builtin.probes.filesystem_use import FilesystemUse

from stackdrill.api._probe import ProbeOutput
from stackdrill.core.state import Snapshot, Tolerance, compare
from stackdrill.hostkit.filesystems import parse_df, parse_usages, usage_command
from stackdrill.hosts.target import Target


def _target(*roles: str) -> Target:
    return cast(Target, SimpleNamespace(name="h1", spec=SimpleNamespace(roles=roles)))


def test_each_role_watches_its_paths_and_every_host_its_root() -> None:
    probe = FilesystemUse()
    assert probe.watched(_target("compute")) == [
        "/", "/var/lib/nova/instances", "/var/lib/docker/volumes/nova_compute/_data/instances"]
    assert probe.watched(_target("controller", "database"))[:4] == [
        "/", "/var/lib/mysql", "/var/lib/rabbitmq", "/var/lib/glance/images"]
    assert probe.watched(_target("storage")) == ["/", "/var/lib/cinder"]


def test_the_fragment_reads_existing_paths_with_df_and_names_absent_ones(tmp_path: Path) -> None:
    text = subprocess.run(["sh", "-c", usage_command([str(tmp_path), "/no/such/path"])],
                          capture_output=True, text=True, check=True).stdout
    found = parse_usages(text)
    assert found["/no/such/path"] is None
    usage = found[str(tmp_path)]
    assert usage is not None and usage.size > 0 and 0 <= usage.percent <= 100
    assert Path(usage.mount).is_absolute()


def _observe(text: str) -> dict[str, Any]:
    return FilesystemUse().parse(_target("compute"), ProbeOutput("h1", text, "", 0))


DF = ("== /\n   20000000000  5000000000  15000000000 /\n"
      "== /var/lib/nova/instances\n  10000000000  4000000000  5500000000 "
      "/var/lib/nova/instances\n"
      "== /var/lib/docker/volumes/nova_compute/_data/instances absent\n")


def test_values_are_the_percent_df_shows_and_the_mount() -> None:
    assert _observe(DF) == {"fs://used_percent": 25.0, "fs://mount": "/",
                            "fs:/var/lib/nova/instances/used_percent": 42.1,
                            "fs:/var/lib/nova/instances/mount": "/var/lib/nova/instances"}


def test_a_filled_filesystem_deviates_beyond_the_default_tolerance() -> None:
    before = Snapshot(0.0, {f"host:c1/{k}": v for k, v in _observe(DF).items()})
    tolerance = Tolerance(FilesystemUse.tolerance_rules())
    grown = DF.replace("4000000000  5500000000", "4400000000  5100000000")
    after = Snapshot(1.0, {f"host:c1/{k}": v for k, v in _observe(grown).items()})
    assert compare(before, after, tolerance) == []  # 46.3 %: logs and caches grow
    full = DF.replace("4000000000  5500000000", "9405000000  95000000")
    after = Snapshot(2.0, {f"host:c1/{k}": v for k, v in _observe(full).items()})
    [deviation] = compare(before, after, tolerance)
    assert str(deviation) == ("host:c1/fs:/var/lib/nova/instances/used_percent: 42.1 -> 99.0 "
                              "(host:*/fs:*/used_percent abs 5)")


@pytest.mark.parametrize(("used", "problems"), [
    (94.9, []),
    (95.0, ["fs:/var/lib/mysql is 95 % used (a healthy start needs less than 95 %)"]),
])
def test_a_nearly_full_filesystem_rules_out_a_healthy_start(used: float,
                                                            problems: list[str]) -> None:
    assert FilesystemUse().problems({"fs:/var/lib/mysql/used_percent": used,
                                     "fs:/var/lib/mysql/mount": "/"}) == problems


def test_df_lines_without_numbers_are_not_usage() -> None:
    assert parse_df("Filesystem 1B-blocks Used Available Mounted on\n") is None
