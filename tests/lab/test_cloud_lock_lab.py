"""Two drill hosts at once, sharing nothing local: separate state directories and journals,
the same lab inventory, whose drill lock is ``GET_LOCK`` in the lab's MariaDB and whose journal
is mirrored on the controller.

* While the first run holds the lock (memcached stopped on the controller, the run waiting),
  the second is refused in one line naming the first (pid, host, since when), exit 2, and
  touches nothing.
* The first is SIGKILLed: MariaDB releases its lock when the killed run's connection closes,
  and the second gets it; its drill is then refused because the first left memcached stopped.
* ``stackdrill recover --pending`` from the second's state directory reads the mirror on the
  controller, starts memcached again and marks the entry done in its own journal and in the
  mirror (the first's journal, read with the mirror, has nothing pending either).

Both processes are children of this test: run it from a pytest session that holds no drill
lock of the lab itself (a run started by the holder is covered by the holder's lock).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from stackdrill.core.waiting import poll_until
from stackdrill.engine.journal import Journal
from stackdrill.engine.journal_mirror import SshMirror
from stackdrill.engine.tooz_lock import KEEPALIVE_SECONDS, LOST_HOLDER_SECONDS
from stackdrill.hostkit.units import unit_statuses
from stackdrill.hosts.target import Target, Targets
from stackdrill.inventory.loader import load_inventory
from stackdrill.lab.lab import Lab
from tests.feature_dirs import write_feature_dir
from tests.lab.test_bad_input import assert_one_line_error
from tests.lab.test_safety_lab import HOLDING_STEPS

# Part of the long tier, not of CI: scripts/test -m long tests/lab runs it (README).
pytestmark = pytest.mark.long

ROOT = Path(__file__).resolve().parents[2]
MIRROR = "/var/lib/stackdrill/journal/stackdrill-lab/journal.jsonl"
HOLDER = "/var/lib/stackdrill/locks/stackdrill-lab.holder"

STOPPED_AND_HOLDING = """\
@drill
Feature: memcached stopped while the run holds the cloud
  Scenario: memcached stays stopped until released
    Given a controller host
    And the cloud is in its verified state
    When the fault "stop_service" is injected on the controller host:
      | service | memcached |
    Then the fault is confirmed within 60 seconds
    And the run holds until {release} exists
"""

SECOND = """\
@drill
Feature: a second drill host
  Scenario: dbus is killed on a compute host
    Given a compute host
    And the cloud is in its verified state
    When the fault "kill_service" is injected on the compute host:
      | service | dbus |
    Then the fault is confirmed within 30 seconds
