"""The DevStack job's own playbooks (.zuul.yaml, playbooks/devstack-drills/) on the lab under
DevStack's unit names.

Zuul and DevStack cannot run here, so the lab stands in for the stacked nodes: each lab host is
a DevStack node whose ``devstack_services`` are the services it runs, and DevStack's
``orchestrate-devstack`` role is replaced, in this test only, by a role that leaves what stack.sh
would have left (tests/lab/devstack_job/). The job's variables are read from .zuul.yaml; only
the checkout and its virtualenv are this one's. ``ansible-playbook`` then runs run.yaml and
post.yaml as Zuul would, and the test checks that the inventory of every node is written, that
the drills marked ``devstack`` ran and passed, and that every path zuul_copy_output names exists.

It runs when the lab is up with ``stackdrill lab up --units devstack`` and ansible-core is
installed (``uv sync --extra dev --extra bench``); otherwise it is skipped, saying which.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackdrill.lab.lab import Lab
from stackdrill.lab.topology import SINGLE, host_by_name

ROOT = Path(__file__).resolve().parents[2]
STAND_IN = Path(__file__).resolve().parent / "devstack_job"
ANSIBLE = Path(sys.executable).parent / "ansible-playbook"

# What each lab host runs, in DevStack's service names (ENABLED_SERVICES). nova-conductor is
# the lab's one conductor, which the devstack profile calls the super conductor (n-super-cond);
# DevStack's n-cond would add cell1's conductor, which the lab does not run.
NODE_SERVICES = {
    "controller": ["key", "placement-api", "g-api", "n-api", "n-sch", "c-api", "c-sch",
                   "neutron-api", "mysql", "rabbit", "s-proxy"],
    "compute1": ["n-cpu"],
    "compute2": ["n-cpu"],
    "storage1": ["c-vol", "c-bak", "s-account", "s-container", "s-object"],
    "storage2": ["s-account", "s-container", "s-object"],
}


def job_vars() -> dict[str, Any]:
    """The base job's variables from .zuul.yaml."""
    jobs = [item["job"] for item in yaml.safe_load((ROOT / ".zuul.yaml").read_text())
            if "job" in item]
    [base] = [job for job in jobs if job["name"] == "stackdrill-devstack-base"]
    return dict(base["vars"])


def ansible_inventory(lab: Lab) -> dict[str, Any]:
    job = job_vars()["devstack_services"]  # the controller's; the subnodes' have none
    hosts = {}
    for host in SINGLE.hosts:
        own = {name: True for name in NODE_SERVICES[host.name]}
        hosts[host.name] = {
            "ansible_host": host.address,
            "nodepool": {"private_ipv4": host.address},
            "devstack_services": {**job, **own} if host.name == "controller" else own,
        }
    return {"all": {"hosts": hosts, "vars": {
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(lab.paths.ssh_key),
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={lab.paths.known_hosts}",
        "ansible_python_interpreter": "/usr/bin/python3",
        # DevStack's nodes have sudo; the lab's hosts are entered as root, and su needs no
        # password from root
        "ansible_become_method": "su",
    }}}


def extra_vars(lab: Lab) -> dict[str, Any]:
    wanted = job_vars()
    clouds = yaml.safe_load((lab.paths.root / "clouds.yaml").read_text())
    [entry] = clouds["clouds"].values()
    return {
        **{key: wanted[key] for key in ("stackdrill_tags", "stackdrill_budget_scale",
                                        "stackdrill_cloud", "stackdrill_data_dir")},
        "stackdrill_dir": str(ROOT),
        "stackdrill_venv": str(Path(sys.executable).parent.parent),
        "stackdrill_test_stubs": str(STAND_IN / "stub-functions.sh"),
        "stackdrill_test_clouds_yaml": yaml.safe_dump(
            {"clouds": {wanted["stackdrill_cloud"]: entry}}),
    }


