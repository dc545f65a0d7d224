"""The DevStack plugin (devstack/plugin.sh), sourced as stack.sh, unstack.sh and clean.sh source
it, with DevStack's functions and the commands it runs replaced by recorders: which phase does
what, with which arguments, and that it runs no drill unless asked. DevStack itself does not run
here."""

from __future__ import annotations

import getpass
import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "devstack" / "plugin.sh"
SETTINGS = ROOT / "devstack" / "settings"
ENABLED = "key,n-api,n-cpu,mysql,rabbit,q-svc,g-api,placement-api,stackdrill"
USER = getpass.getuser()  # the user the drills log in as: this one, whose files these are

# DevStack's functions the plugin calls, as plain shell (functions-common has the real ones).
DEVSTACK_FUNCTIONS = r"""
define_plugin() { :; }
enable_service() { :; }
echo_summary() { echo "summary: $*"; }
die() { shift; echo "die: $*" >&2; exit 1; }
warn() { echo "warn: $2"; }
iniget() { echo ""; }
is_fedora() { [[ "${FAKE_FEDORA:-no}" == yes ]]; }
is_service_enabled() {
    local service
    for service in "$@"; do
        [[ ",$ENABLED_SERVICES," == *",$service,"* ]] && return 0
    done
    return 1
}
trueorfalse() {
    local value=${!2:-$1}
    case "$value" in
        [Tt]rue|1|yes) echo True ;;
        [Ff]alse|0|no) echo False ;;
        *) echo "$1" ;;
    esac
}
# the commands that would need root or a network, recorded instead
sudo() { "$@"; }
ss() { echo "LISTEN 0 128 0.0.0.0:22 0.0.0.0:*"; }
hostname() { echo np0001; }
getent() { echo "$STACKDRILL_SSH_USER:x:0:0::$FAKE_HOME:/bin/bash"; }
ssh-keygen() {
    local file
    while [[ $# -gt 0 ]]; do [[ "$1" == -f ]] && file=$2; shift; done
    echo private >"$file"
    echo "ssh-ed25519 AAAAC3Nza stackdrill@np0001" >"$file.pub"
}
ssh-keyscan() { echo "|1|hashed ssh-ed25519 AAAAhostkey"; }
"""