"""


def run_args(features: Path, inventory: Path, directory: Path) -> list[str]:
    return ["run", str(features), "--inventory", str(inventory), "--journal",
            str(directory / "journal.jsonl"), "--reports", str(directory / "reports"),
            "--history", str(directory / "history.jsonl"),
            "--", "-c", "/dev/null", "--rootdir", str(features), "-q", "-p", "no:cacheprovider"]


def env_of(directory: Path) -> dict[str, str]:
    """A drill host of its own: its state directory (local lock, journal, history) apart."""
    return {**os.environ, "XDG_STATE_HOME": str(directory / "state")}


def stackdrill(directory: Path, *args: str, timeout: float = 600
               ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stackdrill.cli", *args], cwd=ROOT,
                          env=env_of(directory), capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture
def controller(lab: Lab) -> Iterator[Target]:
    targets = Targets(load_inventory(lab.ensure_up()))
    yield targets.get("controller")
    targets.close()


def memcached_active(controller: Target) -> bool:
    return unit_statuses(controller, ["memcached"])["memcached"].active == "active"


def test_a_second_drill_host_is_refused_then_takes_over_and_undoes_the_first_ones_fault(
        lab: Lab, controller: Target, tmp_path: Path) -> None:
    inventory = lab.paths.inventory
    coordination = yaml.safe_load(inventory.read_text())["coordination"]
    assert (coordination["lock"], coordination["journal"]) == ("mysql", "ssh")
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    release = tmp_path / "release"
    holding = write_feature_dir(tmp_path / "holding", "holding",
                                STOPPED_AND_HOLDING.format(release=release), HOLDING_STEPS)
    second_features = write_feature_dir(tmp_path / "second-features", "second", SECOND)
    assert memcached_active(controller)
    first = subprocess.Popen([sys.executable, "-m", "stackdrill.cli",
                              *run_args(holding, inventory, first_dir)],
                             cwd=ROOT, env=env_of(first_dir), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        poll_until(lambda: Path(f"{release}.holding").exists() or first.poll() is not None,
                   timeout=600, interval=0.5,
                   description="the first run holds, memcached stopped")
        assert first.poll() is None, first.communicate(timeout=60)[0]
        assert not memcached_active(controller)
        assert f'"pid": {first.pid}' in controller.run(f"cat {HOLDER}", record=False).stdout

        refused = stackdrill(second_dir, *run_args(second_features, inventory, second_dir))
        assert_one_line_error(
            refused, f"cloud stackdrill-lab is being drilled by pid {first.pid} on host "
                     f"{socket.gethostname()} since ",
            "lock: MySQL GET_LOCK('stackdrill:stackdrill-lab') on the database of "
            "controller:/etc/nova/nova.conf")
        assert not (second_dir / "journal.jsonl").exists()
        assert first.poll() is None

        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=60)
        left = stackdrill(second_dir, *run_args(second_features, inventory, second_dir))
        # the lock is the second's now (MariaDB released the killed run's GET_LOCK), and what
        # the first left is found from the second's side: in the mirror on the controller
        assert_one_line_error(left, "1 entry left pending on this cloud by a run that is gone",
                              f"fault stop_service on controller, pid {first.pid}",
                              "stackdrill recover --pending")
        assert not memcached_active(controller)

        recovered = stackdrill(second_dir, "recover", "--pending", "--inventory",
                               str(inventory), "--journal", str(second_dir / "journal.jsonl"))
        output = recovered.stdout + recovered.stderr
        assert recovered.returncode == 0, output
        assert f"restored stop_service on controller (armed by pid {first.pid}" in output
        poll_until(lambda: memcached_active(controller), timeout=60, interval=1,
                   description="memcached active again")
        mirror = SshMirror(controller, MIRROR)
        assert Journal(second_dir / "journal.jsonl", mirror=mirror).pending() == []
        assert Journal(second_dir / "journal.jsonl").pending() == []  # done here
        assert Journal(tmp_path / "elsewhere.jsonl", mirror=mirror).pending() == []  # and there
        assert Journal(first_dir / "journal.jsonl", mirror=mirror).pending() == []
    finally:
        release.touch()
        if first.poll() is None:
            first.kill()
            first.communicate(timeout=60)
        controller.run("systemctl start memcached", record=False)


@dataclass
class Holder:
    """A first run holding the lab's lock with nothing injected, until ``release`` exists; a
    second run of the same feature (``second``) takes the lock and, the release file being
    there, ends at once."""

    process: subprocess.Popen[str]
    release: Path
    run: Callable[[], subprocess.CompletedProcess[str]]


@pytest.fixture
def holder(lab: Lab, tmp_path: Path) -> Iterator[Holder]:
    inventory = lab.ensure_up()
    release = tmp_path / "release"
    holding = write_feature_dir(tmp_path / "holding", "holding", HOLDING_ONLY.format(
        release=release), HOLDING_STEPS)
    first = subprocess.Popen([sys.executable, "-m", "stackdrill.cli",
                              *run_args(holding, inventory, tmp_path / "first")],
                             cwd=ROOT, env=env_of(tmp_path / "first"), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        poll_until(Path(f"{release}.holding").exists, timeout=120, interval=0.2,
                   description="the first run holds the lock")
        yield Holder(first, release, lambda: stackdrill(tmp_path / "second", *run_args(
            holding, inventory, tmp_path / "second"), timeout=120))
    finally:
        release.touch()
        if first.poll() is None:
            os.kill(first.pid, signal.SIGCONT)
            first.kill()
            first.communicate(timeout=60)


def test_the_lock_is_released_when_its_holder_is_killed_with_nothing_left_behind(
        holder: Holder) -> None:
    """A run killed before any fault: its lock goes with its MariaDB connection, at once."""
    os.kill(holder.process.pid, signal.SIGKILL)
    holder.process.communicate(timeout=60)
    holder.release.touch()  # the second run holds no longer than it takes to get there
    second = holder.run()
    assert second.returncode == 0, second.stdout + second.stderr


LOCK_USER = ("mysql -N -e \"SELECT IFNULL(IS_USED_LOCK('stackdrill:stackdrill-lab'), "
             "'free')\"")


def test_a_silent_holder_loses_the_lock_within_the_bound(controller: Target,
                                                         holder: Holder) -> None:
    """A live holder keeps its lock past ``LOST_HOLDER_SECONDS`` (its keepalive pings the
    session); a run that falls silent without closing its connection (SIGSTOP here; a drill
    host lost or cut off does the same) loses it once that many seconds pass without a ping,
    not after MariaDB's 8-hour default ``wait_timeout``."""
    session = controller.run(LOCK_USER, record=False).stdout.strip()
    assert session.isdigit(), session
    held_since = time.monotonic()

    def held_past_the_bound() -> bool:
        now = controller.run(LOCK_USER, record=False).stdout.strip()
        assert now == session, f"the live holder's session {session} lost it: {now}"
        return time.monotonic() - held_since > LOST_HOLDER_SECONDS + KEEPALIVE_SECONDS

    poll_until(held_past_the_bound, timeout=LOST_HOLDER_SECONDS + 60, interval=5,
               max_interval=5, description="the live holder keeping its lock")
    os.kill(holder.process.pid, signal.SIGSTOP)
    stopped = time.monotonic()
    holder.release.touch()
    refused = holder.run()
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"being drilled by pid {holder.process.pid}" in refused.stderr
    poll_until(lambda: holder.run().returncode == 0, timeout=LOST_HOLDER_SECONDS + 60,
               interval=5, description="the silent holder's lock freed by MariaDB")
    assert time.monotonic() - stopped >= LOST_HOLDER_SECONDS - 5


HOLDING_ONLY = """\
@drill
Feature: a drill that holds the cloud
  Scenario: held until released
    Given a compute host
    And the run holds until {release} exists
"""