def playbook(lab: Lab, tmp_path: Path, name: str) -> subprocess.CompletedProcess[str]:
    inventory = tmp_path / "hosts.yaml"
    inventory.write_text(yaml.safe_dump(ansible_inventory(lab)))
    variables = tmp_path / "vars.json"
    variables.write_text(json.dumps(extra_vars(lab)))
    env = {**os.environ, "ANSIBLE_ROLES_PATH": str(STAND_IN / "roles"),
           "ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local")}
    return subprocess.run(
        [str(ANSIBLE), "-i", str(inventory), "-e", f"@{variables}",
         str(ROOT / "playbooks" / "devstack-drills" / name)],
        capture_output=True, text=True, timeout=3600, cwd=tmp_path, env=env, check=False)


def push_checkout(lab: Lab) -> None:
    """The checkout and its virtualenv, at the same path on the controller, as Zuul pushes the
    project to a node before its playbooks run (lab hosts do not see the machine's working
    trees; the virtualenv's scripts name their absolute path)."""
    checkout = ROOT.relative_to("/")
    ssh = (f"ssh -i {lab.paths.ssh_key} -o UserKnownHostsFile={lab.paths.known_hosts} "
           f"-o BatchMode=yes root@{host_by_name('controller').address} tar -C / -xf -")
    pushed = subprocess.run(
        f"tar -C / --exclude={checkout}/.git --exclude='*/__pycache__' --exclude='*_cache' "
        f"--exclude={checkout}/reports -cf - {checkout} | {ssh}", shell=True,
        capture_output=True, text=True, timeout=600, check=False)
    assert pushed.returncode == 0, pushed.stderr


def on_controller(lab: Lab, path: str) -> Path:
    """A path on the controller, seen from the machine the lab runs on."""
    return lab.paths.merged("controller") / path.lstrip("/")


@pytest.fixture
def devstack_lab(lab: Lab) -> Lab:
    if not ANSIBLE.exists():
        pytest.skip("ansible-playbook is not installed beside this Python "
                    "(uv sync --extra dev --extra bench)")
    inventory = yaml.safe_load(lab.ensure_up().read_text())
    if inventory.get("deployment") != "devstack":
        pytest.skip("the lab names its units as packages do: "
                    "stackdrill lab up --units devstack")
    return lab


def test_the_devstack_jobs_playbooks_write_the_inventory_run_the_drills_and_keep_the_reports(
        devstack_lab: Lab, tmp_path: Path) -> None:
    lab = devstack_lab
    data_dir = "/opt/stack/data/stackdrill"  # the job's stackdrill_data_dir, as Ansible renders it
    history = on_controller(lab, f"{data_dir}/history.jsonl")
    for old in (history, on_controller(lab, f"{data_dir}/journal.jsonl")):
        old.unlink(missing_ok=True)
    shutil.rmtree(on_controller(lab, f"{data_dir}/reports"), ignore_errors=True)

    push_checkout(lab)
    ran = playbook(lab, tmp_path, "run.yaml")
    assert ran.returncode == 0, ran.stdout[-6000:] + ran.stderr[-2000:]

    written = yaml.safe_load(on_controller(lab, f"{data_dir}/inventory.yaml").read_text())
    assert written["profile"] == "devstack"
    assert {name: sorted(host["roles"]) for name, host in written["hosts"].items()} == {
        "controller": ["controller"], "compute1": ["compute"], "compute2": ["compute"],
        "storage1": ["storage"], "storage2": ["storage"]}

    records = [json.loads(line) for line in history.read_text().splitlines()]
    assert sorted((r["scenario"], r["result"]) for r in records) == [
        ("RabbitMQ stops on the controller", "passed"),
        ("libvirtd is killed with SIGKILL and its guests survive", "passed")], \
        [r.get("reason") for r in records]

    post = playbook(lab, tmp_path, "post.yaml")
    assert post.returncode == 0, post.stdout[-6000:] + post.stderr[-2000:]
    assert on_controller(lab, f"{data_dir}/reports/drills.html").stat().st_size > 0

    copied = job_vars()["zuul_copy_output"]
    rendered = {source.replace("{{ stackdrill_data_dir }}", data_dir) for source in copied}
    assert all("{{" not in source for source in rendered), rendered
    missing = [source for source in rendered if not on_controller(lab, source).exists()]
    assert missing == [], missing