@dataclass
class Node:
    """A fake DevStack node: its directories and what ran on it."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data" / "stackdrill"

    @property
    def calls(self) -> Path:
        return self.root / "calls"

    @property
    def home(self) -> Path:
        return self.root / "home"

    def recorded(self) -> list[list[str]]:
        if not self.calls.exists():
            return []
        return [shlex.split(line) for line in self.calls.read_text().splitlines()]

    def source(self, *mode: str, **env: str) -> subprocess.CompletedProcess[str]:
        script = "\n".join([
            "set -o errexit",
            DEVSTACK_FUNCTIONS,
            f"source {shlex.quote(str(SETTINGS))}",
            f"source {shlex.quote(str(PLUGIN))} {' '.join(mode)}",
        ])
        variables = {
            "PATH": os.environ["PATH"], "HOME": str(self.home), "FAKE_HOME": str(self.home),
            "DEST": str(self.root), "DATA_DIR": str(self.root / "data"),
            "STACKDRILL_DIR": str(self.root / "stackdrill"), "ENABLED_SERVICES": ENABLED,
            "HOST_IP": "192.0.2.10", "MYSQL_SERVICE_NAME": "mysql",
            "STACKDRILL_SSH_USER": USER, **env,
        }
        return subprocess.run(["bash", "-c", script], env=variables, capture_output=True,
                              text=True, timeout=60, check=False)


RECORDER = """#!/bin/bash
printf '%q ' "$(pwd)" "${UV_PROJECT_ENVIRONMENT:-}" "$0" "$@" >>"{calls}"
echo >>"{calls}"
"""


@pytest.fixture
def node(tmp_path: Path) -> Node:
    fake = Node(tmp_path)
    fake.home.mkdir()
    for tool in ("stackdrill/scripts/setup", "stackdrill/scripts/fetch-guest-packages",
                 "stackdrill/.venv/bin/stackdrill"):
        path = tmp_path / tool
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(RECORDER.replace("{calls}", str(fake.calls)))
        path.chmod(0o755)
    return fake


def test_the_script_and_its_settings_are_valid_bash() -> None:
    for path in (PLUGIN, SETTINGS):
        result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True,
                                check=False)
        assert result.returncode == 0, result.stderr


def test_install_sets_up_the_harness_only_in_its_own_virtualenv(node: Node) -> None:
    result = node.source("stack", "install")
    assert result.returncode == 0, result.stderr
    setup, fetch = node.recorded()
    assert setup[1] == str(node.root / "stackdrill" / ".venv")
    assert setup[2:] == [str(node.root / "stackdrill" / "scripts" / "setup"), "--client"]
    assert fetch[2:] == [str(node.root / "stackdrill" / "scripts" / "fetch-guest-packages")]


def test_extra_lets_the_drills_in_and_writes_the_inventory_of_this_node(node: Node) -> None:
    for _ in range(2):
        result = node.source("stack", "extra")
        assert result.returncode == 0, result.stderr
    keys = (node.home / ".ssh" / "authorized_keys").read_text().splitlines()
    assert keys == ["ssh-ed25519 AAAAC3Nza stackdrill@np0001"]
    assert (node.data / "known_hosts").read_text().startswith("|1|")
    first, second = node.recorded()
    assert first == second
    assert first[3:] == [
        "inventory", "devstack", "--node", f"np0001,192.0.2.10,{ENABLED}",
        "--unit", "mariadb=mysql", "--cloud", "devstack-admin", "--ssh-user", USER,
        "--ssh-key", str(node.data / "ssh" / "id_ed25519"),
        "--known-hosts", str(node.data / "known_hosts"),
        "--output", str(node.data / "inventory.yaml")]


def test_extra_names_the_units_where_this_devstack_differs(node: Node) -> None:
    result = node.source("stack", "extra", FAKE_FEDORA="yes", NEUTRON_DEPLOY_MOD_WSGI="False",
                         OVN_BUILD_FROM_SOURCE="True", MYSQL_SERVICE_NAME="mariadb")
    assert result.returncode == 0, result.stderr
    [call] = node.recorded()
    units = [call[i + 1] for i, word in enumerate(call) if word == "--unit"]
    assert units == ["mariadb=mariadb", "ssh=sshd", "neutron-api=devstack@q-svc",
                     "ovn-controller=devstack@ovn-controller", "ovn-northd=devstack@ovn-northd",
                     "openvswitch=devstack@ovs-vswitchd", "ovsdb-server=devstack@ovsdb-server"]


def test_test_config_runs_no_drill_unless_asked(node: Node) -> None:
    result = node.source("stack", "test-config")
    assert result.returncode == 0, result.stderr
    assert node.recorded() == []


def test_test_config_runs_the_drills_asked_for_from_the_checkout(node: Node) -> None:
    result = node.source("stack", "test-config", STACKDRILL_RUN_TAGS="devstack",
                         STACKDRILL_BUDGET_SCALE="3")
    assert result.returncode == 0, result.stderr
    [call] = node.recorded()
    assert call[0] == str(node.root / "stackdrill")
    assert call[3:] == [
        "run", "features", "-m", "devstack",
        "--inventory", str(node.data / "inventory.yaml"), "--os-cloud", "devstack-admin",
        "--reports", str(node.data / "reports"), "--history", str(node.data / "history.jsonl"),
        "--journal", str(node.data / "journal.jsonl"), "--budget-scale", "3"]


def test_failing_drills_are_reported_not_fatal_to_stack_sh(node: Node) -> None:
    recorder = node.root / "stackdrill" / ".venv" / "bin" / "stackdrill"
    recorder.write_text("#!/bin/bash\nexit 1\n")
    result = node.source("stack", "test-config", STACKDRILL_RUN_TAGS="devstack")
    assert result.returncode == 0, result.stderr
    assert "warn: stackdrill: the drills marked devstack exited 1" in result.stdout


def test_clean_takes_back_the_login_and_keeps_the_reports(node: Node) -> None:
    assert node.source("stack", "extra").returncode == 0
    keys = node.home / ".ssh" / "authorized_keys"
    keys.write_text("ssh-ed25519 AAAAother someone\n" + keys.read_text())
    (node.data / "history.jsonl").write_text("{}\n")
    (node.data / "inventory.yaml").write_text("written\n")
    result = node.source("clean")
    assert result.returncode == 0, result.stderr
    assert keys.read_text() == "ssh-ed25519 AAAAother someone\n"
    assert not (node.data / "inventory.yaml").exists()
    assert not (node.data / "ssh" / "id_ed25519").exists()
    assert (node.data / "history.jsonl").exists()


def test_unstack_does_nothing(node: Node) -> None:
    result = node.source("unstack")
    assert result.returncode == 0, result.stderr
    assert node.recorded() == []


def test_a_devstack_without_the_stackdrill_service_is_left_alone(node: Node) -> None:
    for mode in (("stack", "install"), ("stack", "extra"), ("clean",)):
        result = node.source(*mode, ENABLED_SERVICES="key,n-cpu")
        assert result.returncode == 0, result.stderr
    assert node.recorded() == []
    assert not (node.home / ".ssh").exists()
